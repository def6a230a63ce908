"""`fusion init` against the real Neo4j: the contract's constraints, idempotently."""

from __future__ import annotations

import pytest

from fusion.db import ensure_schema
from queries.schema import CONSTRAINTS, INDEXES

# The contract's graph model: one uniqueness constraint on the key of each label.
CONTRACT_LABELS = {"Person", "Phone", "Vehicle", "Case", "Parcel", "Sensor", "Address"}

pytestmark = pytest.mark.neo4j


def _constraints(driver, db: str) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    records, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties RETURN *", database_=db)
    return sorted((r["name"], r["type"], tuple(r["labelsOrTypes"]), tuple(r["properties"]))
                  for r in records)


def test_init_twice_leaves_exactly_the_expected_constraints(driver, neo4j_settings) -> None:
    db = neo4j_settings.neo4j_database
    ensure_schema(driver, db)
    before = _constraints(driver, db)
    assert ensure_schema(driver, db) == []
    after = _constraints(driver, db)
    assert after == before
    assert {name for name, *_ in after} == set(CONSTRAINTS)
    unique_keys = {labels[0] for _, kind, labels, props in after
                   if kind == "UNIQUENESS" and props == ("key",)}
    # The contract's labels, and the audit checkpoint (bookkeeping, also keyed by `key`).
    assert unique_keys == CONTRACT_LABELS | {"AuditCheckpoint"}


def test_init_creates_the_indexes_the_queries_need(driver, neo4j_settings) -> None:
    records, _, _ = driver.execute_query("SHOW INDEXES YIELD name, state RETURN *",
                                         database_=neo4j_settings.neo4j_database)
    states = {r["name"]: r["state"] for r in records}
    for name in INDEXES:
        assert states.get(name) == "ONLINE", name


def test_uniqueness_is_enforced(empty_graph, neo4j_settings) -> None:
    from neo4j.exceptions import ConstraintError

    db = neo4j_settings.neo4j_database
    empty_graph.execute_query("CREATE (:Phone {key: '+8613812345678'})", database_=db)
    with pytest.raises(ConstraintError):
        empty_graph.execute_query("CREATE (:Phone {key: '+8613812345678'})", database_=db)


def test_init_command_runs_against_the_managed_db(neo4j_settings, monkeypatch) -> None:
    from typer.testing import CliRunner

    from fusion.cli import app

    for key, value in {"FUSION_HOME": str(neo4j_settings.home),
                       "FUSION_DB_BOLT_PORT": str(neo4j_settings.db_bolt_port)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FUSION_NEO4J_URI", raising=False)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert "Schema ready (0 created now)" in result.output
