"""The paged lists: co-travel pairs and groups, search hits, timelines and gangs, each as one
held answer (:mod:`fusion.services.paging`) that pages are cut from.

Each list is the very answer its unpaged service gives, in the same order, only whole: the
unpaged field's first ``limit`` items are this list's first ``limit``. Co-travel lists are built
from one version of the event store (its complete sighting loads), so they are rebuilt
identically while that version stands; the graph lists are held as read. Lists the service will
not hold whole (more than :data:`SEARCH_HOLD` hits, :data:`TIMELINE_HOLD` events) are
TOO_COMPLEX with a hint to narrow them, never silently cut.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

import polars as pl

from fusion.errors import BadInput, NotFound, TooComplex
from fusion.services import cotravel
from fusion.services.entities import EntityRef, PathNode, search
from fusion.services.events import utc
from fusion.services.gangs import Gang, gangs
from fusion.services.paging import (
    Page,
    Position,
    Rows,
    SnapshotGone,
    graph_snapshot,
    page,
    rows_of,
    store_snapshot,
)
from fusion.services.runtime import Runtime, in_worker_to_the_end
from fusion.services.timeline import Event, timeline

__all__ = ["SEARCH_HOLD", "TIMELINE_HOLD", "co_travel_group_page", "co_travel_pair_frame",
           "co_travel_pair_page", "gang_page", "search_page", "timeline_page"]

SEARCH_HOLD = 10_000      # most search hits held for paging
TIMELINE_HOLD = 100_000   # most events of one timeline held for paging
SIGHTINGS = "sightings"


class _PairList:
    """The co-travel pairs of one set of arguments: the key, current version and builder."""

    def __init__(self, runtime: Runtime, scope: frozenset[str] | None,
                 subject: EntityRef | None, window: float, min_meetings: int,
                 min_distinct_sensors: int, since: datetime | None,
                 until: datetime | None, min_significance: float) -> None:
        self.runtime = runtime
        target = cotravel.checked(window, subject, min_significance)
        self.args = (scope, target, window, min_meetings, min_distinct_sensors, utc(since),
                     utc(until), float(min_significance))
        self.key: Hashable = ("coTravel", str(runtime.home), *self.args)

    def current(self) -> str:
        return store_snapshot(self.runtime.home, SIGHTINGS)[0]

    async def build(self, at: str | None) -> tuple[str, Rows]:
        return await in_worker_to_the_end(self.runtime, _pair_frame, self.runtime, at,
                                          self.args)


def _pair_frame(runtime: Runtime, at: str | None, args: tuple) -> tuple[str, pl.DataFrame]:
    """The pairs of the store's current version (which must be ``at`` when given)."""
    version, loads = store_snapshot(runtime.home, SIGHTINGS)
    if at is not None and at != version:
        raise SnapshotGone()
    *rest, min_significance = args
    return version, cotravel.pair_frame(runtime.home, *rest, loads=loads,
                                        min_significance=min_significance)


async def _check_visible(subject: EntityRef | None, visible: cotravel.Visible | None) -> None:
    if subject is not None and visible is not None and not await visible(subject):
        raise NotFound(f"No {subject.kind.lower()} {subject.key!r} in scope.")


async def co_travel_pair_page(
    runtime: Runtime, at: Position | None, first: int, *, scope: frozenset[str] | None,
    subject: EntityRef | None = None, window: float = cotravel.WINDOW,
    min_meetings: int = cotravel.MIN_MEETINGS,
    min_distinct_sensors: int = cotravel.MIN_DISTINCT_SENSORS, since: datetime | None = None,
    until: datetime | None = None, visible: cotravel.Visible | None = None,
    min_significance: float = cotravel.MIN_SIGNIFICANCE,
    convert: Callable[[pl.DataFrame], Any] = cotravel.pairs_of,
) -> Page[cotravel.CoTravelPair]:
    """A page of :func:`fusion.services.cotravel.co_travel_pairs`' whole answer; ``convert``
    turns the page's slice of the held frame into its items (default: CoTravelPairs; the
    identity keeps the frame, for callers that encode it whole)."""
    listed = _PairList(runtime, scope, subject, window, min_meetings, min_distinct_sensors,
                       since, until, min_significance)
    await _check_visible(subject, visible)
    return await page(listed.key, at, first, build=listed.build, current=listed.current,
                      convert=convert, timeout=runtime.query_timeout)


async def co_travel_pair_frame(
    runtime: Runtime, *, scope: frozenset[str] | None, subject: EntityRef | None = None,
    window: float = cotravel.WINDOW, min_meetings: int = cotravel.MIN_MEETINGS,
    min_distinct_sensors: int = cotravel.MIN_DISTINCT_SENSORS, since: datetime | None = None,
    until: datetime | None = None, visible: cotravel.Visible | None = None,
    min_significance: float = cotravel.MIN_SIGNIFICANCE, at: str | None = None,
) -> tuple[str, pl.DataFrame]:
    """Every pair as a frame (columns of :func:`fusion.services.cotravel.pair_frame`) in report
    order, with its snapshot (``at``: that snapshot's, or SnapshotGone): the bulk export."""
    listed = _PairList(runtime, scope, subject, window, min_meetings, min_distinct_sensors,
                       since, until, min_significance)
    await _check_visible(subject, visible)
    snapshot, rows = await rows_of(listed.key, at, build=listed.build, current=listed.current,
                                   timeout=runtime.query_timeout)
    assert isinstance(rows, pl.DataFrame)
    return snapshot, rows


async def co_travel_group_page(
    runtime: Runtime, at: Position | None, first: int, *, scope: frozenset[str] | None,
    window: float = cotravel.WINDOW, min_meetings: int = cotravel.MIN_MEETINGS,
    min_distinct_sensors: int = cotravel.MIN_DISTINCT_SENSORS,
    min_group_size: int = cotravel.MIN_GROUP_SIZE, since: datetime | None = None,
    until: datetime | None = None, min_significance: float = cotravel.MIN_SIGNIFICANCE,
) -> Page[cotravel.CoTravelGroup]:
    """A page of :func:`fusion.services.cotravel.co_travel_groups`' whole answer."""
    cotravel.checked(window, None, min_significance)
    if min_group_size < 2:
        raise BadInput("minGroupSize must be at least 2")
    args = (scope, window, min_meetings, min_distinct_sensors, min_group_size, utc(since),
            utc(until), float(min_significance))

    def current() -> str:
        return store_snapshot(runtime.home, SIGHTINGS)[0]

    async def build(at: str | None) -> tuple[str, Rows]:
        return await in_worker_to_the_end(runtime, _group_list, runtime, at, args)

    return await page(("coTravelGroups", str(runtime.home), *args), at, first, build=build,
                      current=current, convert=list, timeout=runtime.query_timeout)


def _group_list(runtime: Runtime, at: str | None, args: tuple
                ) -> tuple[str, list[cotravel.CoTravelGroup]]:
    version, loads = store_snapshot(runtime.home, SIGHTINGS)
    if at is not None and at != version:
        raise SnapshotGone()
    *rest, min_significance = args
    return version, cotravel.group_list(runtime.home, *rest, loads=loads,
                                        min_significance=min_significance)


def _held_once(read: Any) -> Any:
    """A builder of a graph list: as of now only (a named snapshot is gone when not held)."""
    async def build(at: str | None) -> tuple[str, Rows]:
        if at is not None:
            raise SnapshotGone()
        return graph_snapshot(), await read()
    return build


async def search_page(runtime: Runtime, at: Position | None, first: int, *, text: str,
                      kinds: list[str] | None, scope: frozenset[str]) -> Page[PathNode]:
    """A page of :func:`fusion.services.entities.search`' whole answer."""
    async def read() -> list[PathNode]:
        hits = await search(runtime, text, kinds=kinds, limit=SEARCH_HOLD + 1, scope=scope)
        if len(hits) > SEARCH_HOLD:
            raise TooComplex(f"More than {SEARCH_HOLD} hits: narrow the search (more words, "
                             "fewer kinds).")
        return hits

    key = ("search", str(runtime.home), text, tuple(kinds or ()), scope)
    return await page(key, at, first, build=_held_once(read), convert=list)


async def timeline_page(runtime: Runtime, at: Position | None, first: int, *,
                        entity: EntityRef, scope: frozenset[str],
                        since: datetime | None = None, until: datetime | None = None
                        ) -> Page[Event]:
    """A page of :func:`fusion.services.timeline.timeline`'s whole answer."""
    async def read() -> list[Event]:
        events = await timeline(runtime, entity, scope=scope, since=since, until=until,
                                limit=TIMELINE_HOLD + 1)
        if len(events) > TIMELINE_HOLD:
            raise TooComplex(f"More than {TIMELINE_HOLD} events: narrow the time range "
                             "(since, until).")
        return events

    key = ("timeline", str(runtime.home), entity, scope, utc(since), utc(until))
    return await page(key, at, first, build=_held_once(read), convert=list)


async def gang_page(runtime: Runtime, at: Position | None, first: int, **options: Any
                    ) -> Page[Gang]:
    """A page of :func:`fusion.services.gangs.gangs`' answer for ``options`` (its keywords)."""
    async def read() -> list[Gang]:
        return await gangs(runtime, **options)

    key = ("gangs", str(runtime.home), *((name, tuple(sorted(value)) if isinstance(
        value, frozenset) else repr(value)) for name, value in sorted(options.items())))
    return await page(key, at, first, build=_held_once(read), convert=list)
