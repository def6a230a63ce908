"""Writing loader output to Neo4j: grouped rows in batched ``UNWIND`` managed transactions.

Nodes before relationships, one transaction at a time: relationship writers lock both end
nodes, and parallel ones deadlock. ``execute_write`` retries transient failures (a Neo4j
restart, a leader switch), and every statement is idempotent, so a retried batch is harmless.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import polars as pl
from neo4j import Driver

from loaders.spec import GraphRows, Triple
from queries.load import (
    AGGREGATE_PROPERTIES,
    MERGE_RELATIONSHIPS,
    NODE_PROPERTIES,
    RELATIONSHIP_PROPERTIES,
    SET_AGGREGATES,
    UPSERT_NODES,
)

BATCH_ROWS = 20_000
# Test hook (tests/test_loaders_resume.py): after this many graph batches the process reports
# CRASH_MARKER on stderr and stops, so a test can kill -9 it at a known point.
CRASH_ENV = "FUSION_TEST_CRASH_AFTER_BATCHES"
CRASH_MARKER = "FUSION_TEST_CRASH_POINT"


class GraphWriter:
    """Batches rows into a database's managed write transactions."""

    def __init__(self, driver: Driver, database: str, batch_rows: int = BATCH_ROWS,
                 on_rows: Callable[[int], None] = lambda n: None):
        self.driver = driver
        self.database = database
        self.batch_rows = batch_rows
        self.on_rows = on_rows
        self.batches = 0
        crash = os.environ.get(CRASH_ENV)
        self._crash_after = int(crash) if crash else None

    def write(self, graph: GraphRows, with_props: bool = True) -> None:
        """All nodes of ``graph``, then all its relationships."""
        for label, frames in graph.nodes.items():
            self.run(UPSERT_NODES[label], node_rows(label, pl.concat(frames, how="diagonal"),
                                                    with_props))
        for triple, frames in graph.rels.items():
            self.run(MERGE_RELATIONSHIPS[triple],
                     rel_rows(triple, pl.concat(frames, how="diagonal"), with_props))

    def aggregates(self, triple: Triple, frame: pl.DataFrame) -> None:
        """Absolute aggregate values (one row per pair, ``regions`` already the full union)."""
        props, times = AGGREGATE_PROPERTIES[triple]
        # Sorted by start node: consecutive MERGEs touch the same nodes and pages.
        frame = _epoch_pairs(frame.select("a", "b", "regions", *props, *times).sort("a", "b"))
        for part in frame.iter_slices(self.batch_rows):
            self._batch(SET_AGGREGATES[triple], part.to_dicts())

    def run(self, query: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), self.batch_rows):
            self._batch(query, rows[start:start + self.batch_rows])

    def _batch(self, query: str, rows: list[dict]) -> None:
        if not rows:
            return
        with self.driver.session(database=self.database) as session:
            session.execute_write(lambda tx: tx.run(query, rows=rows).consume())
        self.batches += 1
        self.on_rows(len(rows))
        if self._crash_after is not None and self.batches >= self._crash_after:
            print(CRASH_MARKER, file=sys.stderr, flush=True)
            time.sleep(3600)


def _epoch_pairs(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetime columns as [epoch seconds, nanoseconds] (see queries.load)."""
    us = {c: pl.col(c).dt.epoch("us") for c, t in frame.schema.items()
          if isinstance(t, pl.Datetime)}
    return frame.with_columns(
        pl.when(e.is_not_null()).then(pl.concat_list(e // 1_000_000, e % 1_000_000 * 1000))
        .alias(c) for c, e in us.items())


def _columns(frame: pl.DataFrame, wanted: list[str]) -> pl.DataFrame:
    missing = [c for c in wanted if c not in frame.columns]
    return frame.with_columns(pl.lit(None).alias(c) for c in missing).select(wanted)


def node_rows(label: str, frame: pl.DataFrame, with_props: bool) -> list[dict]:
    """One row per key: regions, and each property's last non-null value in file order."""
    props, times = NODE_PROPERTIES[label]
    wanted = [*props, *times, *(("fallback_name",) if label == "Person" else ())]
    present = [c for c in wanted if c in frame.columns] if with_props else []
    aggs = [pl.col("region").unique().sort().alias("regions"),
            *(pl.col(c).drop_nulls().last() for c in present if c != "fallback_name")]
    if "fallback_name" in present:
        aggs.append(pl.col("fallback_name").drop_nulls().first())
    grouped = frame.group_by("key", maintain_order=True).agg(aggs)
    return _epoch_pairs(_columns(grouped, ["key", "regions", *wanted])).to_dicts()


def rel_rows(triple: Triple, frame: pl.DataFrame, with_props: bool) -> list[dict]:
    """One row per (a, b): regions, and the first non-null value of each property."""
    props = RELATIONSHIP_PROPERTIES[triple]
    present = [c for c in props if c in frame.columns] if with_props else []
    grouped = frame.group_by("a", "b", maintain_order=True).agg(
        pl.col("region").unique().sort().alias("regions"),
        *(pl.col(c).drop_nulls().first() for c in present))
    return _epoch_pairs(_columns(grouped, ["a", "b", "regions", *props])).to_dicts()
