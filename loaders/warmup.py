"""Warm a freshly started Neo4j for loads, so that the first load after a start is not the
slow one.

A new Neo4j process plans each statement the first time it sees it (~0.2 s apiece for the
loader's) and runs its code interpreted until the JVM's JIT has compiled the hot paths: the
first 1M-row load after a start took 20.4 s where a warm one took 12.6 s. :func:`warm_up`
runs every loader statement, with the very text and parameter shapes a load sends, on a few
thousand scratch rows (keys no source can produce): the plans and the compiled code stay.

The first rounds are rolled back; the last one commits, and its scratch elements are then
deleted (:func:`forget`). A rolled-back round never runs the commit path (the transaction log,
applying records to the stores, the index updates), and with it committed too the first 1M-row
calls load after a restart took 1.29x a warm one's time instead of 1.50x (docs/scaling.md).
Nothing stays: the scratch keys and region start with a NUL character, which no source's
normalized key holds, and a warm-up cut short between its commit and its clean-up is cleaned
up by the next one, which runs before anything else uses the database.

The schema's constraints and indexes are created first (as ``fusion.db.ensure_schema``
would): a schema change drops the cached plans, so they must exist before the plans are made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
from neo4j import Driver, Transaction

from loaders.graphwriter import QUIET, _node_params, _rel_params, node_rows, rel_rows
from queries.load import (
    AGGREGATE_PROPERTIES,
    CREATE_AGGREGATES,
    CREATE_NODES,
    CREATE_RELATIONSHIPS,
    EXISTING_KEYS,
    FORGET_LOAD,
    FORGET_NODES,
    FRESH_STARTS,
    LOAD_STATUS,
    MERGE_RELATIONSHIPS,
    NODE_PROPERTIES,
    RECORD_LOAD,
    RELATIONSHIP_PROPERTIES,
    SET_AGGREGATES,
    STARTS_WITHOUT,
    UPSERT_NODES,
)
from queries.schema import AWAIT_INDEXES, CONSTRAINTS, INDEXES

# Scratch rows per statement, and rounds. The JVM compiles a method after some ten thousand
# calls, and a load's statements share their operators, so two rounds of a few thousand rows
# per statement give the hot paths that many; each round costs a start about as much as
# writing ~100k elements. Whether the first load then runs within 1.3x of a warm one is
# bench.load's first / warm column.
ROWS = 2_000
ROUNDS = 2
PREFIX = "\x00warm-up"
REGION = PREFIX


def warm_up(driver: Driver, database: str, rows: int = ROWS, rounds: int = ROUNDS,
            report: Callable[[str], None] = lambda line: None) -> float:
    """Create the schema if missing, then run every loader statement on scratch rows: the
    rounds before the last rolled back, the last committed and its elements deleted; seconds."""
    began = time.perf_counter()
    for statement in (*CONSTRAINTS.values(), *INDEXES.values()):
        driver.execute_query(statement, database_=database)
    driver.execute_query(AWAIT_INDEXES, database_=database)
    forget(driver, database)  # what a warm-up cut short left behind
    work = _statements(rows)
    for n in range(rounds):
        report(f"Warming Neo4j up for loads (round {n + 1} of {rounds})…")
        with driver.session(database=database,
                            notifications_disabled_classifications=QUIET) as session:
            tx = session.begin_transaction()
            try:
                _run(tx, work)
                if n == rounds - 1:
                    tx.commit()
            finally:
                if not tx.closed():
                    tx.rollback()
    forget(driver, database)
    return time.perf_counter() - began


def forget(driver: Driver, database: str) -> None:
    """Delete every scratch element a warm-up committed (keys starting with :data:`PREFIX`)."""
    for statement in (*FORGET_NODES.values(), FORGET_LOAD):
        driver.execute_query(statement, prefix=PREFIX, database_=database)


def _run(tx: Transaction, work: list[tuple[str, dict]]) -> None:
    for statement, params in work:
        tx.run(statement, params).consume()


def _keys(label: str, rows: int) -> pl.Series:
    return pl.Series("key", [f"{PREFIX}:{label}:{i}" for i in range(rows)])


def _statements(rows: int) -> list[tuple[str, dict]]:
    """(statement, parameters) in the order a load sends them: nodes, then relationships."""
    work: list[tuple[str, dict]] = []
    for label in NODE_PROPERTIES:
        keys = _keys(label, rows)
        params = _node_params(node_rows(label, pl.DataFrame({"key": keys, "region": REGION}),
                                        with_props=False))
        work += [(EXISTING_KEYS[label], {"key": keys.to_list()}),
                 (CREATE_NODES[label], params), (UPSERT_NODES[label], params)]
    for triple in RELATIONSHIP_PROPERTIES:
        frame = _pairs(triple, rows).with_columns(region=pl.lit(REGION))
        params = _rel_params(rel_rows(triple, frame, with_props=False))
        work += [(STARTS_WITHOUT[triple], {"key": frame["a"].to_list()}),
                 (CREATE_RELATIONSHIPS[triple], params), (MERGE_RELATIONSHIPS[triple], params)]
    for triple, (props, times) in AGGREGATE_PROPERTIES.items():
        frame = _pairs(triple, rows)
        start = datetime(2024, 3, 1, tzinfo=UTC)
        frame = frame.with_columns(
            regions=pl.lit([REGION], pl.List(pl.String())),
            **{p: pl.int_range(0, pl.len()) for p in props},
            **{t: pl.lit(start) + pl.duration(seconds=pl.int_range(0, pl.len())) for t in times})
        params = _rel_params(frame.with_columns(pl.col(t).cast(pl.Datetime("us", "UTC"))
                                                for t in times))
        work += [(STARTS_WITHOUT[triple], {"key": frame["a"].to_list()}),
                 (FRESH_STARTS[triple], {"key": frame["a"].to_list()}),
                 (CREATE_AGGREGATES[triple], params), (SET_AGGREGATES[triple], params)]
    record = {"id": PREFIX, "props": {"id": PREFIX, "status": "running",
                                      "started_at": datetime.now(UTC)}}
    work += [(RECORD_LOAD, {"rows": [record]}), (LOAD_STATUS, {"id": PREFIX})]
    return work


def _pairs(triple: tuple[str, str, str], rows: int) -> pl.DataFrame:
    """Scratch (a, b) pairs over the scratch nodes: each start node to two end nodes."""
    a, b = _keys(triple[0], rows), _keys(triple[2], rows)
    shifted = b.shift(1, fill_value=b[-1])
    return pl.DataFrame({"a": pl.concat([a, a]), "b": pl.concat([b, shifted])}).unique(
        maintain_order=True)

