"""The managed server's warm-up for loads: every loader statement runs, nothing stays."""

from __future__ import annotations

import pytest

from loaders import warmup
from loaders.warmup import warm_up
from queries import load as statements
from tests.test_loaders_graph import _snapshot

pytestmark = pytest.mark.neo4j


def _loader_statements() -> set[str]:
    """Every Cypher text queries.load defines (tables and single statements)."""
    found: set[str] = set()
    for name, value in vars(statements).items():
        if name.startswith("_"):
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
