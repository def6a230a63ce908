"""Integration: small hand-made files loaded into the real Neo4j and the event store."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from neo4j import GraphDatabase

from fusion.db import target
from loaders.eventstore import scan_events
from loaders.graphwriter import GraphWriter, _rel_params, rel_rows
from loaders.ingest import load_files
from loaders.normalize import normalize_phone, parse_timestamp
from loaders.spec import GraphRows
from queries.load import CREATE_RELATIONSHIPS, MERGE_RELATIONSHIPS

pytestmark = pytest.mark.neo4j

CALLS = """caller,callee,start_time,duration_s,call_type,cell_id,operator_note
138-1234-5678,13912345678,2024-03-01 08:00:00,60,voice,C1,first
+86 138 1234 5678,139 1234 5678,2024-03-01 09:30:00,30,,C2,second
13812345678,13912345678,2024-03-01 08:00:00,60,voice,C1,repeat of the first
13912345678,13812345678,2024-03-02 10:00:00,5,sms,C3,
13700000000,13912345678,2024-03-02 11:00:00,12,voice,C4,
not-a-phone,13912345678,2024-03-02 11:00:00,12,voice,C4,bad
13812345678,13912345678,2024-03-02 11:00:00,-1,voice,C4,bad duration
"""


def _load(driver, neo4j_settings, home: Path, kind: str, files: list[Path], region: str,
          profile: Path | None = None):
    return load_files(driver, neo4j_settings.neo4j_database, home, kind, files, region, profile)


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _called(driver) -> dict[tuple[str, str], dict]:
    records, _, _ = driver.execute_query(
        "MATCH (a:Phone)-[r:CALLED]->(b:Phone) RETURN a.key AS a, b.key AS b, r {.*} AS r")
    return {(x["a"], x["b"]): x["r"] for x in records}


def _expected_called(text: str) -> dict[tuple[str, str], dict]:
    """CALLED aggregates computed row by row with the reference rules, for comparison."""
    import csv
    import io

    seen = set()
    agg: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"count": 0, "total_duration_s": 0, "first_at": None, "last_at": None})
    for row in csv.DictReader(io.StringIO(text)):
        try:
            a, b = normalize_phone(row["caller"]), normalize_phone(row["callee"])
        except ValueError:
            continue
        if int(row["duration_s"]) < 0:
            continue
        t = parse_timestamp(row["start_time"])
        key = (a, b, t, row.get("call_type") or "voice")
        if key in seen:
            continue
        seen.add(key)
        x = agg[(a, b)]
        x["count"] += 1
        x["total_duration_s"] += int(row["duration_s"])
        x["first_at"] = t if x["first_at"] is None else min(x["first_at"], t)
        x["last_at"] = t if x["last_at"] is None else max(x["last_at"], t)
    return dict(agg)


def test_calls_accounting_and_called_aggregates(empty_graph, neo4j_settings, tmp_path):
    f = _write(tmp_path / "calls.csv", CALLS)
    summary = _load(empty_graph, neo4j_settings, tmp_path / "home", "calls", [f], "ZJ")
    acc = summary.total
    assert (acc.read, acc.loaded, acc.quarantined, acc.duplicates) == (7, 4, 2, 1)
    assert dict(acc.quarantined_by_reason) == {"BAD_PHONE": 1, "BAD_NUMBER": 1}
    called = _called(empty_graph)
    expected = _expected_called(CALLS)
    assert set(called) == set(expected)
    for pair, want in expected.items():
        got = called[pair]
        assert got["count"] == want["count"]
        assert got["total_duration_s"] == want["total_duration_s"]
        assert got["first_at"].to_native() == want["first_at"]
        assert got["last_at"].to_native() == want["last_at"]
        assert got["regions"] == ["ZJ"]


def test_reload_changes_nothing(empty_graph, neo4j_settings, tmp_path):
    f = _write(tmp_path / "calls.csv", CALLS)
    home = tmp_path / "home"
    _load(empty_graph, neo4j_settings, home, "calls", [f], "ZJ")
    before = _snapshot(empty_graph)
    again = _load(empty_graph, neo4j_settings, home, "calls", [f], "ZJ").total
    assert (again.read, again.loaded, again.quarantined, again.duplicates) == (7, 0, 2, 5)
    assert _snapshot(empty_graph) == before


def test_cross_region_duplicate_counts_once_with_both_regions(empty_graph, neo4j_settings,
                                                              tmp_path):
    home = tmp_path / "home"
    a = _write(tmp_path / "a.csv", "caller,callee,start_time,duration_s\n"
               "13812345678,13912345678,2024-03-01 08:00:00,60\n")
    b = _write(tmp_path / "b.csv", "caller,callee,start_time,duration_s,imei\n"
               "138 1234 5678,+8613912345678,2024-03-01T00:00:00Z,60,X\n")
    _load(empty_graph, neo4j_settings, home, "calls", [a], "ZJ")
    second = _load(empty_graph, neo4j_settings, home, "calls", [b], "JS").total
    assert (second.read, second.loaded, second.duplicates) == (1, 0, 1)
    called = _called(empty_graph)[("+8613812345678", "+8613912345678")]
    assert called["count"] == 1 and called["total_duration_s"] == 60
    assert called["regions"] == ["JS", "ZJ"]
    records, _, _ = empty_graph.execute_query("MATCH (p:Phone) RETURN p.regions AS r")
    assert [x["r"] for x in records] == [["JS", "ZJ"], ["JS", "ZJ"]]
    events = scan_events(home, "calls").collect()
    assert events.height == 1
    assert events["regions"].to_list() == [["JS", "ZJ"]]


def _snapshot(driver) -> tuple:
    nodes, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:LoadRecord RETURN labels(n)[0] AS l, n {.*} AS p ORDER BY l, p.key")
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN a.key AS a, type(r) AS t, b.key AS b, r {.*} AS p "
        "ORDER BY a, t, b")
    return ([(x["l"], sorted(x["p"].items())) for x in nodes],
            [(x["a"], x["t"], x["b"], sorted(x["p"].items())) for x in rels])


def test_event_store_keeps_unmapped_columns_as_source(empty_graph, neo4j_settings, tmp_path):
    f = _write(tmp_path / "calls.csv", CALLS)
    _load(empty_graph, neo4j_settings, tmp_path / "home", "calls", [f], "ZJ")
    events = scan_events(tmp_path / "home", "calls").sort("row").collect()
    assert events["source"][0] == '{"operator_note":"first"}'
    assert events.schema["start_time"] == pl.Datetime("us", "UTC")


def _one_relationship_per_pair(driver) -> bool:
    records, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) WITH a, type(r) AS t, b, count(r) AS n WHERE n > 1 "
        "RETURN count(*) AS repeated")
    return records[0]["repeated"] == 0


def test_second_load_extends_pairs_and_start_nodes_exactly(empty_graph, neo4j_settings,
                                                           tmp_path):
    """Rows for existing pairs, new pairs of busy start nodes and brand-new start nodes."""
    home = tmp_path / "home"
    first = ("caller,callee,start_time,duration_s\n"
             "13800000001,13900000001,2024-03-01 08:00:00,10\n"
             "13800000001,13900000002,2024-03-01 09:00:00,20\n"
             "13800000002,13900000001,2024-03-01 10:00:00,30\n")
    second = ("caller,callee,start_time,duration_s\n"
              "13800000001,13900000001,2024-03-02 08:00:00,40\n"    # existing pair
              "13800000001,13900000003,2024-03-02 09:00:00,50\n"    # busy start, new pair
              "13800000009,13900000001,2024-03-02 10:00:00,60\n"    # new start node
              "13900000001,13800000001,2024-03-02 11:00:00,70\n"    # end node calls back
              "13800000002,13900000001,2024-03-01 10:00:00,30\n")   # duplicate of a record
    _load(empty_graph, neo4j_settings, home, "calls", [_write(tmp_path / "a.csv", first)], "ZJ")
    _load(empty_graph, neo4j_settings, home, "calls", [_write(tmp_path / "b.csv", second)],
          "ZJ")
    called = _called(empty_graph)
    expected = _expected_called(first + second.split("\n", 1)[1])
    assert set(called) == set(expected)
    for pair, want in expected.items():
        got = called[pair]
        assert (got["count"], got["total_duration_s"]) == (want["count"],
                                                            want["total_duration_s"])
        assert got["first_at"].to_native() == want["first_at"]
        assert got["last_at"].to_native() == want["last_at"]
    assert _one_relationship_per_pair(empty_graph)
    records, _, _ = empty_graph.execute_query("MATCH (p:Phone) RETURN count(p) AS n")
    assert records[0]["n"] == len({p for pair in expected for p in pair})


def test_retry_form_repeats_a_committed_create_harmlessly(empty_graph, neo4j_settings):
    """A retried batch runs the MERGE form, which over its own committed CREATE changes
    nothing (the case of a commit whose answer was lost)."""
    triple = ("Phone", "INVOLVED_IN", "Case")
    graph = GraphRows()
    graph.node("Phone", pl.DataFrame({"key": ["+8613800000001", "+8613800000002"],
                                      "region": ["ZJ", "JS"]}))
    graph.node("Case", pl.DataFrame({"key": ["A1"], "region": ["ZJ"]}))
    frame = pl.DataFrame({"a": ["+8613800000001", "+8613800000002"], "b": ["A1", "A1"],
                          "role": ["victim", None], "region": ["ZJ", "JS"]})
    with GraphWriter(empty_graph, neo4j_settings.neo4j_database) as writer:
        writer.write(graph)
        writer.flush()  # _execute runs on this thread: the node batches must have committed
        params = _rel_params(rel_rows(triple, frame, True).sort("a"))
        writer._execute(CREATE_RELATIONSHIPS[triple], MERGE_RELATIONSHIPS[triple], params, 2,
                        True)
        once = _snapshot(empty_graph)
        writer._execute(MERGE_RELATIONSHIPS[triple], MERGE_RELATIONSHIPS[triple], params, 2,
                        True)
    assert _snapshot(empty_graph) == once
    assert [r[3] for r in once[1]] == [[("regions", ["ZJ"]), ("role", "victim")],
                                       [("regions", ["JS"])]]


def test_timestamps_round_trip_exactly_around_1970(empty_graph, neo4j_settings):
    moments = [datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
               datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
               datetime(2024, 3, 1, 8, 0, 0, 123_456, tzinfo=UTC)]
    graph = GraphRows()
    graph.node("Case", pl.DataFrame({"key": ["A", "B", "C", "D"],
                                     "reported_at": [*moments, None], "region": ["ZJ"] * 4},
                                    schema_overrides={"reported_at": pl.Datetime("us", "UTC")}))
    with GraphWriter(empty_graph, neo4j_settings.neo4j_database) as writer:
        writer.write(graph)
    records, _, _ = empty_graph.execute_query(
        "MATCH (c:Case) RETURN c.key AS k, c.reported_at AS t ORDER BY k")
    got = [x["t"].to_native() if x["t"] is not None else None for x in records]
    assert got == [*moments, None]


def test_graph_writer_reads_log_no_warning_about_types_the_graph_lacks(empty_graph,
                                                                        neo4j_settings, caplog):
    # A first load asks for relationship types no element has yet (type tokens, once created,
    # outlive their relationships: a type that was never created stands in for a new graph).
    statement = ("UNWIND $key AS k MATCH (a:Phone {key: k}) "
                 "WHERE NOT EXISTS { (a)-[:FUSION_TEST_NEVER_CREATED]->() } "
                 "RETURN collect(k) AS keys")
    t = target(neo4j_settings)
    with caplog.at_level(logging.INFO, logger="neo4j"):
        # a driver without fusion.db's options: Neo4j warns
        with GraphDatabase.driver(t.uri, auth=(t.user, t.password)) as plain:
            plain.execute_query(statement, key=["x"], database_=neo4j_settings.neo4j_database)
        assert any("does not exist" in r.getMessage() for r in caplog.records)
        caplog.clear()
        with GraphWriter(empty_graph, neo4j_settings.neo4j_database) as writer:
            assert writer._read_keys(statement, pl.Series(["x"])) == set()
    assert not [r for r in caplog.records if "notification" in r.getMessage().lower()]
