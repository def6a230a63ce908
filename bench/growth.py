"""Growth: how the cost of loading, co-travel and gangs grows with the data (1x, 2x, 4x, 8x).

Generates the scenario at ``TOP * scale * f / 8`` for f in 1, 2, 4, 8 (so ``run(1.0)``, the
reference run, ends at the scenario of scale 3: ~370k records, 300k sightings), and for each
size, into a fresh graph of one managed Neo4j (its own FUSION_HOME, ports 37887/37587):

- load: every file in ``fusion demo``'s order (read, normalize, write graph and event store);
- co-travel: all reported pairs under the contract's defaults, from the event store;
- gangs: projection of the person graph plus Leiden, over the whole graph.

Each analysis is the median of three runs. The last columns give each cost relative to the
previous size: 2.0 means linear growth.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BOLT, HTTP = 37887, 37587
FACTORS = (1, 2, 4, 8)
TOP = 3.0  # scenario scale of the largest size at scale 1 (below ~1, fixed costs dominate)
REPEATS = 3


def _median_seconds(work: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _wipe(driver, database: str, home: Path) -> None:
    import shutil

    with driver.session(database=database) as session:  # IN TRANSACTIONS needs auto-commit
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
                    ).consume()
    shutil.rmtree(home / "events", ignore_errors=True)


def _load(driver, database: str, home: Path, scenario: Path) -> tuple[float, int]:
    """Seconds to load the scenario in truth.json's order, and the records read."""
    from loaders.ingest import load_files

    truth = json.loads((scenario / "truth.json").read_text("utf-8"))
    started = time.perf_counter()
    records = 0
    for entry in truth["load_order"]:
        profile = scenario / entry["profile"] if entry["profile"] else None
        summary = load_files(driver, database, home, entry["kind"], [scenario / entry["file"]],
                             entry["region"], profile)
        records += summary.total.read
    return time.perf_counter() - started, records


def measure_size(driver, database: str, home: Path, scenario: Path, call) -> dict:
    """Load, co-travel and gangs figures for one generated scenario (services through ``call``,
    a :func:`fusion.services.blocking.blocking_calls` runner)."""
    from fusion.services.cotravel import co_travel_pairs
    from fusion.services.events import visible_sightings
    from fusion.services.gangs import gangs

    _wipe(driver, database, home)
    load_s, records = _load(driver, database, home, scenario)
    sightings = visible_sightings(home, None).select("seen_at").collect().height
    cotravel_s, pairs = _median_seconds(
        lambda: call(co_travel_pairs, scope=None, limit=None))
    gangs_s, found = _median_seconds(lambda: call(gangs, scope=None))
    return {"records": records, "load_s": load_s, "sightings": sightings,
            "cotravel_s": cotravel_s, "pairs": len(pairs), "gangs_s": gangs_s,
            "gangs": len(found)}


def _growth(rows: list[dict], name: str, i: int) -> str:
    return "-" if i == 0 else f"{rows[i][name] / rows[i - 1][name]:.2f}"


def table(rows: list[dict]) -> str:
    """The Markdown table of the measured sizes."""
    lines = ["| data | scale | records | load s | rec/s | sightings | co-travel s | pairs "
             "| gangs s | gangs | load x | co-travel x | gangs x |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(rows):
        lines.append(
            f"| {r['factor']}x | {r['scale']:g} | {r['records']:,} | {r['load_s']:.1f} "
            f"| {r['records'] / r['load_s']:,.0f} | {r['sightings']:,} | {r['cotravel_s']:.2f} "
            f"| {r['pairs']:,} | {r['gangs_s']:.2f} | {r['gangs']:,} "
            f"| {_growth(rows, 'load_s', i)} | {_growth(rows, 'cotravel_s', i)} "
            f"| {_growth(rows, 'gangs_s', i)} |")
    return "\n".join(lines)


def run(scale: float = 1.0) -> str:
    """Measure every size and return the Markdown section."""
    from fusion.config import Settings
    from fusion.db import connect, ensure_schema
    from fusion.managed import ManagedNeo4j
    from fusion.scenario.generate import generate_scenario
    from fusion.services.blocking import blocking_calls

    rows = []
    with tempfile.TemporaryDirectory(prefix="fusion-bench-growth-") as tmp:
        tmp_path = Path(tmp)
        settings = Settings(home=tmp_path / "home", db_bolt_port=BOLT, db_http_port=HTTP,
                            neo4j_uri=None)
        server = ManagedNeo4j(settings)
        try:
            server.start()
            with connect(settings) as driver, blocking_calls(settings) as call:
                ensure_schema(driver, settings.neo4j_database)
                for factor in FACTORS:
                    size = TOP * scale * factor / FACTORS[-1]
                    scenario = tmp_path / f"scenario-{factor}"
                    generate_scenario(scenario, regions=3, scale=size, seed=1)
                    print(f"# growth {factor}x (scenario scale {size:g})", file=sys.stderr,
                          flush=True)
                    figures = measure_size(driver, settings.neo4j_database, settings.home,
                                           scenario, call)
                    rows.append({"factor": factor, "scale": size, **figures})
        finally:
            server.stop()
    return "\n".join([
        "## Growth: load, co-travel and gangs at 1x, 2x, 4x, 8x data", "",
        f"Scenario generator (3 regions, seed 1) at scale {TOP * scale:g} x f/8; each size "
        "loaded "
        "into an emptied graph and event store; co-travel all pairs (window 120 s, 3 meetings, "
        f"3 sensors) and gangs (Leiden) are medians of {REPEATS} runs. The `x` columns divide "
        "each cost by the previous size's: 2.0 is linear. The 1x load also pays Neo4j's "
        "one-time planning of every loader statement (~0.2 s each, cached for later loads).",
        "",
        table(rows)])


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
