"""Warm a freshly started Neo4j for loads, so that the first load after a start is not the
slow one.

A new Neo4j process pays three things the first time a load's statements run, and a warm one
has paid them already (measured with ``db.stats.retrieve('QUERIES')`` on a 1M-row calls load):

- **Planning** (0.1-0.5 s per plan). A plan is cached per statement text, per size bucket of
  each list parameter (the next power of ten of its length: a 5,000-row batch and a 2,000-row
  one are different plans) and per whether the transaction had written before the statement.
- **Interpreted expressions.** A plan evaluates its expressions interpreted until its tenth
  run, then compiles them to bytecode: the first ten batches of a plan ran three to eight
  times slower than the ones after.
- **The JVM's JIT** of the operators all plans share.

:func:`warm_up` runs every loader statement, with the very text a load sends, each in a
transaction of its own (as the writer sends it), rolled back: nothing is written, and the
plans and compiled code stay (the statements say ``CYPHER replan=skip``, so that the counts a
load changes do not throw them away, see ``queries.load``). The statements of the sources
with aggregates (calls and sightings: 1M-row files) run :data:`ROUNDS` times in the size
buckets of the writer's batches and of their remainders, so their plans are compiled and hot;
the others (small sources) once, to be planned. Scratch rows have keys no source can produce;
each size is the smallest of its bucket, which is what makes the rounds cheap.

The schema's constraints and indexes are created first (as ``fusion.db.ensure_schema``
would): a schema change drops the cached plans, so they must exist before the plans are made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
from neo4j import Driver, Session

from loaders.graphwriter import (
    BATCH_ROWS,
    NODE_BATCH_ROWS,
    QUIET,
    _node_params,
    _rel_params,
    node_rows,
    rel_rows,
)
from queries.load import (
    AGGREGATE_PROPERTIES,
    CREATE_AGGREGATES,
    CREATE_NODES,
    CREATE_RELATIONSHIPS,
    EXISTING_KEYS,
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

# Runs of each hot statement: Neo4j compiles a plan's expressions on its tenth run.
ROUNDS = 12
REGION = "\x00warm-up"
# The labels and aggregates of the big sources (calls, sightings): their statements go hot.
HOT_TRIPLES = tuple(AGGREGATE_PROPERTIES)
HOT_LABELS = frozenset(label for a, _t, b in HOT_TRIPLES for label in (a, b))

Work = list[tuple[str, dict]]


def bucket_floor(rows: int) -> int:
    """The smallest list length in the plan-cache size bucket of ``rows`` (the bucket of n is
    the next power of ten at or above n; 0 and 1 are exact)."""
    k = 1
    while k * 10 < rows:
        k *= 10
    return k + 1 if rows > 1 else rows


def _sizes(full: int) -> tuple[int, int]:
    """Row counts for a statement batched at ``full``: its full batches' bucket, and the bucket
    below (a partition's remainder), each at the bucket's smallest length."""
    return bucket_floor(full), bucket_floor(max(2, full // 10))


def warm_up(driver: Driver, database: str, rounds: int = ROUNDS,
            report: Callable[[str], None] = lambda line: None) -> float:
    """Create the schema if missing, then run every loader statement and roll back; seconds."""
    began = time.perf_counter()
    for statement in (*CONSTRAINTS.values(), *INDEXES.values()):
        driver.execute_query(statement, database_=database)
    driver.execute_query(AWAIT_INDEXES, database_=database)
    hot, cold = _statements()
    with driver.session(database=database,
                        notifications_disabled_classifications=QUIET) as session:
        report("Warming Neo4j up for loads (planning the loader's statements)…")
        _run(session, cold + hot)
        for n in range(1, rounds):
            report(f"Warming Neo4j up for loads (round {n + 1} of {rounds})…")
            _run(session, hot)
    return time.perf_counter() - began


def _run(session: Session, work: Work) -> None:
    """Each statement in a transaction of its own (as a load sends it), rolled back."""
    for statement, params in work:
        tx = session.begin_transaction()
        try:
            tx.run(statement, params).consume()
        finally:
            tx.rollback()


def _keys(label: str, rows: int) -> pl.Series:
    return pl.Series("key", [f"\x00warm-up:{label}:{i}" for i in range(rows)])


def _statements() -> tuple[Work, Work]:
    """(hot, cold) work: (statement, parameters) in the order a load sends them."""
    hot: Work = []
    cold: Work = []
    for label in NODE_PROPERTIES:
        out = hot if label in HOT_LABELS else cold
        for rows in _sizes(NODE_BATCH_ROWS):
            keys = _keys(label, rows)
            params = _node_params(node_rows(label, pl.DataFrame({"key": keys, "region": REGION}),
                                            with_props=False))
            out += [(CREATE_NODES[label], params), (UPSERT_NODES[label], params)]
        for rows in _sizes(BATCH_ROWS):
            out.append((EXISTING_KEYS[label], {"key": _keys(label, rows).to_list()}))
    for triple in RELATIONSHIP_PROPERTIES:
        frame = _pairs(triple, bucket_floor(BATCH_ROWS)).with_columns(region=pl.lit(REGION))
        params = _rel_params(rel_rows(triple, frame, with_props=False))
        cold += [(STARTS_WITHOUT[triple], {"key": frame["a"].to_list()}),
                 (CREATE_RELATIONSHIPS[triple], params), (MERGE_RELATIONSHIPS[triple], params)]
    for triple in HOT_TRIPLES:
        for rows, starts, ends in _aggregate_shapes():
            params = _aggregate_params(triple, rows, starts, ends)
            hot += [(CREATE_AGGREGATES[triple], params), (SET_AGGREGATES[triple], params)]
        for rows in _sizes(BATCH_ROWS):
            starts = {"key": _keys(triple[0], rows).to_list()}
            hot += [(STARTS_WITHOUT[triple], starts), (FRESH_STARTS[triple], starts)]
    record = {"id": "\x00warm-up", "props": {"id": "\x00warm-up", "status": "running",
                                             "started_at": datetime.now(UTC)}}
    hot += [(RECORD_LOAD, {"rows": [record]}), (LOAD_STATUS, {"id": "\x00warm-up"})]
    return hot, cold


def _aggregate_shapes() -> list[tuple[int, int, int]]:
    """(rows, distinct start keys, distinct end keys) of the aggregate batches to plan.

    A batch's start keys are about a tenth of its rows (a partition's callers call several
    phones, a subject passes several sensors); its end keys as many as its rows (callees), a
    tenth or a hundredth (sensors): each in its own size bucket.
    """
    shapes = []
    for rows in _sizes(BATCH_ROWS):
        shapes += [(rows, _below(rows, 1), _below(rows, k)) for k in (0, 1, 2)]
    return shapes


def _below(rows: int, k: int) -> int:
    """The smallest list length ``k`` size buckets below that of ``rows`` (at least 2)."""
    return max(2, (bucket_floor(rows) - 1) // 10**k + 1)


def _aggregate_params(triple: tuple[str, str, str], rows: int, starts: int,
                      ends: int) -> dict:
    """An aggregate batch of ``rows`` scratch pairs with every property set, ``starts``
    distinct start keys and ``ends`` distinct end keys."""
    props, times = AGGREGATE_PROPERTIES[triple]
    i = pl.int_range(0, rows, eager=True)
    a, b = _keys(triple[0], starts), _keys(triple[2], ends)
    # Pairs may repeat: no scratch node exists, so no row of the batch writes anything.
    frame = pl.DataFrame({"a": a.gather(i % starts), "b": b.gather(i % ends)})
    start = datetime(2024, 3, 1, tzinfo=UTC)
    frame = frame.with_columns(
        regions=pl.lit([REGION], pl.List(pl.String())),
        **{p: pl.int_range(0, pl.len()) for p in props},
        **{t: pl.lit(start) + pl.duration(seconds=pl.int_range(0, pl.len())) for t in times})
    return _rel_params(frame.with_columns(pl.col(t).cast(pl.Datetime("us", "UTC"))
                                          for t in times))


def _pairs(triple: tuple[str, str, str], rows: int) -> pl.DataFrame:
    """``rows`` distinct scratch (a, b) pairs: each start node to two end nodes."""
    half = (rows + 1) // 2
    a, b = _keys(triple[0], half), _keys(triple[2], half)
    shifted = b.shift(1, fill_value=b[-1])
    return pl.DataFrame({"a": pl.concat([a, a]), "b": pl.concat([b, shifted])}).head(rows)

