"""Paging: a list a caller needs in full, answered a page at a time from one snapshot.

Why held answers: a caller fetching a million co-travel pairs page by page must get each pair
exactly once, with no gap, even while a load adds sightings. So a list is computed once, in
full and in its stable order, for one snapshot, and *held*; every page is a slice of the held
answer at an offset. A held answer never changes, so offsets never skip or repeat.

Snapshots come in two kinds:

* **event-store lists** (co-travel pairs and groups) name the store's version: a digest of the
  complete loads of a source (:func:`store_snapshot`). The list is computed from exactly those
  loads, so a held answer that was evicted (or is held by another process) is recomputed,
  identically, while the store still has exactly those loads; after a load it is gone.
* **graph lists** (search, timelines, gangs) read Neo4j, which keeps no snapshot across
  transactions: their snapshot is the held answer itself (a random id); once evicted it is gone.

Concurrent first pages of one event-store list share one build (a walk and an export of the
same list started together compute it once). A gone snapshot is :class:`SnapshotGone`
(BAD_INPUT, "start again from the first page"), never a silently different answer. Held
answers live in this process (:data:`HELD`), least recently used first out, within
:data:`HELD_BYTES` and for :data:`HELD_SECONDS` after their last page.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

import polars as pl

from fusion.errors import BadInput, TooComplex
from loaders.eventstore import EventStore

__all__ = ["HELD", "HELD_BYTES", "HELD_SECONDS", "Held", "HeldAnswers", "Page", "Position",
           "SnapshotGone", "check_first", "graph_snapshot", "page", "rows_of", "snapshot_loads",
           "store_snapshot"]

T = TypeVar("T")
Rows = pl.DataFrame | Sequence[Any]

HELD_BYTES = 1 << 30        # held answers of one process, at most (LRU beyond)
HELD_SECONDS = 30 * 60      # a held answer unused this long is dropped
_ITEM_BYTES = 1024          # estimated size of one held Python item (a gang, an event, a hit)


class SnapshotGone(BadInput):
    """The snapshot a cursor names is no longer held and cannot be rebuilt."""

    def __init__(self) -> None:
        super().__init__("This cursor's snapshot is no longer available (the data changed "
                         "since and the held answer expired); page again from the start.")


@dataclass(frozen=True)
class Position:
    """Where a page starts: the snapshot of the first page and how many items came before."""

    snapshot: str
    offset: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items ``offset ..`` of a list of ``total`` items, all from ``snapshot``."""

    items: list[T]
    snapshot: str
    offset: int
    total: int

    @property
    def next(self) -> Position | None:
        """Where the next page starts (None: this is the last)."""
        end = self.offset + len(self.items)
        return Position(self.snapshot, end) if end < self.total else None


@dataclass
class Held:
    """One held answer: its rows (a frame or a sequence), size estimate, last use."""

    rows: Rows
    size: int
    used: float


class HeldAnswers:
    """Held answers by (list key, snapshot): least recently used dropped first."""

    def __init__(self, budget: int = HELD_BYTES, ttl: float = HELD_SECONDS) -> None:
        self.budget, self.ttl = budget, ttl
        self._held: OrderedDict[Hashable, Held] = OrderedDict()
        self.building: dict[Hashable, asyncio.Future] = {}  # builds under way

    def get(self, key: Hashable) -> Rows | None:
        """The held rows of ``key`` (None: not held), marked used now."""
        self._expire()
        held = self._held.get(key)
        if held is None:
            return None
        held.used = time.monotonic()
        self._held.move_to_end(key)
        return held.rows

    def put(self, key: Hashable, rows: Rows) -> None:
        """Hold ``rows`` under ``key``, dropping the least recently used beyond the budget."""
        self._held[key] = Held(rows, _size_of(rows), time.monotonic())
        self._held.move_to_end(key)
        while self.size() > self.budget and len(self._held) > 1:
            self._held.popitem(last=False)

    def size(self) -> int:
        """Bytes held (estimated)."""
        return sum(h.size for h in self._held.values())

    def clear(self) -> None:
        """Drop every held answer."""
        self._held.clear()

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.ttl
        for key in [k for k, h in self._held.items() if h.used < cutoff]:
            del self._held[key]


HELD = HeldAnswers()


def _size_of(rows: Rows) -> int:
    if isinstance(rows, pl.DataFrame):
        return int(rows.estimated_size())
    return len(rows) * _ITEM_BYTES


def check_first(first: int, cap: int | None) -> None:
    """BadInput unless ``first`` is within 1 .. ``cap``."""
    if first < 1 or (cap is not None and first > cap):
        raise BadInput(f"first must be between 1 and {cap}" if cap else "first must be >= 1")


def store_snapshot(home: Path, source: str) -> tuple[str, frozenset[str]]:
    """The event store's version for ``source`` (a digest of its complete loads) and the loads."""
    loads = frozenset(EventStore(home).complete_loads(source))
    digest = hashlib.sha256("\n".join(sorted(loads)).encode()).hexdigest()[:24]
    version = f"{source}:{digest}"
    with _VERSIONS_LOCK:
        _VERSIONS[(str(home), version)] = loads
        _VERSIONS.move_to_end((str(home), version))
        while len(_VERSIONS) > _VERSIONS_KEPT:
            _VERSIONS.popitem(last=False)
    return version, loads


def snapshot_loads(home: Path, version: str) -> frozenset[str]:
    """The complete loads of a store version this process computed from (a held walk's
    snapshot), so what is read beside its pages — a pair's meetings — comes from the same
    loads; SnapshotGone when the version is neither remembered nor the store's current one."""
    with _VERSIONS_LOCK:
        loads = _VERSIONS.get((str(home), version))
    if loads is None:
        current, loads = store_snapshot(home, version.split(":", 1)[0])
        if current != version:
            raise SnapshotGone()
    return loads


# The loads of the store versions seen lately, by (FUSION_HOME, version): a version is a digest
# of its loads, so an entry never goes stale; a walk older than the last 64 versions is rare.
_VERSIONS: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
_VERSIONS_KEPT = 64
_VERSIONS_LOCK = threading.Lock()


def graph_snapshot() -> str:
    """A fresh snapshot id for an answer read from the graph (held, never rebuilt)."""
    return "held:" + secrets.token_hex(12)


# Builds a list for a snapshot (None: as of now): its snapshot and rows; SnapshotGone when a
# named snapshot cannot be rebuilt.
Build = Callable[[str | None], Awaitable[tuple[str, Rows]]]
# The snapshot a build as of now would have (an event-store version), so a held answer of it
# is reused; None: every first page builds anew.
Current = Callable[[], str] | None


async def rows_of(key: Hashable, at: str | None, *, build: Build, current: Current = None,
                  held: HeldAnswers = HELD, timeout: float | None = None) -> tuple[str, Rows]:
    """The whole list ``key`` as of snapshot ``at`` (None: now): held, or built and held.

    A snapshot's build is one at a time (concurrent callers share it) and outlives its callers:
    one that waits longer than ``timeout`` seconds is told TOO_COMPLEX, but the build goes on,
    is held when it lands, and asking again waits for it or finds it held — so a list that
    takes longer than the query timeout to compute is still answered, never computed twice.
    """
    snapshot = at if at is not None else (current() if current is not None else None)
    rows = None if snapshot is None else held.get((key, snapshot))
    if rows is not None:
        return snapshot, rows
    if snapshot is None:  # a graph list: every walk reads anew
        built = await build(at)
        held.put((key, built[0]), built[1])
        return built
    flight = (key, snapshot, at)
    pending = held.building.get(flight)
    if pending is None:
        pending = held.building[flight] = asyncio.ensure_future(build(at))
        pending.add_done_callback(partial(_landed, held, key, flight))
    try:
        return await asyncio.wait_for(asyncio.shield(pending), timeout)
    except TimeoutError:
        raise TooComplex(f"The list is still being computed (over {timeout:g} s); ask "
                         "again shortly: the computation goes on and its answer is kept."
                         ) from None


def _landed(held: HeldAnswers, key: Hashable, flight: Hashable, done: asyncio.Future) -> None:
    """A snapshot's build finished: hold its answer (failures are its callers' to report)."""
    held.building.pop(flight, None)
    if not done.cancelled() and done.exception() is None:
        snapshot, rows = done.result()
        held.put((key, snapshot), rows)


async def page(key: Hashable, at: Position | None, first: int, *, build: Build,
               convert: Callable[[Rows], list[T]], current: Current = None,
               held: HeldAnswers = HELD, timeout: float | None = None) -> Page[T]:
    """Items ``at.offset ..`` (at most ``first``) of the list ``key`` as of ``at.snapshot``;
    the first page (``at`` None) starts a snapshot as of now (see :func:`rows_of`)."""
    snapshot, rows = await rows_of(key, None if at is None else at.snapshot, build=build,
                                   current=current, held=held, timeout=timeout)
    offset = 0 if at is None else at.offset
    total = len(rows)
    if not 0 <= offset <= total:
        raise SnapshotGone()
    part = rows.slice(offset, first) if isinstance(rows, pl.DataFrame) else rows[
        offset:offset + first]
    return Page(convert(part), snapshot, offset, total)
