"""Paging and streaming benchmark: every co-travel pair of bench.cotravel's run, fetched by one
client page by page through ``coTravelPage`` and streamed by ``POST /export`` (NDJSON and
Parquet), from a ``fusion serve`` process (its own managed Neo4j, ports 37807/37594).

The sightings are bench.cotravel's synthetic ones (10M at ``--scale 1``), written into the
service's event store as one complete load (the event store's own writer; the graph holds no
sightings: co-travel reads only the event store). The walk's first page computes the whole list
once (timed on its own); the pages after it are slices of that held answer. Self-checks: the walk
returns each pair once, in the service's order, and exactly the pairs (every value, the
significance figures too) :func:`algorithms.cotravel.co_travel_pairs` finds in this process;
both exports equal the walk. Walked and exported rows are kept as frames, not Python tuples,
so the 10M run's checks cost about the rows' columnar size. The service's resident memory is
sampled every 50 ms during the walk and while it streams. Usage::

    python -m bench --only paging [--scale 10]       # 10M sightings at the reference scale
    python -m bench.paging [--sightings 1000000] [--profile DIR]   # JSON; py-spy's collapsed
                                                                   # stacks of the service

Ports: 37807/37594, or ``FUSION_BENCH_PAGING_PORTS=BOLT,HTTP``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import polars as pl

from bench._service import serve_command, serving
from bench.cotravel import synthesize_sightings

BOLT, HTTP = (int(x) for x in os.environ.get("FUSION_BENCH_PAGING_PORTS",
                                                "37807,37594").split(","))
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
ITEMS = ("items { a { kind key } b { kind key } meetings distinctSensors firstAt lastAt "
         "significance expectedMeetings distinctDays leader { kind key } medianLeadSeconds "
         "aReads bReads }")
ITEM_PAGES = 20  # pages walked selecting `items` too (a GraphQL field per value)
KINDS = {"plate": "VEHICLE", "phone": "PHONE"}
# coTravelPage's rows, column by column (times as the API's text).
ROW_SCHEMA = pl.Schema({
    "aKind": pl.String, "aKey": pl.String, "bKind": pl.String, "bKey": pl.String,
    "meetings": pl.Int64, "distinctSensors": pl.Int64, "firstAt": pl.String,
    "lastAt": pl.String, "significance": pl.Float64, "expectedMeetings": pl.Float64,
    "distinctDays": pl.Int64, "leader": pl.String, "medianLeadSeconds": pl.Float64,
    "aReads": pl.Int64, "bReads": pl.Int64})
_REF = pl.Struct({"kind": pl.String, "key": pl.String})
# An exported pair, as coTravel's items show it.
ITEM_SCHEMA = pl.Schema({
    "a": _REF, "b": _REF, "meetings": pl.Int64, "distinctSensors": pl.Int64,
    "firstAt": pl.String, "lastAt": pl.String, "significance": pl.Float64,
    "expectedMeetings": pl.Float64, "distinctDays": pl.Int64, "leader": _REF,
    "medianLeadSeconds": pl.Float64, "aReads": pl.Int64, "bReads": pl.Int64})
SPOT = 1000  # rows compared value by value in Python (times as Python writes them)


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


def oracle(frame: pl.DataFrame) -> pl.DataFrame:
    """The pairs as this process finds them, in report order, as the walk's columns (times
    as datetimes: see :func:`typed`)."""
    from algorithms.cotravel import co_travel_pairs

    pairs = co_travel_pairs(frame.lazy(), WINDOW, MIN_MEETINGS, MIN_SENSORS)
    lead = pl.col("lead_s")
    return pairs.select(
        pl.col("a_type").replace_strict(KINDS).alias("aKind"), pl.col("a").alias("aKey"),
        pl.col("b_type").replace_strict(KINDS).alias("bKind"), pl.col("b").alias("bKey"),
        "meetings", pl.col("distinct_sensors").alias("distinctSensors"),
        pl.col("first_at").alias("firstAt"), pl.col("last_at").alias("lastAt"),
        "significance", pl.col("expected_meetings").alias("expectedMeetings"),
        pl.col("distinct_days").alias("distinctDays"),
        pl.when(lead > 0).then(pl.lit("a")).when(lead < 0).then(pl.lit("b")).alias("leader"),
        lead.alias("medianLeadSeconds"), pl.col("a_reads").alias("aReads"),
        pl.col("b_reads").alias("bReads"))


def typed(rows: pl.DataFrame) -> pl.DataFrame:
    """Walked or exported rows with their ISO 8601 times parsed (compared with the oracle's
    datetimes: the text is checked against Python's isoformat by :func:`spot_check`)."""
    if rows.schema["firstAt"] != pl.String:
        return rows
    return rows.with_columns(pl.col("firstAt", "lastAt").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us"))


def spot_check(walked: pl.DataFrame, expected: pl.DataFrame) -> bool:
    """The first SPOT walked rows equal the oracle's written by Python, value by value."""
    def row(r: tuple) -> tuple:
        return (*r[:6], r[6].isoformat(), r[7].isoformat(), *r[8:])

    return walked.head(SPOT).rows() == [row(r) for r in expected.head(SPOT).iter_rows()]


def _array(item: dict) -> list:
    """An item (a dict as coTravel shows it) as a row of coTravelPage's ``rows``."""
    leader = item["leader"]
    side = None if leader is None else "a" if leader == item["a"] else "b"
    return [item["a"]["kind"], item["a"]["key"], item["b"]["kind"], item["b"]["key"],
            item["meetings"], item["distinctSensors"], item["firstAt"], item["lastAt"],
            item["significance"], item["expectedMeetings"], item["distinctDays"], side,
            item["medianLeadSeconds"], item["aReads"], item["bReads"]]


def _frame(rows: list[list]) -> pl.DataFrame:
    """A page's rows as a frame, built column by column (a third of the row-wise cost)."""
    if not rows:
        return ROW_SCHEMA.to_frame()
    columns = map(list, zip(*rows, strict=True))
    return pl.DataFrame(dict(zip(ROW_SCHEMA.names(), columns, strict=True)),
                        schema=ROW_SCHEMA, strict=False)


def _page(http: httpx.Client, url: str, headers: dict, selection: str, after: str | None
          ) -> dict:
    response = http.post(f"{url}/graphql", headers=headers, json={
        "query": QUERY % selection, "variables": {"first": PAGE, "after": after}})
    body = orjson.loads(response.content)  # a fast client's parser (json: ~2x the CPU)
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"page after {after!r} failed: {str(body)[:500]}")
    return body["data"]["coTravelPage"]


def walk(http: httpx.Client, url: str, headers: dict) -> dict[str, Any]:
    """Every page of coTravelPage (its compact ``rows``, kept column-wise: one frame a page);
    timings, client CPU, the pairs."""
    parts: list[pl.DataFrame] = []
    after, pages, snapshots = None, 0, set()
    cpu0, t0 = time.process_time(), time.perf_counter()
    first_page_s = None
    while True:
        got = _page(http, url, headers, ROWS, after)
        parts.append(_frame(got["rows"]))
        snapshots.add(got["snapshot"])
        pages += 1
        if first_page_s is None:
            first_page_s, t1 = time.perf_counter() - t0, time.perf_counter()
        if not got["hasNextPage"]:
            break
        after = got["nextCursor"]
    rest_s = time.perf_counter() - t1
    return {"pairs": pl.concat(parts, rechunk=True), "pages": pages,
            "snapshots": len(snapshots), "first_page_s": round(first_page_s, 2),
            "rest_s": round(rest_s, 2), "client_cpu_s": round(time.process_time() - cpu0, 2),
            "total_count": got["totalCount"]}


def walk_items(http: httpx.Client, url: str, headers: dict, pairs: pl.DataFrame
               ) -> dict[str, Any]:
    """The first ITEM_PAGES pages again selecting ``items`` and ``rows``: pairs/s, and each
    page's items equal to its rows and to the walk's pairs."""
    after, got_pairs, t0, pages = None, [], time.perf_counter(), 0
    while pages < ITEM_PAGES:
        got = _page(http, url, headers, f"{ITEMS} {ROWS}", after)
        items = [_array(i) for i in got["items"]]
        if items != got["rows"]:
            raise AssertionError("a page's items differ from its rows")
        got_pairs += items
        pages += 1
        if not got["hasNextPage"]:
            break
        after = got["nextCursor"]
    seconds = time.perf_counter() - t0
    return {"pages": pages, "pairs_per_s": round(len(got_pairs) / seconds),
            "equal_to_walk": _frame(got_pairs).equals(pairs.head(len(got_pairs)))}


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


def _export_body(fmt: str) -> dict:
    return {"list": "coTravel", "format": fmt,
            "variables": {"windowSeconds": WINDOW, "minMeetings": MIN_MEETINGS,
                          "minDistinctSensors": MIN_SENSORS}}


def stream(http: httpx.Client, url: str, headers: dict, fmt: str, out: Path, pid: int
           ) -> dict[str, Any]:
    """POST /export to a file with curl (a client in C, so the client's parsing takes little
    of the 2 cores; httpx when there is no curl): rows/s, bytes, the client's CPU seconds,
    the service's peak RSS while streaming; then once more with httpx (rows/s only)."""
    curl = shutil.which("curl")
    with RssSampler(pid) as rss:
        before = rss.rss_mb()
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        rows = (_curl(curl, url, headers, fmt, out) if curl
                else _httpx(http, url, headers, fmt, out))
        seconds = time.perf_counter() - t0
        client_cpu = _children_cpu() - cpu0 if curl else None
    t1 = time.perf_counter()
    _httpx(http, url, headers, fmt, out.with_suffix(".httpx"))
    httpx_s = time.perf_counter() - t1
    out.with_suffix(".httpx").unlink()
    return {"client": "curl" if curl else "httpx", "rows": rows, "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds), "bytes": out.stat().st_size,
            "client_cpu_s": None if client_cpu is None else round(client_cpu, 2),
            "httpx_rows_per_s": round(rows / httpx_s),
            "service_rss_before_mb": round(before), "service_peak_rss_mb": round(rss.peak_mb)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _curl(curl: str, url: str, headers: dict, fmt: str, out: Path) -> int:
    """The export through curl into ``out``; its row count (the X-Fusion-Total-Count)."""
    head = out.with_suffix(".headers")
    args = [curl, "-sS", "-X", "POST", f"{url}/export", "-o", str(out), "-D", str(head),
            "-H", "Content-Type: application/json", "--data-binary", json.dumps(_export_body(fmt)),
            "-w", "%{http_code}"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1800, check=True)
    if done.stdout.strip() != "200":
        raise RuntimeError(f"export failed ({done.stdout}): {out.read_bytes()[:500]!r}")
    lines = head.read_text().lower().splitlines()
    return int(next(line.split(":", 1)[1] for line in lines
                    if line.startswith("x-fusion-total-count:")))


def _httpx(http: httpx.Client, url: str, headers: dict, fmt: str, out: Path) -> int:
    """The export through httpx into ``out``; its row count."""
    with out.open("wb") as sink, http.stream("POST", f"{url}/export", json=_export_body(fmt),
                                             headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"export failed: {response.read()[:500]!r}")
        for chunk in response.iter_bytes():
            sink.write(chunk)
        return int(response.headers["x-fusion-total-count"])


def read_export(path: Path, fmt: str) -> pl.DataFrame:
    """An export's rows as the walk's columns (times parsed)."""
    frame = (pl.read_ndjson(path, schema=ITEM_SCHEMA) if fmt == "ndjson"
             else pl.read_parquet(path))
    leader = pl.col("leader")
    side = (pl.when(leader.is_null()).then(None).when(leader == pl.col("a")).then(pl.lit("a"))
            .otherwise(pl.lit("b")))
    return typed(frame.select(
        pl.col("a").struct.field("kind").alias("aKind"),
        pl.col("a").struct.field("key").alias("aKey"),
        pl.col("b").struct.field("kind").alias("bKind"),
        pl.col("b").struct.field("key").alias("bKey"), "meetings", "distinctSensors",
        "firstAt", "lastAt", "significance", "expectedMeetings", "distinctDays",
        side.alias("leader"), "medianLeadSeconds", "aReads", "bReads"))


def ndjson_spot_check(path: Path, walked: pl.DataFrame) -> bool:
    """The export's first SPOT lines, read by the json module, equal the walk's rows."""
    with path.open("rb") as fh:
        lines = [fh.readline() for _ in range(SPOT)]
    return [_array(json.loads(line)) for line in lines if line] == [
        list(r) for r in walked.head(SPOT).iter_rows()]


def _env(home: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FUSION_NEO4J_URI"}
    env.update(FUSION_HOME=str(home), FUSION_DB_BOLT_PORT=str(BOLT),
               FUSION_DB_HTTP_PORT=str(HTTP), FUSION_SECRET=secret, FUSION_DB_HEAP="1g",
               FUSION_DB_PAGECACHE="512m", FUSION_QUERY_TIMEOUT="600")
    return env


class Profiled:
    """py-spy sampling process ``pid`` while the ``with`` block runs, its collapsed stacks
    written to ``out`` (nothing when ``out`` is None)."""

    def __init__(self, pid: int, out: Path | None) -> None:
        self.pid, self.out, self.proc = pid, out, None

    def __enter__(self) -> Profiled:
        if self.out is not None:
            spy = Path(sys.executable).with_name("py-spy")
            self.proc = subprocess.Popen(
                [str(spy), "record", "--pid", str(self.pid), "--rate", "200", "--nonblocking",
                 "--format", "raw", "--output", str(self.out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # py-spy attaches
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=120)


def measure(n_sightings: int, profile: Path | None = None) -> dict[str, Any]:
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
            return _serve(home, secret, Path(tmp), expected, issue_token, profile)
        finally:
            neo4j.stop()


def _serve(home: Path, secret: str, tmp: Path, expected: pl.DataFrame, issue_token: Any,
           profile: Path | None = None) -> dict[str, Any]:
    command = partial(serve_command, workers=1)
    with serving(command, _env(home, secret), tmp / "serve.log", READY_TIMEOUT) as (url, pid):
        token = issue_token(secret.encode(), "bench-paging", "service", [REGION],
                            timedelta(hours=2))
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": "bench paging"}
        with httpx.Client(timeout=900) as http:
            with (RssSampler(pid) as rss,
                  Profiled(pid, profile and profile / "walk.txt")):
                walked = walk(http, url, headers)
            walked["service_peak_rss_mb_walk"] = round(rss.peak_mb)
            items = walk_items(http, url, headers, walked["pairs"])
            exports = {}
            for fmt in ("ndjson", "parquet"):
                with Profiled(pid, profile and profile / f"export-{fmt}.txt"):
                    exports[fmt] = stream(http, url, headers, fmt, tmp / f"export.{fmt}", pid)
    pairs = walked.pop("pairs")
    checks = {f"{fmt}_equals_walk": read_export(tmp / f"export.{fmt}", fmt).equals(typed(pairs))
              for fmt in exports}
    rest = len(pairs) - min(PAGE, len(pairs))
    return {
        "pairs": len(pairs), **walked, "items_walk": items,
        "pairs_per_s_after_first_page": round(rest / walked["rest_s"]) if rest else None,
        "pairs_per_s_whole_walk": round(len(pairs) / (walked["first_page_s"]
                                                       + walked["rest_s"])),
        "walk_equals_oracle_in_order": typed(pairs).equals(expected)
        and spot_check(pairs, expected),
        "each_pair_once": not pairs.select("aKind", "aKey", "bKind", "bKey").is_duplicated()
        .any(),
        **checks, "ndjson_spot_check": ndjson_spot_check(tmp / "export.ndjson", pairs),
        "exports": exports, "bench_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_avg": [round(x, 1) for x in os.getloadavg()],
    }


def run(scale: float = 1.0) -> str:
    """The benchmark at ``scale`` times 10M sightings, as a Markdown section."""
    n = int(10_000_000 * scale)
    return report(measure(n), n)


def report(r: dict[str, Any], n: int) -> str:
    """The figures of :func:`measure` over ``n`` sightings as a Markdown section; raises
    AssertionError (with the section) when a self-check failed."""
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
        (f"**NDJSON export rows/s** (target >= 200k; client {nd['client']}, "
         f"{nd['client_cpu_s']} CPU s)", f"{nd['rows_per_s']:,}"),
        ("NDJSON export rows/s to a Python client (httpx, second pass)",
         f"{nd['httpx_rows_per_s']:,}"),
        ("NDJSON MB", round(nd["bytes"] / 2**20, 1)),
        (f"Parquet export rows/s (client {pq['client']}, {pq['client_cpu_s']} CPU s; "
         f"httpx, second pass, {pq['httpx_rows_per_s']:,})", f"{pq['rows_per_s']:,}"),
        ("Parquet MB", round(pq["bytes"] / 2**20, 1)),
        ("service peak RSS MB during the walk (the first page computes the list)",
         f"{r['service_peak_rss_mb_walk']:,}"),
        ("**service RSS MB before / peak while streaming NDJSON**",
         f"{nd['service_rss_before_mb']:,} / {nd['service_peak_rss_mb']:,}"),
        ("service RSS MB before / peak while streaming Parquet",
         f"{pq['service_rss_before_mb']:,} / {pq['service_peak_rss_mb']:,}"),
        ("walk equals this process's co_travel_pairs, in order; each pair once",
         f"{r['walk_equals_oracle_in_order']}; {r['each_pair_once']}"),
        ("NDJSON / Parquet equal the walk (NDJSON's first lines read by json too)",
         f"{r['ndjson_equals_walk']} / {r['parquet_equals_walk']} "
         f"({r['ndjson_spot_check']})"),
        ("benchmark process peak RSS MB (sightings, oracle, walked and exported rows)",
         f"{r['bench_peak_rss_mb']:,}"),
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
          and r["parquet_equals_walk"] and r["ndjson_spot_check"] and r["snapshots"] == 1
          and r["items_walk"]["equal_to_walk"])
    if not ok:
        raise AssertionError("paging benchmark self-check failed:\n" + "\n".join(lines))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=1_000_000)
    parser.add_argument("--profile", type=Path,
                        help="write py-spy's collapsed stacks of the service here")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    figures = measure(args.sightings, args.profile)
    print(json.dumps(figures, indent=2, default=str))
    print(report(figures, args.sightings))


if __name__ == "__main__":
    main()
