"""Writing loader output to Neo4j: grouped rows in batched, columnar managed transactions.

Nodes before relationships. Each element set is split before it is written:

- nodes: a read of which keys exist already; absent keys are CREATEd, the rest upserted;
- relationships: a read of which start nodes have no relationship of the type at all; their
  rows are CREATEd (nothing can exist to merge with), the rest MERGEd.

Both reads run after every earlier write of this writer has committed, so they see the graph
the batches will meet. A retried batch (``execute_write`` retries transient failures: a Neo4j
restart, a lost connection after an unknown commit) always runs the MERGE form, so a CREATE
that did commit is never repeated. A load killed half-way and rerun reads again and finds its
own earlier writes: the result is a clean load's graph.

Batches go to Neo4j from one writer thread, in submission order (relationship writers lock
both end nodes: parallel ones deadlock), while the caller prepares the next work: the Python
side (reading the event store, grouping, building columns) overlaps the database side.

A partitioned load (``loaders.partitions``) does not wait between its partitions: it sends
nodes with :meth:`GraphWriter.nodes` (keys it sent before are upserted, never re-created) and
aggregates with ``wait=False`` (its partitions own disjoint start nodes, so the read of which
start nodes have no relationship yet need not wait for the batches in flight).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import polars as pl
from neo4j import Driver, NotificationDisabledClassification

from fusion.errors import DatabaseError
from loaders.spec import GraphRows, Triple
from queries.load import (
    AGGREGATE_PROPERTIES,
    CREATE_AGGREGATES,
    CREATE_NODES,
    CREATE_RELATIONSHIPS,
    EXISTING_KEYS,
    FRESH_STARTS,
    MERGE_RELATIONSHIPS,
    NODE_PROPERTIES,
    RELATIONSHIP_PROPERTIES,
    SET_AGGREGATES,
    STARTS_WITHOUT,
    UPSERT_NODES,
)

BATCH_ROWS = 20_000
# Nodes go in smaller batches: a transaction's unique-index inserts cost more per key as it
# grows (20k Phone nodes: 1.0-2.1 s in one transaction, 0.8-1.2 s in four).
NODE_BATCH_ROWS = 5_000
# Batches handed to the writer thread and not yet written (bounds the memory of the overlap).
IN_FLIGHT = 2

Params = dict[str, list]
# Into a new graph, the statements name relationship types no element has yet: Neo4j warns
# "relationship type does not exist" (UNRECOGNIZED) on each. The types come from fixed tables,
# so the warnings say nothing; they would flood the terminal of every first load.
QUIET = [NotificationDisabledClassification.UNRECOGNIZED]
# Which part of a load each write statement is (GraphWriter.phase_seconds); others: "other".
PHASES = {**{s: "nodes" for s in (*CREATE_NODES.values(), *UPSERT_NODES.values())},
          **{s: "relationships" for s in (*CREATE_RELATIONSHIPS.values(),
                                          *MERGE_RELATIONSHIPS.values(),
                                          *CREATE_AGGREGATES.values(),
                                          *SET_AGGREGATES.values())}}


class GraphWriter:
    """Batches columns into a database's managed write transactions, one writer thread.

    ``after_batch`` is called on the writer thread with the count of committed batches after
    each commit: the seam where a caller observes (or a test interrupts) the load at a known
    point.
    """

    def __init__(self, driver: Driver, database: str, batch_rows: int = BATCH_ROWS,
                 on_rows: Callable[[int], None] = lambda n: None,
                 node_batch_rows: int = NODE_BATCH_ROWS,
                 after_batch: Callable[[int], None] | None = None,
                 in_flight: int = IN_FLIGHT):
        self.driver = driver
        self.in_flight = in_flight
        # Seconds Neo4j spent on this writer's work: batches on the writer thread, and the
        # caller's reads of what exists (the graph side of a load, for the bench's split).
        self.write_seconds = 0.0
        self.read_seconds = 0.0
        # write_seconds by PHASES (nodes, relationships, other): where a slow load's time went.
        self.phase_seconds = {"nodes": 0.0, "relationships": 0.0, "other": 0.0}
        self.database = database
        self.batch_rows = batch_rows
        self.node_batch_rows = min(node_batch_rows, batch_rows)
        self.on_rows = on_rows
        self.batches = 0
        self.after_batch = after_batch
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphwrite")
        self._pending: deque[Future] = deque()

    def __enter__(self) -> GraphWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the loader writes --
    def write(self, graph: GraphRows, with_props: bool = True, create: bool = True) -> None:
        """All nodes of ``graph``, then all its relationships.

        ``create=False`` upserts everything (used for small widening writes).
        """
        for label, frames in graph.nodes.items():
            rows = node_rows(label, pl.concat(frames, how="diagonal"), with_props)
            fresh = self._absent_keys(label, rows["key"]) if create else set()
            self._split(rows, "key", fresh, CREATE_NODES[label], UPSERT_NODES[label],
                        _node_params, self.node_batch_rows)
        if graph.rels:
            self.flush()  # relationship reads must see the nodes
        for triple, frames in graph.rels.items():
            rows = rel_rows(triple, pl.concat(frames, how="diagonal"), with_props)
            fresh = self._starts_without(triple, rows["a"]) if create else set()
            self._split(rows, "a", fresh, CREATE_RELATIONSHIPS[triple],
                        MERGE_RELATIONSHIPS[triple], _rel_params)

    def nodes(self, label: str, rows: pl.DataFrame, sent: pl.Series | None = None) -> None:
        """Node rows (:func:`node_rows`) without waiting for the batches in flight.

        Keys in ``sent`` (this writer sent them before; they may be in flight) are upserted;
        the others are CREATEd when the graph has no node with the key.
        """
        before = rows["key"].is_in(sent.implode()) if sent is not None else None
        unsent = rows["key"] if before is None else rows.filter(~before)["key"]
        fresh = self._absent_keys(label, unsent) if unsent.len() else set()
        self._split(rows, "key", fresh, CREATE_NODES[label], UPSERT_NODES[label], _node_params,
                    self.node_batch_rows)

    def properties(self, label: str, frame: pl.DataFrame) -> None:
        """Upsert ``key`` plus some of the label's properties (null keeps the stored value) on
        nodes this writer has sent; their ``regions`` stay as they are."""
        props, times = NODE_PROPERTIES[label]
        wanted = [*props, *times, *(("fallback_name",) if label == "Person" else ())]
        rows = frame.with_columns(pl.Series("regions", [[]] * frame.height,
                                            pl.List(pl.String())))
        rows = _typed(_columns(rows, ["key", "regions", *wanted]), times)
        self._split(rows, "key", set(), CREATE_NODES[label], UPSERT_NODES[label], _node_params,
                    self.node_batch_rows)

    def aggregates(self, triple: Triple, frame: pl.DataFrame, wait: bool = True) -> None:
        """Absolute aggregate values (one row per pair, ``regions`` already the full union).

        ``wait=False``: no start node of ``frame`` is in a batch in flight but as a node (the
        caller's partitions own their start nodes), so do not wait for them.
        """
        props, times = AGGREGATE_PROPERTIES[triple]
        rows = frame.select("a", "b", "regions", *props, *times)
        if wait:
            self.flush()  # the start nodes and anything written before must be visible
            fresh = self._starts_without(triple, rows["a"])
        else:
            fresh = self._read_keys(FRESH_STARTS[triple], rows["a"])
        self._split(rows, "a", fresh, CREATE_AGGREGATES[triple], SET_AGGREGATES[triple],
                    _rel_params)

    def run(self, query: str, rows: list[dict]) -> None:
        """A list-of-maps statement (``$rows``), written after everything submitted before."""
        for start in range(0, len(rows), self.batch_rows):
            part = rows[start:start + self.batch_rows]
            self._submit(query, query, {"rows": part}, len(part), counted=False)
        self.flush()

    # -- batching --
    def _split(self, rows: pl.DataFrame, on: str, fresh: set[str], create: str, upsert: str,
               params: Callable[[pl.DataFrame], Params], size: int | None = None) -> None:
        """Rows whose ``on`` value is in ``fresh`` by ``create``, the others by ``upsert``."""
        if not rows.height:
            return
        is_fresh = rows[on].is_in(list(fresh)) if fresh else pl.Series([False] * rows.height)
        # Sorted: consecutive rows touch the same nodes and pages, and a batch's start keys are
        # few and contiguous.
        for mask, statement in ((is_fresh, create), (~is_fresh, upsert)):
            part_rows = rows.filter(mask).sort(on, maintain_order=True)
            for part in part_rows.iter_slices(size or self.batch_rows):
                self._submit(statement, upsert, params(part), part.height)

    def _submit(self, first: str, retry: str, params: Params | dict, n: int,
                counted: bool = True) -> None:
        while len(self._pending) >= self.in_flight:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._execute, first, retry, params, n, counted))

    def flush(self) -> None:
        """Wait until every submitted batch has committed (re-raising a failure)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _execute(self, first: str, retry: str, params: Params | dict, n: int,
                 counted: bool) -> None:
        attempts = 0

        def work(tx) -> int | None:
            nonlocal attempts
            attempts += 1
            # A retry may follow a commit whose answer was lost: never CREATE twice.
            result = tx.run(first if attempts == 1 else retry, params)
            record = result.single() if counted else None
            result.consume()
            return record["rows"] if record is not None else None

        began = time.perf_counter()
        with self.driver.session(database=self.database,
                                 notifications_disabled_classifications=QUIET) as session:
            written = session.execute_write(work)
        took = time.perf_counter() - began
        self.write_seconds += took
        self.phase_seconds[PHASES.get(first, "other")] += took
        if counted and written != n:
            raise DatabaseError(f"a graph write wrote {written} of {n} rows: end nodes are "
                                "missing (was the graph changed during the load?); run the "
                                "load again")
        self.batches += 1
        self.on_rows(n)
        if self.after_batch is not None:
            self.after_batch(self.batches)

    # -- what is there already --
    def _read_keys(self, query: str, keys: pl.Series) -> set[str]:
        found: set[str] = set()
        began = time.perf_counter()
        with self.driver.session(database=self.database, default_access_mode="READ",
                                 notifications_disabled_classifications=QUIET) as session:
            for part in _slices(keys.unique(), self.batch_rows * 5):
                found.update(session.execute_read(
                    lambda tx, p=part: tx.run(query, key=p.to_list()).single()["keys"]))
        self.read_seconds += time.perf_counter() - began
        return found

    def _absent_keys(self, label: str, keys: pl.Series) -> set[str]:
        """Keys without a node of ``label``."""
        present = self._read_keys(EXISTING_KEYS[label], keys)
        return set(keys.unique().to_list()) - present

    def _starts_without(self, triple: Triple, keys: pl.Series) -> set[str]:
        """Start keys whose node has no relationship of the triple's type."""
        return self._read_keys(STARTS_WITHOUT[triple], keys)


def _slices(s: pl.Series, size: int) -> list[pl.Series]:
    return [s.slice(start, size) for start in range(0, len(s), size)]


# -- columns ---------------------------------------------------------------------------------
def _columns_of(frame: pl.DataFrame, skip: tuple[str, ...]) -> Params:
    """Each column as a list; a Datetime column as ``<name>_s`` and ``<name>_ns`` lists."""
    out: Params = {}
    for name, dtype in frame.schema.items():
        if name in skip:
            continue
        if isinstance(dtype, pl.Datetime):
            us = frame[name].dt.epoch("us")
            out[f"{name}_s"] = (us // 1_000_000).to_list()  # floor: right before 1970 too
            out[f"{name}_ns"] = (us % 1_000_000 * 1000).to_list()
        else:
            out[name] = frame[name].to_list()
    return out


def _node_params(part: pl.DataFrame) -> Params:
    return _columns_of(part, ())


def _rel_params(part: pl.DataFrame) -> Params:
    """End keys once each (``ak``, ``bk``) and each row's positions in them (``ai``, ``bi``)."""
    ak = part["a"].unique().sort()
    bk = part["b"].unique().sort()
    return {"ak": ak.to_list(), "bk": bk.to_list(),
            "ai": ak.search_sorted(part["a"]).to_list(),
            "bi": bk.search_sorted(part["b"]).to_list(),
            **_columns_of(part, ("a", "b"))}


def _columns(frame: pl.DataFrame, wanted: list[str]) -> pl.DataFrame:
    missing = [c for c in wanted if c not in frame.columns]
    return frame.with_columns(pl.lit(None).alias(c) for c in missing).select(wanted)


def node_rows(label: str, frame: pl.DataFrame, with_props: bool) -> pl.DataFrame:
    """One row per key: regions, and each property's last non-null value in file order."""
    props, times = NODE_PROPERTIES[label]
    wanted = [*props, *times, *(("fallback_name",) if label == "Person" else ())]
    present = [c for c in wanted if c in frame.columns] if with_props else []
    aggs = [pl.col("region").unique().sort().alias("regions"),
            *(pl.col(c).drop_nulls().last() for c in present if c != "fallback_name")]
    if "fallback_name" in present:
        aggs.append(pl.col("fallback_name").drop_nulls().first())
    grouped = frame.group_by("key", maintain_order=True).agg(aggs)
    return _typed(_columns(grouped, ["key", "regions", *wanted]), times)


def rel_rows(triple: Triple, frame: pl.DataFrame, with_props: bool) -> pl.DataFrame:
    """One row per (a, b): regions, and the first non-null value of each property."""
    props = RELATIONSHIP_PROPERTIES[triple]
    present = [c for c in props if c in frame.columns] if with_props else []
    grouped = frame.group_by("a", "b", maintain_order=True).agg(
        pl.col("region").unique().sort().alias("regions"),
        *(pl.col(c).drop_nulls().first() for c in present))
    return _columns(grouped, ["a", "b", "regions", *props])


def _typed(frame: pl.DataFrame, times: tuple[str, ...]) -> pl.DataFrame:
    """Timestamp columns that were absent (all null) as Datetime, so they split into pairs."""
    return frame.with_columns(pl.col(t).cast(pl.Datetime("us", "UTC")) for t in times)
