"""Alerts: load-to-subscriber latency, and evaluation cost against graph size.

``run(scale)`` starts a managed Neo4j in a temporary FUSION_HOME (ports 38061/38062), installs
1,000 watchlist entries (10 watchlists of 100 plates) and 20 standing queries (10 co-travel
rules over watched plates, 10 fraud-parcel rules), and measures:

- **latency**: the service runs (uvicorn, its alert loop polling every 0.5 s) with a WebSocket
  client subscribed to ``alertRaised``; a 1,000-row sightings file naming one watched plate is
  loaded with ``load_files`` (what ``fusion load`` runs); the figure is the time from the end
  of the load to the subscription message at the client. Target: <= 2 s.
- **growth**: with the service stopped, the graph grows to 1x, 4x and 16x a base of
  ``BASE_ROWS * scale`` background sightings; at each size the same-shaped 1,000-row delta is
  loaded and its evaluation (all 1,000 entries and 20 standing queries) timed by calling the
  evaluation service directly, three times (the load's marker removed in between: the same
  work, nothing created twice). The cost should follow the delta, not the graph.

The first latency round (the service's first load: cold query plans and caches) is shown as
the warm-up and not counted.

Self-checking: each latency message must name the watched plate and the load that brought it;
each growth evaluation must raise the watched plate's alert.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BOLT, HTTP = 38061, 38062
BASE_ROWS = 100_000  # background sightings of the 1x graph at scale 1
DELTA_ROWS = 1_000
ENTRIES, LISTS, STANDING = 1_000, 10, 20
LATENCY_ROUNDS = 5
WARMUP_ROUNDS = 1  # the service's first load (cold plans and caches), reported apart
REPEATS = 3  # evaluations of each delta (the marker removed between them), median reported
SENSORS = 200
OWNER = "bench-unit"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
REGION = "330100"


def plate(n: int, prefix: str = "浙A") -> str:
    """A valid plate, distinct per ``n`` (< 100,000)."""
    return f"{prefix}{n:05d}"


def write_rows(path: Path, rows: list[tuple[str, str, datetime]]) -> Path:
    """A sightings CSV of (plate, sensor, time)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("subject_type,subject,sensor_id,seen_at\n")
        fh.writelines(f"plate,{p},{s},{t.isoformat()}\n" for p, s, t in rows)
    return path


def background(path: Path, rows: int, start: datetime, seed: int) -> Path:
    """``rows`` sightings of 20,000 unwatched plates at SENSORS sensors over a day."""
    import numpy as np

    rng = np.random.default_rng(seed)
    plates = rng.integers(0, 20_000, rows)
    sensors = rng.integers(0, SENSORS, rows)
    seconds = rng.integers(0, 86_400, rows)
    return write_rows(path, [(plate(int(p), "沪B"), f"S{int(s):03d}",
                              start + timedelta(seconds=int(t)))
                             for p, s, t in zip(plates, sensors, seconds, strict=True)])


def delta(path: Path, start: datetime, watched: str) -> Path:
    """DELTA_ROWS sightings: one of the watched plate, the rest unwatched plates, near the
    standing queries' subjects (same sensors, within minutes) so the co-travel rules work."""
    rows = [(watched, "S000", start)]
    rows += [(plate(k % 500, "沪B"), f"S{k % SENSORS:03d}", start + timedelta(seconds=7 * k))
             for k in range(1, DELTA_ROWS)]
    return write_rows(path, rows)


def install(call, watched: list[str]) -> None:
    """ENTRIES watchlist entries in LISTS lists and STANDING standing queries."""
    from fusion.services.watchlists import Owner, add_standing_query, add_watchlist

    owner = Owner(OWNER, "bench", (REGION,))
    per = ENTRIES // LISTS
    for n in range(LISTS):
        call(add_watchlist, owner, f"list {n}",
             [("VEHICLE", p) for p in watched[n * per:(n + 1) * per]])
    for n in range(STANDING // 2):
        call(add_standing_query, owner, f"cotravel {n}", "COTRAVEL",
             {"subjects": [["VEHICLE", watched[n]], ["VEHICLE", plate(n, "沪B")]]})
        call(add_standing_query, owner, f"fraud {n}", "FRAUD_PARCELS", {"case_type": "fraud"})


def latency(settings, driver, tmp: Path, watched: list[str]) -> list[float]:
    """Seconds from the end of each load to its subscription message."""
    from websockets.sync.client import connect

    from bench._service import ThreadedService
    from fusion.api.app import create_app
    from fusion.auth import issue_token
    from loaders.ingest import load_files

    figures = []
    with ThreadedService(create_app(settings), start_timeout=120) as server:
        token = issue_token(settings.secret.get_secret_value().encode(), OWNER, "analyst",
                            [REGION], timedelta(hours=1))
        with connect(server.url.replace("http", "ws") + "/graphql",
                     subprotocols=["graphql-transport-ws"],
                     additional_headers={"Authorization": f"Bearer {token}",
                                         "X-Purpose": "bench"}) as ws:
            ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription { alertRaised { subjects loadId } }"}}))
            time.sleep(1)
            for n in range(WARMUP_ROUNDS + LATENCY_ROUNDS):
                target = watched[100 * n + 50]
                path = delta(tmp / f"latency-{n}.csv", T0 + timedelta(days=100 + n), target)
                result = load_files(driver, "neo4j", settings.home, "sightings", [path],
                                    REGION).loads[0]
                done = time.perf_counter()
                figures.append(_await(ws, target, result.load_id) - done)
                print(f"# latency {n}: {figures[-1]:.3f} s", file=sys.stderr, flush=True)
    return figures


def _await(ws, target: str, load_id: str) -> float:
    """The time the message for ``target`` from ``load_id`` arrives (others are skipped)."""
    while True:
        message = json.loads(ws.recv(timeout=30))
        data = message["payload"]["data"]["alertRaised"]
        if data["loadId"] == load_id and f"VEHICLE:{target}" in data["subjects"]:
            return time.perf_counter()


def growth(settings, driver, tmp: Path, watched: list[str], base: int) -> list[tuple]:
    """(factor, graph sightings, evaluation s, alerts) for 1x, 4x, 16x."""
    from fusion.services.alerts import evaluate_pending
    from fusion.services.blocking import blocking_calls
    from loaders.ingest import load_files

    loaded, out = 0, []
    for factor in (1, 4, 16):
        while loaded < factor * base:
            path = background(tmp / f"bg-{loaded}.csv", base, T0 + timedelta(days=loaded // base),
                              seed=loaded)
            load_files(driver, "neo4j", settings.home, "sightings", [path], REGION)
            path.unlink()
            loaded += base
            with blocking_calls(settings) as call:  # background loads: evaluated, not timed
                call(evaluate_pending)
        path = delta(tmp / f"delta-{factor}.csv", T0 + timedelta(days=200 + factor), watched[7])
        load_id = load_files(driver, "neo4j", settings.home, "sightings", [path],
                             REGION).loads[0].load_id
        runs, created = [], []
        with blocking_calls(settings) as call:
            for n in range(REPEATS):
                if n:  # the same evaluation again: it finds the same, creates nothing
                    driver.execute_query("MATCH (e:AlertEvaluation {load_id: $id}) DELETE e",
                                         id=load_id, database_="neo4j")
                began = time.perf_counter()
                created += call(evaluate_pending)
                runs.append(time.perf_counter() - began)
        if [list(a.subjects) for a in created] != [[f"VEHICLE:{watched[7]}"]]:
            raise RuntimeError(f"the delta at {factor}x raised {created}, not one alert for "
                               "the watched plate")
        seconds = statistics.median(runs)
        out.append((factor, _stored(settings.home), seconds, len(created)))
        print(f"# growth {factor}x: {seconds:.3f} s", file=sys.stderr, flush=True)
    return out


def _stored(home: Path) -> int:
    """Sightings in the event store (every complete load's records)."""
    from loaders.eventstore import scan_events

    return scan_events(home, "sightings").select("row").collect().height


def run(scale: float = 1.0) -> str:
    """Measure latency and growth; a Markdown section."""
    import os

    from pydantic import SecretStr

    from fusion.config import Settings
    from fusion.db import connect, ensure_schema
    from fusion.managed import ManagedNeo4j
    from fusion.services.blocking import blocking_calls

    base = max(2_000, int(BASE_ROWS * scale))
    watched = [plate(n) for n in range(ENTRIES)]
    with tempfile.TemporaryDirectory(prefix="fusion-bench-alerts-") as tmp:
        tmp_path = Path(tmp)
        settings = Settings(home=tmp_path / "home", db_bolt_port=BOLT, db_http_port=HTTP,
                            neo4j_uri=None, secret=SecretStr("bench-" + "z" * 40))
        server = ManagedNeo4j(settings)
        try:
            server.start()
            with connect(settings) as driver:
                ensure_schema(driver, "neo4j")
                with blocking_calls(settings) as call:
                    install(call, watched)
                load1 = os.getloadavg()[0]
                figures = latency(settings, driver, tmp_path, watched)
                sizes = growth(settings, driver, tmp_path, watched, base)
        finally:
            server.stop()
    return report(figures, sizes, load1, base)


def report(all_figures: list[float], sizes: list[tuple], load1: float, base: int) -> str:
    """The Markdown section (the warm-up rounds shown, not counted)."""
    figures = all_figures[WARMUP_ROUNDS:]
    worst = max(figures)
    lines = ["## Alerts: load-to-subscriber latency and evaluation growth", "",
             f"{ENTRIES:,} watchlist entries ({LISTS} lists), {STANDING} standing queries "
             f"({STANDING // 2} co-travel, {STANDING // 2} fraud-parcel); each load a "
             f"{DELTA_ROWS:,}-row sightings file naming one watched plate; load average "
             f"{load1:.2f} at start.", "",
             "| round | end of load -> subscription message (s) |", "|---:|---:|"]
    lines += [f"| {'warm-up' if n < WARMUP_ROUNDS else n + 1 - WARMUP_ROUNDS} | {s:.3f} |"
              for n, s in enumerate(all_figures)]
    lines += ["", f"Median {statistics.median(figures):.3f} s, worst {worst:.3f} s: "
              f"{'within' if worst <= 2.0 else 'OVER'} the 2 s target.", "",
              f"Evaluation of the same {DELTA_ROWS:,}-row delta as the graph grows "
              f"(1x = {base:,} background sightings):", "",
              f"| graph | sightings in the store | evaluation s (median of {REPEATS}) | alerts "
              "| vs 1x |",
              "|---:|---:|---:|---:|---:|"]
    first = sizes[0][2]
    lines += [f"| {f}x | {n:,} | {s:.3f} | {a} | {s / first:.2f} |" for f, n, s, a in sizes]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1))
