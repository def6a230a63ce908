"""Integration: the generator's three-region scenario loaded in its load order.

truth.json holds the exact expected accounting of every file and the node count per label;
CALLED aggregates are recomputed here row by row with the reference rules and compared.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from itertools import combinations
from pathlib import Path

import polars as pl
import pytest

from loaders.columns import timestamp_from_text
from loaders.eventstore import EventStore, scan_events
from loaders.ingest import load_files
from loaders.normalize import InvalidValue, normalize_phone
from loaders.profile import DEFAULT_PROFILE, load_profile
from loaders.readers import read_chunks
from loaders.sources import source_for

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def loaded(scenario_dir: Path, driver, neo4j_settings, tmp_path_factory):
    """Every file of the scenario loaded into an emptied graph and a fresh FUSION_HOME."""
    with driver.session(database=neo4j_settings.neo4j_database) as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
                    ).consume()
    truth = json.loads((scenario_dir / "truth.json").read_text("utf-8"))
    home = tmp_path_factory.mktemp("scenario-home")
    results = []
    for entry in truth["load_order"]:
        profile = scenario_dir / entry["profile"] if entry["profile"] else None
        summary = load_files(driver, neo4j_settings.neo4j_database, home, entry["kind"],
                             [scenario_dir / entry["file"]], entry["region"], profile)
        results.append((entry, summary.loads[0]))
    return truth, home, results


def test_every_file_accounts_exactly_as_the_truth(loaded):
    _truth, _home, results = loaded
    for entry, result in results:
        got = result.accounting.as_dict()
        want = {k: entry[k] for k in got}
        assert got == want, entry["file"]
        assert result.accounting.balanced


def test_node_counts_per_label_equal_the_truth(loaded, driver):
    truth, _home, _results = loaded
    for label, n in truth["expected_nodes"].items():
        records, _, _ = driver.execute_query(f"MATCH (n:{label}) RETURN count(n) AS n")
        assert records[0]["n"] == n, label


def test_every_node_and_relationship_has_sorted_regions(loaded, driver):
    records, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:LoadRecord AND (n.regions IS NULL OR size(n.regions) = 0 "
        "OR n.regions <> COLLECT { UNWIND n.regions AS r RETURN r ORDER BY r }) "
        "RETURN count(n) AS n")
    assert records[0]["n"] == 0
    records, _, _ = driver.execute_query(
        "MATCH ()-[r]->() WHERE r.regions IS NULL OR size(r.regions) = 0 RETURN count(r) AS n")
    assert records[0]["n"] == 0


def test_no_pair_has_two_relationships_of_one_type(loaded, driver):
    records, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) WITH a, type(r) AS t, b, count(r) AS n WHERE n > 1 "
        "RETURN count(*) AS repeated")
    assert records[0]["repeated"] == 0


def test_quarantine_files_hold_the_rejected_rows_as_read(loaded):
    _truth, _home, results = loaded
    for entry, result in results:
        path = result.quarantine_file
        assert path is not None and path.is_file(), entry["file"]
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == entry["quarantined"]
        assert Counter(r["_reason"] for r in rows) == Counter(entry["quarantined_by_reason"])
        assert all(r["_column"] for r in rows)
        if entry["profile"]:  # GBK region: the file's own (Chinese) headers come back
            assert any("\u4e00" <= ch <= "\u9fff" for name in rows[0] for ch in name)


def _reference_calls(scenario_dir: Path, load_order: list[dict]) -> dict[tuple[str, str], dict]:
    """CALLED per pair, computed row by row with normalize_phone and the timestamp rule."""
    seen: set[tuple] = set()
    agg: dict[tuple[str, str], dict] = {}
    for entry in load_order:
        if entry["kind"] != "calls":
            continue
        profile = (load_profile(scenario_dir / entry["profile"])[0] if entry["profile"]
                   else DEFAULT_PROFILE)
        back = {canon: raw for raw, canon in profile.columns.items()}
        for chunk in read_chunks(scenario_dir / entry["file"], profile):
            for row in chunk.frame.iter_rows(named=True):
                get = lambda c, row=row, back=back: (row.get(back.get(c, c)) or "").strip()  # noqa: E731
                try:
                    a = normalize_phone(get("caller"), profile.default_country)
                    b = normalize_phone(get("callee"), profile.default_country)
                    t = timestamp_from_text(get("start_time"), profile.timezone,
                                            profile.timestamp_format)
                    duration = float(get("duration_s"))
                except (InvalidValue, ValueError):
                    continue
                kind = (profile.constants.get("call_type") or get("call_type") or "voice").lower()
                if duration < 0 or duration != int(duration) or kind not in ("voice", "sms"):
                    continue
                if (a, b, t, kind) in seen:
                    agg[(a, b)]["regions"].add(entry["region"])
                    continue
                seen.add((a, b, t, kind))
                x = agg.setdefault((a, b), {"count": 0, "total_duration_s": 0, "first_at": t,
                                            "last_at": t, "regions": set()})
                x["count"] += 1
                x["total_duration_s"] += int(duration)
                x["first_at"], x["last_at"] = min(x["first_at"], t), max(x["last_at"], t)
                x["regions"].add(entry["region"])
    return agg


def test_called_aggregates_equal_a_row_by_row_recount(loaded, driver, scenario_dir):
    truth, _home, _results = loaded
    expected = _reference_calls(scenario_dir, truth["load_order"])
    records, _, _ = driver.execute_query(
        "MATCH (a:Phone)-[r:CALLED]->(b:Phone) RETURN a.key AS a, b.key AS b, r {.*} AS r")
    got = {(x["a"], x["b"]): x["r"] for x in records}
    assert set(got) == set(expected)
    for pair in random.Random(4).sample(sorted(expected), min(40, len(expected))):
        want, have = expected[pair], got[pair]
        assert have["count"] == want["count"]
        assert have["total_duration_s"] == want["total_duration_s"]
        assert have["first_at"].to_native() == want["first_at"]
        assert have["last_at"].to_native() == want["last_at"]
        assert have["regions"] == sorted(want["regions"])


def test_cross_region_duplicate_call_counts_once_with_both_regions(loaded, driver):
    _truth, home, _results = loaded
    events = scan_events(home, "calls").filter(pl.col("regions").list.len() > 1).collect()
    assert events.height > 0, "the scenario plants calls reported by two regions"
    for event in events.head(5).iter_rows(named=True):
        records, _, _ = driver.execute_query(
            "MATCH (:Phone {key: $a})-[r:CALLED]->(:Phone {key: $b}) RETURN r.regions AS g",
            a=event["caller"], b=event["callee"])
        assert set(event["regions"]) <= set(records[0]["g"])
    total = scan_events(home, "calls").select(pl.len()).collect().item()
    records, _, _ = driver.execute_query("MATCH ()-[r:CALLED]->() RETURN sum(r.count) AS n")
    assert records[0]["n"] == total


def test_unmapped_source_columns_are_kept_on_the_events(loaded):
    _truth, home, _results = loaded
    sources = scan_events(home, "calls").select("region", "source").collect()
    gbk = sources.filter(pl.col("region") == "440300")["source"].drop_nulls()
    assert gbk.len() > 0 and all("运营商" in json.loads(s) for s in gbk.to_list())


def test_reloading_a_file_changes_nothing(loaded, driver, neo4j_settings, scenario_dir):
    truth, home, results = loaded
    before = _snapshot(driver)
    entry = next(e for e in truth["load_order"] if e["kind"] == "calls" and e["profile"])
    again = load_files(driver, neo4j_settings.neo4j_database, home, "calls",
                       [scenario_dir / entry["file"]], entry["region"],
                       scenario_dir / entry["profile"]).loads[0]
    assert again.status == "reloaded"
    # A reload stages (counts) the file again but has nothing to write to the graph.
    assert again.stage_seconds > 0 and again.graph_seconds == 0
    first = next(r for e, r in results if e is entry)
    assert first.stage_seconds > 0 and first.graph_seconds > 0
    acc = again.accounting
    assert (acc.read, acc.loaded, acc.quarantined) == (entry["read"], 0, entry["quarantined"])
    assert acc.duplicates == entry["read"] - entry["quarantined"]
    assert _snapshot(driver) == before


def _snapshot(driver) -> tuple:
    nodes, _, _ = driver.execute_query(
        "MATCH (n) RETURN labels(n) AS l, n {.*} AS p ORDER BY coalesce(p.key, p.id)")
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN a.key AS a, type(r) AS t, b.key AS b, r {.*} AS p "
        "ORDER BY a, t, b")
    return ([(x["l"], sorted(x["p"].items())) for x in nodes],
            [(x["a"], x["t"], x["b"], sorted(x["p"].items())) for x in rels])


# The scenario repeats calls and waybills across regions (sightings stay in their region).
@pytest.mark.parametrize(("kind", "crossing"), [("calls", True), ("waybills", True),
                                                ("sightings", False)])
def test_visible_records_are_those_a_scope_region_supplied(loaded, kind, crossing):
    truth, home, _results = loaded
    codes = sorted(r["code"] for r in truth["regions"])
    key = list(source_for(kind).key)
    every = scan_events(home, kind).collect()
    assert (every["regions"].list.len() > 1).any() == crossing
    for n in range(1, len(codes) + 1):
        for scope in combinations(codes, n):
            want = every.filter(pl.col("regions").list.eval(pl.element().is_in(scope)).list.any())
            got = EventStore(home).scan_visible(kind, scope).collect()
            assert got.sort(key).equals(want.sort(key)), scope
