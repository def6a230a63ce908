"""What a partitioned load has sent of its nodes, so that each node is written once and ends
as a load of the whole file would leave it.

A partition's records name nodes other partitions name too (the callee phones, the sensors).
The ledger keeps, per label, the (key, region) pairs already sent: a partition sends only the
pairs that are new, and a key sent before is upserted, never re-created while its first batch
may still be in flight. Partitions send nodes without their properties; the ledger keeps
each property's value from the latest record in file order (each node frame carries the
record's row number) and :meth:`NodeLedger.finish` writes those once at the end: the last
non-null value in file order, as a whole-file load sets it. Memory follows the distinct nodes.
"""

from __future__ import annotations

import polars as pl

from loaders.graphwriter import GraphWriter, node_rows
from queries.load import NODE_PROPERTIES

# The record's row number, carried through a source's graph rules inside ``region``.
ROW = "_row"


class NodeLedger:
    """The nodes a partitioned load has sent (see the module docstring)."""

    def __init__(self) -> None:
        # label -> the (key, region) pairs sent; (label, property) -> key, value, row
        self._sent: dict[str, pl.DataFrame] = {}
        self._latest: dict[tuple[str, str], pl.DataFrame] = {}

    def send(self, writer: GraphWriter, label: str, frame: pl.DataFrame) -> None:
        """Send the (key, region) pairs of ``frame`` not sent before; remember its properties
        when it carries row numbers (records this load added, not widenings)."""
        if ROW in frame.columns:
            self._remember(label, frame)
        pairs = frame.select("key", "region").unique()
        before = self._sent.get(label)
        if before is not None:
            pairs = pairs.join(before, on=["key", "region"], how="anti")
        if not pairs.height:
            return
        new = frame.select("key", "region").join(pairs, on=["key", "region"], how="semi")
        writer.nodes(label, node_rows(label, new, with_props=False),
                     None if before is None else before["key"].unique())
        self._sent[label] = pairs if before is None else pl.concat([before, pairs])

    def _remember(self, label: str, frame: pl.DataFrame) -> None:
        props, times = NODE_PROPERTIES[label]
        for prop in (*props, *times):
            if prop not in frame.columns:
                continue
            latest = (frame.filter(pl.col(prop).is_not_null())
                      .select("key", pl.col(prop).alias("value"), ROW))
            old = self._latest.get((label, prop))
            if old is not None:
                latest = pl.concat([old, latest], how="vertical_relaxed")
            self._latest[(label, prop)] = (latest.sort(ROW).group_by("key", maintain_order=True)
                                           .last())

    def finish(self, writer: GraphWriter) -> None:
        """Write every remembered property: the last non-null value in file order."""
        labels = sorted({label for label, _prop in self._latest})
        for label in labels:
            frame: pl.DataFrame | None = None
            for (lab, prop), latest in self._latest.items():
                if lab != label or not latest.height:
                    continue
                column = latest.select("key", pl.col("value").alias(prop))
                frame = column if frame is None else frame.join(column, on="key", how="full",
                                                                coalesce=True)
            if frame is not None and frame.height:
                writer.properties(label, frame)


def tag_rows(records: pl.DataFrame) -> pl.DataFrame:
    """``records`` with each row's number folded into ``region`` (graph rules pass it on)."""
    return records.with_columns(region=pl.struct(pl.col("region"), pl.col("row").alias(ROW)))


def untag(frame: pl.DataFrame) -> pl.DataFrame:
    """A node or relationship frame made from :func:`tag_rows` records: ``region`` and ``_row``."""
    return frame.with_columns(pl.col("region").struct.field(ROW).alias(ROW),
                              pl.col("region").struct.field("region").alias("region"))
