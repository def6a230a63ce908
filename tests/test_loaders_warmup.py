"""The managed server's warm-up for loads: every loader statement runs, nothing stays."""

from __future__ import annotations

import math

import pytest

from loaders import warmup
from loaders.graphwriter import BATCH_ROWS, NODE_BATCH_ROWS
from loaders.warmup import bucket_floor, warm_up
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

    def spy(session, work):
        ran.extend(statement for statement, _params in work)
        real(session, work)

    monkeypatch.setattr(warmup, "_run", spy)
    empty_graph.execute_query("CREATE (:Phone {key: 'kept', regions: ['ZJ']})")
    before = _snapshot(empty_graph)
    seconds = warm_up(empty_graph, neo4j_settings.neo4j_database, rounds=2)
    assert seconds > 0
    assert set(ran) >= _loader_statements()
    assert _snapshot(empty_graph) == before
    records, _, _ = empty_graph.execute_query("MATCH (n) RETURN count(n) AS n")
    assert records[0]["n"] == 1


def _bucket(n: int) -> int:
    """Neo4j's plan-cache size bucket of a list of n items: exact for 0 and 1, else the next
    power of ten at or above n."""
    return n if n <= 1 else 10 ** math.ceil(math.log10(n))


@pytest.mark.parametrize("n", [1, 2, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 4999, 5000,
                               19_999, 20_000, 100_000])
def test_bucket_floor_is_the_smallest_length_of_the_same_bucket(n):
    floor = bucket_floor(n)
    assert _bucket(floor) == _bucket(n)
    assert floor <= 1 or _bucket(floor - 1) != _bucket(n)


def test_hot_statements_are_planned_in_the_buckets_of_the_writers_full_batches():
    hot, _cold = warmup._statements()
    sizes: dict[str, set[int]] = {}
    for statement, params in hot:
        if "key" in params:
            sizes.setdefault(statement, set()).add(_bucket(len(params["key"])))
        elif "ai" in params:
            sizes.setdefault(statement, set()).add(_bucket(len(params["ai"])))
    phone_nodes = statements.CREATE_NODES["Phone"]
    called = statements.CREATE_AGGREGATES[("Phone", "CALLED", "Phone")]
    assert _bucket(NODE_BATCH_ROWS) in sizes[phone_nodes]
    assert _bucket(BATCH_ROWS) in sizes[called]
    runs = [statement for statement, _params in hot]
    assert runs.count(called) == 2 * 3  # two row buckets, three end-key buckets


def test_every_loader_statement_keeps_its_warmed_up_plan():
    assert all(text.startswith(statements.PLANNED) for text in _loader_statements())
