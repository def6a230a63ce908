"""Paging and streaming benchmark: every co-travel pair of bench.cotravel's run, fetched by one
client page by page through ``coTravelPage`` and streamed by ``POST /export`` (NDJSON and
Parquet), from a ``fusion serve`` process (its own managed Neo4j, ports 37807/37594).

The sightings are bench.cotravel's synthetic ones (10M at ``--scale 1``), written into the
service's event store as one complete load (the event store's own writer; the graph holds no
sightings: co-travel reads only the event store). The walk's first page computes the whole list
once (timed on its own); the pages after it are slices of that held answer. Self-checks: the walk
returns each pair once, in the service's order, and exactly the pairs
:func:`algorithms.cotravel.co_travel_pairs` finds in this process; both exports equal the walk.
The service's resident memory is sampled every 50 ms while it streams. Usage::

    python -m bench --only paging [--scale 1]        # 10M sightings at the reference scale
    python -m bench.paging [--sightings 1000000]     # JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from bench._service import free_port
from bench.cotravel import synthesize_sightings

BOLT, HTTP = 37807, 37594
READY_TIMEOUT = 600.0
REGION = "R1"
LOAD_ID = "bench-paging"
PAGE = 1000
WINDOW, MIN_MEETINGS, MIN_SENSORS = 120, 3, 3
QUERY = """query Walk($first: Int!, $after: String) {
  coTravelPage(windowSeconds: 120, minMeetings: 3, minDistinctSensors: 3, first: $first,
               after: $after) {
    %s
    nextCursor hasNextPage totalCount snapshot
  }
}"""
ROWS = "rows"
ITEMS = "items { a { kind key } b { kind key } meetings distinctSensors firstAt lastAt }"
ITEM_PAGES = 20  # pages walked selecting `items` too (a GraphQL field per value)
KINDS = {"plate": "VEHICLE", "phone": "PHONE"}


def write_store(home: Path, frame: pl.DataFrame, part_rows: int = 1_000_000) -> None:
    """``frame`` (bench.cotravel's sightings) as one complete load of region R1."""
    from loaders.eventstore import EventStore
    from loaders.sources import source_for

    schema = source_for("sightings").schema()
    store = EventStore(home)
    full = frame.with_row_index("row").select(
        *[pl.col(c) if c in frame.columns or c == "row" else pl.lit(None).alias(c)
          for c in schema if c not in ("region", "load_id", "source")],
        pl.lit(REGION).alias("region"), pl.lit(LOAD_ID).alias("load_id"),
        pl.lit("{}").alias("source"),
    ).cast(schema).select(list(schema))
    for seq, start in enumerate(range(0, full.height, part_rows)):
        store.write("sightings", "parts", LOAD_ID, seq, full.slice(start, part_rows))
    store.commit("sightings", LOAD_ID, {"load_id": LOAD_ID, "kind": "sightings",
                                        "region": REGION, "loaded": full.height})


def oracle(frame: pl.DataFrame) -> list[tuple]:
    """The pairs as this process finds them, in report order, as the walk's tuples."""
    from algorithms.cotravel import co_travel_pairs

    pairs = co_travel_pairs(frame.lazy(), WINDOW, MIN_MEETINGS, MIN_SENSORS)
    return [(KINDS[r[0]], r[1], KINDS[r[2]], r[3], r[4], r[5], r[6].isoformat(),
             r[7].isoformat()) for r in pairs.iter_rows()]


def _tuple(item: dict) -> tuple:
    return (item["a"]["kind"], item["a"]["key"], item["b"]["kind"], item["b"]["key"],
            item["meetings"], item["distinctSensors"], item["firstAt"], item["lastAt"])


def _page(http: httpx.Client, url: str, headers: dict, selection: str, after: str | None
          ) -> dict:
    response = http.post(f"{url}/graphql", headers=headers, json={
        "query": QUERY % selection, "variables": {"first": PAGE, "after": after}})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"page after {after!r} failed: {str(body)[:500]}")
    return body["data"]["coTravelPage"]


def walk(http: httpx.Client, url: str, headers: dict) -> dict[str, Any]:
    """Every page of coTravelPage (its compact ``rows``); timings, client CPU, the pairs."""
    pairs: list[tuple] = []
    after, pages, snapshots = None, 0, set()
    cpu0, t0 = time.process_time(), time.perf_counter()
    first_page_s = None
    while True:
        got = _page(http, url, headers, ROWS, after)
        pairs += [tuple(r) for r in got["rows"]]
        snapshots.add(got["snapshot"])
        pages += 1
        if first_page_s is None:
            first_page_s, t1 = time.perf_counter() - t0, time.perf_counter()
        if not got["hasNextPage"]:
            break
        after = got["nextCursor"]
    rest_s = time.perf_counter() - t1
    return {"pairs": pairs, "pages": pages, "snapshots": len(snapshots),
            "first_page_s": round(first_page_s, 2), "rest_s": round(rest_s, 2),
            "client_cpu_s": round(time.process_time() - cpu0, 2),
            "total_count": got["totalCount"]}


def walk_items(http: httpx.Client, url: str, headers: dict, pairs: list[tuple]
               ) -> dict[str, Any]:
    """The first ITEM_PAGES pages again selecting ``items`` and ``rows``: pairs/s, and each
    page's items equal to its rows and to the walk's pairs."""
    after, got_pairs, t0, pages = None, [], time.perf_counter(), 0
    while pages < ITEM_PAGES:
        got = _page(http, url, headers, f"{ITEMS} {ROWS}", after)
        items = [_tuple(i) for i in got["items"]]
        if items != [tuple(r) for r in got["rows"]]:
            raise AssertionError("a page's items differ from its rows")
        got_pairs += items
        pages += 1
        if not got["hasNextPage"]:
            break
        after = got["nextCursor"]
    seconds = time.perf_counter() - t0
    return {"pages": pages, "pairs_per_s": round(len(got_pairs) / seconds),
            "equal_to_walk": got_pairs == pairs[:len(got_pairs)]}


class RssSampler:
    """Peak resident memory (MB) of a process, sampled every 50 ms while running."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.rss_mb())
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self.peak_mb = self.rss_mb()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()


def stream(http: httpx.Client, url: str, headers: dict, fmt: str, out: Path, pid: int
           ) -> dict[str, Any]:
    """POST /export to a file: rows/s, bytes, the service's peak RSS while streaming."""
    body = {"list": "coTravel", "format": fmt,
            "variables": {"windowSeconds": WINDOW, "minMeetings": MIN_MEETINGS,
                          "minDistinctSensors": MIN_SENSORS}}
    with RssSampler(pid) as rss, out.open("wb") as sink:
        before = rss.rss_mb()
        t0 = time.perf_counter()
        with http.stream("POST", f"{url}/export", json=body, headers=headers) as response:
            if response.status_code != 200:
                raise RuntimeError(f"export failed: {response.read()[:500]!r}")
            rows = int(response.headers["x-fusion-total-count"])
            for chunk in response.iter_bytes():
                sink.write(chunk)
        seconds = time.perf_counter() - t0
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "bytes": out.stat().st_size, "service_rss_before_mb": round(before),
            "service_peak_rss_mb": round(rss.peak_mb)}


def read_export(path: Path, fmt: str) -> list[tuple]:
    """An export's rows as the walk's tuples."""
    if fmt == "ndjson":
        with path.open("rb") as fh:
            return [_tuple(json.loads(line)) for line in fh]
    frame = pl.read_parquet(path)
    return [(r["a"]["kind"], r["a"]["key"], r["b"]["kind"], r["b"]["key"], r["meetings"],
             r["distinctSensors"], r["firstAt"].isoformat(), r["lastAt"].isoformat())
            for r in frame.iter_rows(named=True)]


def _env(home: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FUSION_NEO4J_URI"}
    env.update(FUSION_HOME=str(home), FUSION_DB_BOLT_PORT=str(BOLT),
               FUSION_DB_HTTP_PORT=str(HTTP), FUSION_SECRET=secret, FUSION_DB_HEAP="1g",
               FUSION_DB_PAGECACHE="512m", FUSION_QUERY_TIMEOUT="600")
    return env


def _ready(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"fusion serve exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"fusion serve not ready:\n{log.read_text(errors='replace')[-3000:]}")


def measure(n_sightings: int) -> dict[str, Any]:
    """Synthesize, store, serve, walk, stream twice, check; the figures."""
    from fusion.auth import issue_token
    from fusion.config import Settings
    from fusion.managed import ManagedNeo4j

    frame = synthesize_sightings(n_sightings)
    expected = oracle(frame)
    secret = "bench-paging-" + "s" * 40
    with tempfile.TemporaryDirectory(prefix="fusion-bench-paging-") as tmp:
        home = Path(tmp) / "home"
        write_store(home, frame)
        del frame
        settings = Settings(home=home, db_bolt_port=BOLT, db_http_port=HTTP, db_heap="1g",
                            db_pagecache="512m", neo4j_uri=None)
        neo4j = ManagedNeo4j(settings)
        neo4j.start()
        try:
            return _serve(home, secret, Path(tmp), expected, issue_token)
        finally:
            neo4j.stop()


def _serve(home: Path, secret: str, tmp: Path, expected: list[tuple], issue_token: Any
           ) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "serve.log"
    fusion = Path(sys.executable).with_name("fusion")
    with log.open("w") as sink:
        server = subprocess.Popen([str(fusion), "serve", "--host", "127.0.0.1", "--port",
                                   str(port)], env=_env(home, secret), stdout=sink,
                                  stderr=subprocess.STDOUT)
    try:
        _ready(url, server, log)
        token = issue_token(secret.encode(), "bench-paging", "service", [REGION],
                            timedelta(hours=2))
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": "bench paging"}
        with httpx.Client(timeout=900) as http:
            walked = walk(http, url, headers)
            items = walk_items(http, url, headers, walked["pairs"])
            exports = {fmt: stream(http, url, headers, fmt, tmp / f"export.{fmt}", server.pid)
                       for fmt in ("ndjson", "parquet")}
            checks = {f"{fmt}_equals_walk": read_export(tmp / f"export.{fmt}", fmt)
                      == walked["pairs"] for fmt in exports}
    finally:
        server.terminate()
        server.wait(timeout=60)
    pairs = walked.pop("pairs")
    rest = len(pairs) - min(PAGE, len(pairs))
    return {
        "pairs": len(pairs), **walked, "items_walk": items,
        "pairs_per_s_after_first_page": round(rest / walked["rest_s"]) if rest else None,
        "pairs_per_s_whole_walk": round(len(pairs) / (walked["first_page_s"]
                                                       + walked["rest_s"])),
        "walk_equals_oracle_in_order": pairs == expected,
        "each_pair_once": len(set(pairs)) == len(pairs),
        **checks, "exports": exports, "load_avg": [round(x, 1) for x in os.getloadavg()],
    }


def run(scale: float = 1.0) -> str:
    """The benchmark at ``scale`` times 10M sightings, as a Markdown section."""
    n = int(10_000_000 * scale)
    r = measure(n)
    nd, pq = r["exports"]["ndjson"], r["exports"]["parquet"]
    rows = [
        ("sightings / reported pairs", f"{n:,} / {r['pairs']:,}"),
        (f"pages of {PAGE} / snapshots seen", f"{r['pages']:,} / {r['snapshots']}"),
        ("first page s (computes and holds the whole list)", r["first_page_s"]),
        ("**pairs/s, pages after the first** (target >= 50k)",
         f"{r['pairs_per_s_after_first_page'] or 0:,}"),
        ("pairs/s, whole walk", f"{r['pairs_per_s_whole_walk']:,}"),
        ("client CPU s (walk)", r["client_cpu_s"]),
        (f"pairs/s selecting `items` (first {r['items_walk']['pages']} pages; a GraphQL field "
         "per value)", f"{r['items_walk']['pairs_per_s']:,}"),
        ("**NDJSON export rows/s** (target >= 200k)", f"{nd['rows_per_s']:,}"),
        ("NDJSON MB", round(nd["bytes"] / 2**20, 1)),
        ("Parquet export rows/s", f"{pq['rows_per_s']:,}"),
        ("Parquet MB", round(pq["bytes"] / 2**20, 1)),
        ("**service RSS MB before / peak while streaming NDJSON**",
         f"{nd['service_rss_before_mb']:,} / {nd['service_peak_rss_mb']:,}"),
        ("service RSS MB before / peak while streaming Parquet",
         f"{pq['service_rss_before_mb']:,} / {pq['service_peak_rss_mb']:,}"),
        ("walk equals this process's co_travel_pairs, in order; each pair once",
         f"{r['walk_equals_oracle_in_order']}; {r['each_pair_once']}"),
        ("NDJSON / Parquet equal the walk", f"{r['ndjson_equals_walk']} / "
         f"{r['parquet_equals_walk']}"),
        ("load average (1/5/15 min) after", " / ".join(map(str, r["load_avg"]))),
    ]
    lines = ["## Paging and streaming", "",
             "One client walks `coTravelPage(first: 1000) { rows }` over bench.cotravel's "
             "sightings (and its first pages again selecting `items`), then "
             "streams `POST /export` as NDJSON and Parquet to a file; `fusion serve` in its own "
             "process, managed Neo4j on the same 2 cores.", "",
             "| measure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    ok = (r["walk_equals_oracle_in_order"] and r["each_pair_once"] and r["ndjson_equals_walk"]
          and r["parquet_equals_walk"] and r["snapshots"] == 1
          and r["items_walk"]["equal_to_walk"])
    if not ok:
        raise AssertionError("paging benchmark self-check failed:\n" + "\n".join(lines))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=1_000_000)
    args = parser.parse_args()
    report = measure(args.sightings)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
