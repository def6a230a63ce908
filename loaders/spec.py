"""What every source declares: its columns and rules, its natural key, and the graph it makes.

A source module (one per source kind ``queries.model`` declares) builds one :class:`Source`,
whose columns, key and time column must be the declared ones (``loaders.sources`` checks).
Everything here is pure: frames in, frames out; the service writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from loaders.columns import Checked
from loaders.profile import Profile
from queries.model import Triple

__all__ = ["Aggregate", "Check", "Column", "GraphRows", "Source", "Triple", "simple"]

# A checker gets the column, the whole (trimmed, raw) canonical frame, and the profile.
Check = Callable[[pl.Series, pl.DataFrame, Profile], Checked]


@dataclass(frozen=True)
class Column:
    """A canonical column: its checker, its stored type, whether it is required.

    ``unless`` names a column whose presence makes this one optional (cases: id_no / phone).
    """

    name: str
    check: Check
    dtype: pl.DataType
    required: bool = False
    unless: str | None = None


@dataclass
class GraphRows:
    """Nodes and relationships made by some records; each frame carries a ``region`` column.

    ``nodes[label]`` has ``key`` plus property columns (``fallback_name`` is set only where the
    node has no name yet); ``rels[triple]`` has ``a``, ``b`` plus property columns.
    """

    nodes: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    rels: dict[Triple, list[pl.DataFrame]] = field(default_factory=dict)

    def node(self, label: str, frame: pl.DataFrame) -> None:
        frame = frame.filter(pl.col("key").is_not_null())
        if len(frame):
            self.nodes.setdefault(label, []).append(frame)

    def rel(self, triple: Triple, frame: pl.DataFrame) -> None:
        frame = frame.filter(pl.col("a").is_not_null() & pl.col("b").is_not_null())
        if len(frame):
            self.rels.setdefault(triple, []).append(frame)


@dataclass(frozen=True)
class Aggregate:
    """A relationship whose properties summarize all events of a pair (CALLED, SEEN_AT).

    ``summarize`` takes the pair's events (with a ``regions`` list column) and returns one row
    per pair with ``triple`` (as three columns ``from_label``, ``type``, ``to_label``), ``a``,
    ``b``, the properties and ``regions``. The values are absolute, so writing them is idempotent.

    ``start`` names the record columns that make the relationship's start node (``a``). The
    loader partitions a file's records on them, so that every record of one start node, and so
    every pair and every natural key, lands in one partition (``loaders.partitions``).
    """

    pair: tuple[str, ...]
    summarize: Callable[[pl.LazyFrame], pl.LazyFrame]
    triples: tuple[Triple, ...]
    start: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """One input source of the contract, by its name (``calls``, ``persons``, ...)."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    graph: Callable[[pl.DataFrame], GraphRows]
    derive: Callable[[pl.DataFrame], pl.DataFrame] = lambda frame: frame
    derived: dict[str, pl.DataType] = field(default_factory=dict)
    aggregates: tuple[Aggregate, ...] = ()
    time_column: str | None = None

    @property
    def canonical(self) -> tuple[str, ...]:
        """Canonical column names, ``region`` included (it may come per row)."""
        return (*(c.name for c in self.columns), "region")

    @property
    def partition_by(self) -> tuple[str, ...]:
        """Columns a file's records are partitioned on (empty: the source is staged whole)."""
        return self.aggregates[0].start if self.aggregates else ()

    def schema(self) -> dict[str, pl.DataType]:
        """Column types of a stored record (the event store's part files)."""
        return {**{c.name: c.dtype for c in self.columns}, **self.derived,
                "region": pl.String(), "load_id": pl.String(), "row": pl.Int64(),
                "source": pl.String()}


def simple(check: Callable[[pl.Series], Checked]) -> Check:
    """A checker that needs only its own column."""
    return lambda s, _frame, _profile: check(s)
