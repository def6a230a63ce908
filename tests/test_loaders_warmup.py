"""The managed server's warm-up for loads: every loader statement runs, the last round
commits, nothing stays."""

from __future__ import annotations

import pytest

from loaders import warmup
from loaders.warmup import warm_up
from queries import load as statements
from tests.test_loaders_graph import _snapshot

pytestmark = pytest.mark.neo4j


def _loader_statements() -> set[str]:
    """Every Cypher text queries.load defines for loads (tables and single statements; the
    warm-up's own clean-up aside)."""
    found: set[str] = set()
    for name, value in vars(statements).items():
        if name.startswith(("_", "FORGET")):
            continue
        if isinstance(value, dict) and value and all(isinstance(v, str) and "$" in v
                                                     for v in value.values()):
            found.update(value.values())
        elif isinstance(value, str) and "$" in value and any(
                verb in value for verb in ("MATCH", "MERGE", "CREATE")):
            found.add(value)
    return found


def test_warm_up_runs_every_loader_statement_and_writes_nothing(empty_graph, neo4j_settings,
                                                                monkeypatch):
    ran: list[str] = []
    real = warmup._run

    def spy(tx, work):
        ran.extend(statement for statement, _params in work)
        real(tx, work)

    monkeypatch.setattr(warmup, "_run", spy)
    empty_graph.execute_query("CREATE (:Phone {key: 'kept', regions: ['ZJ']})")
    before = _snapshot(empty_graph)
    seconds = warm_up(empty_graph, neo4j_settings.neo4j_database, rows=200, rounds=2)
    assert seconds > 0
    assert set(ran) >= _loader_statements()
    assert _snapshot(empty_graph) == before
    records, _, _ = empty_graph.execute_query("MATCH (n) RETURN count(n) AS n")
    assert records[0]["n"] == 1


def test_every_loader_statement_keeps_its_plan_as_counts_move():
    assert all(text.startswith(statements.PLANNED) for text in _loader_statements())


def test_the_last_round_commits_and_its_scratch_elements_are_deleted(empty_graph,
                                                                      neo4j_settings,
                                                                      monkeypatch):
    database = neo4j_settings.neo4j_database
    empty_graph.execute_query("CREATE (:Phone {key: 'kept', regions: ['ZJ']})")
    before = _snapshot(empty_graph)
    cleanups = []
    monkeypatch.setattr(warmup, "forget", lambda driver, db: cleanups.append(db))
    warm_up(empty_graph, database, rows=50, rounds=2)
    assert cleanups == [database, database]
    # Without its clean-up, the committed round's elements are in the graph: every node
    # key, relationship region and the load record start with the prefix no source produces.
    keys, _, _ = empty_graph.execute_query(
        "MATCH (n) WHERE n.key IS NOT NULL RETURN collect(n.key) AS keys")
    scratch = [k for k in keys[0]["keys"] if k != "kept"]
    assert scratch and all(k.startswith(warmup.PREFIX) for k in scratch)
    regions, _, _ = empty_graph.execute_query(
        "MATCH ()-[r]->() UNWIND r.regions AS region RETURN collect(DISTINCT region) AS r")
    assert regions[0]["r"] == [warmup.PREFIX]
    loads, _, _ = empty_graph.execute_query("MATCH (l:LoadRecord) RETURN collect(l.id) AS ids")
    assert loads[0]["ids"] == [warmup.PREFIX]
    # The next warm-up (a start after one cut short) removes them and keeps the rest.
    monkeypatch.undo()
    warm_up(empty_graph, database, rows=50, rounds=1)
    assert _snapshot(empty_graph) == before
