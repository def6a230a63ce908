"""Loader throughput: our batched loader vs the per-row MERGE a newcomer would write.

Generates a call-detail CSV and a sightings CSV (1M rows each at scale 1), starts its own
managed Neo4j (temporary FUSION_HOME, ports 37687/37474 or ``FUSION_BENCH_LOAD_PORTS=BOLT,HTTP``;
the start includes the loader's warm-up, ``loaders.warmup``), and measures end to end (read,
normalize, validate, deduplicate, write graph and event store):

- ours: ``loaders.ingest.load_files`` in a child process (its peak RSS is the child's own),
  three times, each into an emptied graph and an empty event store: *new store*, each
  source's first load into the new database; then the graph is emptied and the server
  restarted (warm-up included); *first* is the source's first load since that start (calls
  go first: what the warm-up leaves of Neo4j's planning, JIT and page-cache costs), *warm* the
  same load again, as a long-running server would take it. First and warm find the store
  alike (its files as an emptied graph leaves them), so their ratio is the server's warmth
  alone; a new store's first load also grows the store files and index trees, which a
  reused store's loads do not. The warm load's time is split into staging (busy seconds:
  split, then each partition's prepare, dedup and event-store part), Neo4j's share (busy
  seconds: write batches and the reads of what exists) and the wall time; what both did at
  once is the overlap, and the rows over Neo4j's seconds the rate the graph writes allow.
  Each load's Neo4j seconds by part and the CPU seconds of server and loader show what the
  first load still pays;
- baseline: one ``MERGE`` transaction per row with per-row normalization, on a sample
  (default 2,000 rows) into an emptied graph (the server warm); its rate is records/s all
  the same. The ratio compares it with our warm load.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from bench._apiload import tree_cpu
from bench._machine import peak_rss_mb

BOLT, HTTP = (int(x) for x in os.environ.get("FUSION_BENCH_LOAD_PORTS", "37687,37474").split(","))
BASELINE_SAMPLE = 2_000
# Neo4j's busy seconds of a load by part (loaders.graphwriter.PHASES, and the reads).
PHASES = ("nodes", "relationships", "reads", "other")
_PREFIXES = np.array(["138", "139", "150", "186", "187", "135", "136", "158", "177", "199"])


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    body = rng.choice(10**8, size=n, replace=False)
    prefix = _PREFIXES[rng.integers(0, len(_PREFIXES), n)]
    return np.char.add(prefix, np.char.zfill(body.astype(str), 8))


def _spell(numbers: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Raw phone spellings: plain, 3-4-4 with dashes, +86 with spaces."""
    pick = pl.Series(rng.integers(0, 3, len(numbers)))
    return pl.select(
        pl.when(pick == 0).then(numbers)
        .when(pick == 1).then(pl.concat_str([numbers.str.slice(0, 3), numbers.str.slice(3, 4),
                                             numbers.str.slice(7, 4)], separator="-"))
        .otherwise(pl.concat_str([pl.lit("+86 "), numbers.str.slice(0, 3), pl.lit(" "),
                                  numbers.str.slice(3, 4), pl.lit(" "),
                                  numbers.str.slice(7, 4)]))
    ).to_series()


def _times(rng: np.random.Generator, n: int) -> pl.Series:
    seconds = rng.integers(0, 30 * 86400, n)
    start = 1_709_251_200  # 2024-03-01T00:00:00
    return pl.from_epoch(pl.Series(start + seconds), "s").dt.strftime("%Y-%m-%d %H:%M:%S")


def make_calls_csv(path: Path, rows: int, seed: int = 7, phones: int = 20_000,
                   contacts: int = 8) -> Path:
    """A CDR CSV: each phone calls a few fixed contacts, as real call graphs do."""
    rng = np.random.default_rng(seed)
    numbers = _phones(rng, phones)
    book = rng.integers(0, phones, (phones, contacts))
    caller = rng.integers(0, phones, rows)
    callee = book[caller, rng.integers(0, contacts, rows)]
    frame = pl.DataFrame({
        "caller": _spell(pl.Series(numbers[caller]), rng),
        "callee": _spell(pl.Series(numbers[callee]), rng),
        "start_time": _times(rng, rows),
        "duration_s": rng.integers(0, 600, rows),
        "call_type": np.where(rng.random(rows) < 0.9, "voice", "sms"),
        "cell_id": np.char.add("46000", rng.integers(1000, 9999, rows).astype(str)),
        "imei": np.char.add("8635", rng.integers(10**10, 10**11, rows).astype(str)),
    })
    frame.write_csv(path)
    return path


def make_sightings_csv(path: Path, rows: int, seed: int = 11, plates: int = 15_000,
                       phones: int = 5_000, sensors: int = 400, route: int = 10) -> Path:
    """Checkpoint sightings: each subject passes the sensors of its usual route."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
    plate = np.char.add("浙A", np.array(
        ["".join(x) for x in letters[rng.integers(0, len(letters), (plates, 5))]]))
    plate = np.unique(plate)
    subjects = np.concatenate([plate, _phones(rng, phones)])
    kinds = np.array(["plate"] * len(plate) + ["phone"] * phones)
    routes = rng.integers(0, sensors, (len(subjects), route))
    who = rng.integers(0, len(subjects), rows)
    where = routes[who, rng.integers(0, route, rows)]
    lat = 30.0 + rng.random(sensors)
    lon = 120.0 + rng.random(sensors)
    frame = pl.DataFrame({
        "subject_type": kinds[who], "subject": subjects[who],
        "sensor_id": np.char.add("KK", np.char.zfill(where.astype(str), 5)),
        "seen_at": _times(rng, rows), "lat": lat[where].round(6), "lon": lon[where].round(6),
        "speed_kmh": rng.integers(0, 120, rows), "direction": rng.integers(0, 360, rows),
    })
    frame.write_csv(path)
    return path


# -- the newcomer's loader -----------------------------------------------------------------------
NEWCOMER_CALL = """
MERGE (a:Phone {key: $caller}) MERGE (b:Phone {key: $callee})
MERGE (a)-[r:CALLED]->(b)
ON CREATE SET r.count = 1, r.total_duration_s = $duration, r.first_at = $t, r.last_at = $t
ON MATCH SET r.count = r.count + 1, r.total_duration_s = r.total_duration_s + $duration,
             r.last_at = CASE WHEN $t > r.last_at THEN $t ELSE r.last_at END
"""
NEWCOMER_SIGHTING = """
MERGE (s:Sensor {key: $sensor}) SET s.lat = $lat, s.lon = $lon
WITH s CALL (s) {
  WITH s WHERE $kind = 'plate' MERGE (v:Vehicle {key: $subject}) MERGE (v)-[r:SEEN_AT]->(s)
  ON CREATE SET r.count = 1 ON MATCH SET r.count = r.count + 1
  UNION
  WITH s WHERE $kind = 'phone' MERGE (v:Phone {key: $subject}) MERGE (v)-[r:SEEN_AT]->(s)
  ON CREATE SET r.count = 1 ON MATCH SET r.count = r.count + 1
}
"""


def newcomer_load(driver, kind: str, path: Path, sample: int) -> tuple[int, float]:
    """One MERGE transaction per row, normalizing row by row; (rows, seconds)."""
    from loaders.normalize import normalize_phone, normalize_plate, parse_timestamp

    began = time.perf_counter()
    done = 0
    with driver.session(database="neo4j") as session, open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if done >= sample:
                break
            if kind == "calls":
                params = {"caller": normalize_phone(row["caller"]),
                          "callee": normalize_phone(row["callee"]),
                          "t": parse_timestamp(row["start_time"]),
                          "duration": int(row["duration_s"])}
                query = NEWCOMER_CALL
            else:
                subject = (normalize_plate(row["subject"]) if row["subject_type"] == "plate"
                           else normalize_phone(row["subject"]))
                params = {"kind": row["subject_type"], "subject": subject,
                          "sensor": row["sensor_id"], "lat": float(row["lat"]),
                          "lon": float(row["lon"])}
                query = NEWCOMER_SIGHTING
            session.execute_write(lambda tx, q=query, p=params: tx.run(q, **p).consume())
            done += 1
    return done, time.perf_counter() - began


# -- ours, in a child process --------------------------------------------------------------------
def _worker(kind: str, file: str, home: str, work: str) -> None:
    from fusion.config import Settings
    from fusion.db import connect
    from loaders.ingest import load_files

    settings = Settings(home=Path(home), db_bolt_port=BOLT, db_http_port=HTTP, neo4j_uri=None)
    with connect(settings) as driver:
        began = time.perf_counter()
        summary = load_files(driver, "neo4j", Path(work), kind, [Path(file)], "BENCH")
        took = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    phases = {name: sum(x.neo4j_phases.get(name, 0.0) for x in summary.loads)
              for name in PHASES}
    print(json.dumps({"seconds": took, "peak_rss_mb": peak_rss_mb(),
                      "stage_s": sum(x.stage_seconds for x in summary.loads),
                      "split_s": sum(x.split_seconds for x in summary.loads),
                      "graph_s": sum(x.graph_seconds for x in summary.loads),
                      "neo4j_s": sum(x.neo4j_seconds for x in summary.loads),
                      "phases": phases, "cpu_s": usage.ru_utime + usage.ru_stime,
                      **summary.total.as_dict()}))


def _ours(kind: str, file: Path, home: Path, work: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.load", "worker", kind, str(file),
                          str(home), str(work)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench worker failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _elements(driver) -> int:
    """Nodes and relationships the load wrote (its LoadRecord aside)."""
    nodes = driver.execute_query("MATCH (n) WHERE NOT n:LoadRecord RETURN count(n) AS n",
                                 database_="neo4j").records[0]["n"]
    rels = driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS n",
                                database_="neo4j").records[0]["n"]
    return nodes + rels


def _wipe(driver) -> None:
    with driver.session(database="neo4j") as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
                    ).consume()


def run(scale: float = 1.0, sample: int = BASELINE_SAMPLE) -> str:
    """Generate, measure both loaders on calls and sightings, return a Markdown table."""
    from fusion.config import Settings
    from fusion.db import connect, ensure_schema
    from fusion.managed import ManagedNeo4j

    rows = int(1_000_000 * scale)
    lines = ["## Loader throughput", "",
             f"{rows:,} rows per source; *new store*: the source's first load into a new "
             "database (calls on a fresh server); then the graph is emptied and the server "
             "restarted: *first* is the source's first load since that start (warmed up at "
             "start), into the store as the emptied graph leaves it; *warm*: the same load "
             "again into the emptied graph; baseline = one MERGE transaction per row on "
             f"{sample:,} rows; load average at start {os.getloadavg()[0]:.2f}; managed Neo4j "
             "5.26.", "",
             "| source | rows | new store s | first s | first rec/s | warm s | warm rec/s | "
             "first / warm | new store / warm | peak RSS MB | baseline rec/s | ratio (warm) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    split: list[str] = []
    phases: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fusion-bench-") as tmp:
        tmp_path = Path(tmp)
        settings = Settings(home=tmp_path / "home", db_bolt_port=BOLT, db_http_port=HTTP,
                            neo4j_uri=None)
        files = {}
        for kind, make in (("calls", make_calls_csv), ("sightings", make_sightings_csv)):
            files[kind] = make(tmp_path / f"{kind}.csv", rows)
            print(f"# {kind}: {files[kind].stat().st_size / 1e6:.0f} MB generated",
                  file=sys.stderr, flush=True)
        server = ManagedNeo4j(settings)
        runs: dict[str, dict[str, dict]] = {kind: {} for kind in files}
        try:
            server.start()
            warm_ups = [server.warm_up_seconds or 0.0]
            with connect(settings) as driver:
                ensure_schema(driver, "neo4j")
                for kind, file in files.items():
                    runs[kind]["new store"] = _measure(server, driver, kind, file, rows,
                                                       tmp_path / f"work-{kind}-new")
                _wipe(driver)
            server.stop()
            server.start()
            warm_ups.append(server.warm_up_seconds or 0.0)
            with connect(settings) as driver:
                for kind, file in files.items():
                    for attempt in ("first", "warm"):
                        runs[kind][attempt] = _measure(server, driver, kind, file, rows,
                                                       tmp_path / f"work-{kind}-{attempt}")
                    if len({x["elements"] for x in runs[kind].values()}) != 1:
                        raise RuntimeError(f"the loads wrote different graphs: {runs[kind]}")
                    _wipe(driver)
                    done, took = newcomer_load(driver, kind, file, sample)
                    lines.append(_main_row(kind, rows, runs[kind], done / took))
                    print(lines[-1], file=sys.stderr, flush=True)
                    split.append(_split_row(kind, rows, runs[kind]["warm"]))
                    phases += [_phase_row(kind, attempt, x)
                               for attempt, x in runs[kind].items()]
        finally:
            server.stop()
    warm_up_s = " s and ".join(f"{x:.1f}" for x in warm_ups)
    lines += ["", "Where the warm load's time goes: *stage* is the busy time of reading, "
              "splitting by start node, normalizing, validating, deduplicating and writing the "
              "event store; *Neo4j* the busy time of the graph writes (batches on the writer "
              "thread, and the reads of which nodes and relationships exist); *wall* the whole "
              "load. *Overlap* = stage + Neo4j - wall: the seconds both ran at once (all of "
              "staging but the split and the first partition can hide). *Bound* = rows / Neo4j "
              "seconds, the rate the graph writes allow were staging free; the last column is "
              "the load's rate as a share of it. Neo4j's seconds are measured in the same run, "
              "beside staging on the same cores.", "",
              "| source | stage s | Neo4j s | wall s | overlap s | nodes + relationships | "
              "elements/s | bound rec/s | warm / bound |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|", *split]
    lines += ["", "What the first load after a start still pays: each load's wall time, the "
              "split (read whole, hash by start node), staging's busy time, Neo4j's busy time "
              "by part (node batches, relationship and aggregate batches, reads of what "
              "exists), and CPU seconds of the Neo4j server and of the loader process (CPU "
              "time moves less than wall time on a busy machine). The server's warm-up "
              f"(``loaders.warmup``) took {warm_up_s} s at its two starts.", "",
              "| source | load | wall s | split s | stage s | node writes s | "
              "relationship writes s | reads s | Neo4j CPU s | loader CPU s |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|", *phases]
    return "\n".join(lines)


def _measure(server, driver, kind: str, file: Path, rows: int, work: Path) -> dict:
    """One load of ``file`` into the emptied graph: the worker's figures, Neo4j's CPU seconds
    and the elements written; the accounting checked."""
    _wipe(driver)
    cpu = tree_cpu(server.running_pid()) or 0.0
    ours = _ours(kind, file, server.settings.home, work)
    ours["neo4j_cpu_s"] = (tree_cpu(server.running_pid()) or 0.0) - cpu
    if ours["read"] != rows or ours["loaded"] + ours["duplicates"] != rows:
        raise RuntimeError(f"unexpected accounting: {ours}")
    ours["elements"] = _elements(driver)
    return ours


def _main_row(kind: str, rows: int, runs: dict[str, dict], base_rate: float) -> str:
    """The throughput table's row of one source."""
    new, first, warm = (runs[x]["seconds"] for x in ("new store", "first", "warm"))
    return (f"| {kind} | {rows:,} | {new:.1f} | {first:.1f} | {rows / first:,.0f} | "
            f"{warm:.1f} | {rows / warm:,.0f} | {first / warm:.2f}x | {new / warm:.2f}x | "
            f"{max(x['peak_rss_mb'] for x in runs.values()):,.0f} | {base_rate:,.0f} | "
            f"{rows / warm / base_rate:,.0f}x |")


def _phase_row(kind: str, attempt: str, x: dict) -> str:
    """One row of the first-versus-warm table from a load's figures."""
    p = x["phases"]
    return (f"| {kind} | {attempt} | {x['seconds']:.1f} | {x['split_s']:.1f} | "
            f"{x['stage_s']:.1f} | {p['nodes']:.1f} | {p['relationships']:.1f} | "
            f"{p['reads']:.1f} | {x['neo4j_cpu_s']:.1f} | {x['cpu_s']:.1f} |")


def _split_row(kind: str, rows: int, w: dict) -> str:
    """One row of the phase table from a warm run's figures."""
    overlap = max(0.0, w["stage_s"] + w["neo4j_s"] - w["seconds"])
    bound = rows / w["neo4j_s"]
    return (f"| {kind} | {w['stage_s']:.1f} | {w['neo4j_s']:.1f} | {w['seconds']:.1f} | "
            f"{overlap:.1f} | {w['elements']:,} | {w['elements'] / w['neo4j_s']:,.0f} | "
            f"{bound:,.0f} | {rows / w['seconds'] / bound:.0%} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        _worker(*sys.argv[2:6])
    else:
        print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
