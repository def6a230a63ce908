"""Co-travel as the service answers it (contract: "Co-travel, defined"), for the API, the CLI
and the benchmarks alike.

Reads the sightings in the event store that the caller's scope makes visible and evaluates
the definition exactly with :mod:`algorithms.cotravel` (the pairs' figures) and
:mod:`algorithms.meetings` (the meetings behind them, the same rule): pairs for one subject or
for all, co-travel groups, and the meetings of many pairs in one pass per window, time range
and scope (the API's evidence DataLoader batches every pair of a request into one call).
Sightings outside the scope, or outside ``[since, until]``, take no part in any figure: a pair
can qualify with the whole data and not within one region, or the other way round.

Arguments are checked here, once (BadInput); the polars and numpy work runs in a worker thread
through :func:`fusion.services.runtime.in_worker`. A pair is always the same
:class:`CoTravelPair` (two :class:`EntityRef`), whoever asks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from algorithms import cotravel as algo
from algorithms.meetings import PAIR_KEYS, co_travel_meetings
from fusion.errors import BadInput, NotFound
from fusion.services.entities import EntityRef
from fusion.services.events import SUBJECT_KINDS, SUBJECT_TYPES, utc, visible_sightings
from fusion.services.runtime import Runtime, in_worker
from fusion.services.storecache import StoreCache
from queries.model import (
    CO_TRAVEL_MIN_GROUP_SIZE,
    CO_TRAVEL_MIN_MEETINGS,
    CO_TRAVEL_MIN_SENSORS,
    CO_TRAVEL_MIN_SIGNIFICANCE,
    CO_TRAVEL_WINDOW_S,
)

__all__ = ["MAX_WINDOW", "MIN_DISTINCT_SENSORS", "MIN_GROUP_SIZE", "MIN_MEETINGS",
           "MIN_SIGNIFICANCE", "WINDOW",
           "CoTravelGroup", "CoTravelPair", "Meeting", "MeetingsOf", "Visible", "check_limit",
           "checked", "co_travel_evidence", "co_travel_groups", "co_travel_pairs", "group_list",
           "pair_frame", "pair_of", "pairs_of"]

# The contract's defaults (declared in the vocabulary): seconds two sightings may be apart,
# fewest meetings, fewest distinct sensors of a reported pair, fewest members of a group.
WINDOW = CO_TRAVEL_WINDOW_S
MIN_MEETINGS = CO_TRAVEL_MIN_MEETINGS
MIN_DISTINCT_SENSORS = CO_TRAVEL_MIN_SENSORS
MIN_GROUP_SIZE = CO_TRAVEL_MIN_GROUP_SIZE
# Fewest -log10 p of a reported pair (0: every pair the definition reports).
MIN_SIGNIFICANCE = CO_TRAVEL_MIN_SIGNIFICANCE
# Longest window the service evaluates (one day).
MAX_WINDOW = 86_400

# Pairs and meetings already computed, by arguments and event-store version.
ANSWERS = StoreCache()

# How a caller checks that a subject is visible to it (NotFound otherwise).
Visible = Callable[[EntityRef], Awaitable[bool]]


@dataclass(frozen=True)
class CoTravelPair:
    """A reported pair (``a`` is the asked-about subject when there is one).

    Beside the contract's figures: the days with a meeting, the median signed lead (seconds
    ``b`` passed after ``a``: positive when ``a`` leads), each subject's sightings in the
    period (its reads), and the significance against independent travel
    (:mod:`algorithms.significance`).
    """

    a: EntityRef
    b: EntityRef
    meetings: int
    distinct_sensors: int
    first_at: datetime
    last_at: datetime
    distinct_days: int = 0
    lead_s: float = 0.0
    a_reads: int = 0
    b_reads: int = 0
    expected_meetings: float = 0.0
    significance: float = 0.0

    @property
    def leader(self) -> EntityRef | None:
        """The subject that usually passes first (None when neither does)."""
        return self.a if self.lead_s > 0 else self.b if self.lead_s < 0 else None


@dataclass(frozen=True)
class Meeting:
    """One meeting: a's and b's sightings at one sensor within the window."""

    sensor: str
    a_at: datetime
    b_at: datetime


@dataclass(frozen=True)
class CoTravelGroup:
    """Subjects every two of which are a reported pair; figures are over its member pairs."""

    members: tuple[EntityRef, ...]
    meetings: int
    distinct_sensors: int
    first_at: datetime
    last_at: datetime
    significance: float = 0.0

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)


@dataclass(frozen=True)
class MeetingsOf:
    """Which meetings to list: those of ``a`` and ``b`` over the sightings visible in ``scope``
    within ``[since, until]``, ``window`` seconds apart at most."""

    a: EntityRef
    b: EntityRef
    window: float = WINDOW
    since: datetime | None = None
    until: datetime | None = None
    scope: frozenset[str] | None = None
    loads: frozenset[str] | None = None   # only these sighting loads (a paged walk's snapshot)

    @classmethod
    def of(cls, pair: CoTravelPair, *, window: float = WINDOW, since: datetime | None = None,
           until: datetime | None = None, scope: frozenset[str] | None = None,
           loads: frozenset[str] | None = None) -> MeetingsOf:
        """The meetings behind ``pair`` as reported with these arguments."""
        return cls(pair.a, pair.b, window, utc(since), utc(until), scope, loads)


async def co_travel_pairs(
    runtime: Runtime,
    *,
    scope: frozenset[str] | None,
    subject: EntityRef | None = None,
    window: float = WINDOW,
    min_meetings: int = MIN_MEETINGS,
    min_distinct_sensors: int = MIN_DISTINCT_SENSORS,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
    max_limit: int | None = None,
    visible: Visible | None = None,
    min_significance: float = MIN_SIGNIFICANCE,
) -> list[CoTravelPair]:
    """Reported pairs at least ``min_significance`` significant, most significant first (then
    most distinct sensors, most meetings), at most ``limit``.

    With ``subject`` (a VEHICLE or PHONE), only its pairs, the subject as ``a``; ``visible``
    (when given) must confirm the caller sees it.
    """
    check_limit(limit, max_limit)
    _check_window(window)
    _check_significance(min_significance)
    target = None if subject is None else _subject(subject)
    if subject is not None and visible is not None and not await visible(subject):
        raise NotFound(f"No {subject.kind.lower()} {subject.key!r} in scope.")
    return await in_worker(runtime, _pairs, runtime.home, scope, target, window, min_meetings,
                           min_distinct_sensors, utc(since), utc(until), limit,
                           min_significance)


async def co_travel_groups(
    runtime: Runtime,
    *,
    scope: frozenset[str] | None,
    window: float = WINDOW,
    min_meetings: int = MIN_MEETINGS,
    min_distinct_sensors: int = MIN_DISTINCT_SENSORS,
    min_group_size: int = MIN_GROUP_SIZE,
    since: datetime | None = None,
    until: datetime | None = None,
    min_significance: float = MIN_SIGNIFICANCE,
) -> list[CoTravelGroup]:
    """Maximal groups of at least ``min_group_size`` subjects, every two a reported pair at
    least ``min_significance`` significant; most significant group (its weakest pair) first."""
    _check_window(window)
    _check_significance(min_significance)
    if min_group_size < 2:
        raise BadInput("minGroupSize must be at least 2")
    return await in_worker(runtime, group_list, runtime.home, scope, window, min_meetings,
                           min_distinct_sensors, min_group_size, utc(since), utc(until),
                           min_significance=min_significance)


async def co_travel_evidence(runtime: Runtime, asked: Sequence[MeetingsOf],
                             limit: int | None = None) -> list[list[Meeting]]:
    """For each of ``asked``, its first ``limit`` meetings (all: None), earliest first."""
    check_limit(limit)
    for one in asked:
        _check_window(one.window)
        _subject(one.a)
        _subject(one.b)
    found = await in_worker(runtime, _meetings, runtime.home, list(asked))
    return [m if limit is None else m[:limit] for m in found]


def check_limit(limit: int | None, cap: int | None = None) -> None:
    """BadInput unless ``limit`` is None or within 1 .. ``cap`` (when there is a cap)."""
    if limit is None:
        return
    if cap is not None and not 1 <= limit <= cap:
        raise BadInput(f"limit must be between 1 and {cap}")
    if limit < 1:
        raise BadInput("limit must be at least 1")


def checked(window: float, subject: EntityRef | None,
            min_significance: float = MIN_SIGNIFICANCE) -> tuple[str, str] | None:
    """BadInput unless ``window``, ``subject`` (when given) and ``min_significance`` are
    valid; the subject's event-store key (None: all pairs)."""
    _check_window(window)
    _check_significance(min_significance)
    return None if subject is None else _subject(subject)


def _check_window(window: float) -> None:
    """BadInput unless the window is within 0 .. MAX_WINDOW seconds."""
    if not 0 <= window <= MAX_WINDOW:
        raise BadInput(f"windowSeconds must be between 0 and {MAX_WINDOW}")


def _check_significance(min_significance: float) -> None:
    """BadInput unless the significance threshold is a number >= 0."""
    if not min_significance >= 0:
        raise BadInput("minSignificance must be at least 0")


def _subject(ref: EntityRef) -> tuple[str, str]:
    """The event store's (subject_type, subject) of a VEHICLE or PHONE."""
    if ref.kind not in SUBJECT_TYPES:
        raise BadInput(f"co-travel subjects are VEHICLE or PHONE, not {ref.kind}")
    return SUBJECT_TYPES[ref.kind], ref.key


def _ref(subject_type: str, key: str) -> EntityRef:
    """The EntityRef of an event-store subject."""
    return EntityRef(SUBJECT_KINDS[subject_type], key)


def _pairs(home: Path, *args: object) -> list[CoTravelPair]:
    """The reported pairs over the visible sightings (worker thread), kept until the next
    load of sightings (:mod:`fusion.services.storecache`)."""
    return ANSWERS.answer(home, "sightings", ("pairs", args), lambda: _new_pairs(home, *args))


def _new_pairs(home: Path, scope: frozenset[str] | None, subject: tuple[str, str] | None,
               window: float, min_meetings: int, min_distinct_sensors: int,
               since: datetime | None, until: datetime | None,
               limit: int | None, min_significance: float) -> list[CoTravelPair]:
    """The reported pairs over the visible sightings, computed."""
    frame = pair_frame(home, scope, subject, window, min_meetings, min_distinct_sensors, since,
                       until, min_significance=min_significance)
    return pairs_of(frame if limit is None else frame.head(limit))


def pair_frame(home: Path, scope: frozenset[str] | None, subject: tuple[str, str] | None,
               window: float, min_meetings: int, min_distinct_sensors: int,
               since: datetime | None, until: datetime | None,
               loads: frozenset[str] | None = None,
               min_significance: float = MIN_SIGNIFICANCE) -> pl.DataFrame:
    """Every reported pair at least ``min_significance`` significant as a frame in report order
    (the sightings of ``loads`` only, when given: one snapshot of the event store). Checked
    arguments; runs in the caller's thread."""
    try:
        return algo.co_travel_pairs(visible_sightings(home, scope, loads), window, min_meetings,
                                    min_distinct_sensors, subject=subject, since=since,
                                    until=until, min_significance=min_significance)
    except ValueError as err:
        raise BadInput(str(err)) from err


def pairs_of(frame: pl.DataFrame) -> list[CoTravelPair]:
    """The pairs of rows of :func:`pair_frame`."""
    return [pair_of(r) for r in frame.iter_rows(named=True)]


def pair_of(row: dict) -> CoTravelPair:
    """The service pair of one row of :func:`algorithms.cotravel.co_travel_pairs`."""
    return CoTravelPair(
        _ref(row["a_type"], row["a"]), _ref(row["b_type"], row["b"]), row["meetings"],
        row["distinct_sensors"], row["first_at"], row["last_at"], row["distinct_days"],
        row["lead_s"], row["a_reads"], row["b_reads"], row["expected_meetings"],
        row["significance"])


def group_list(home: Path, scope: frozenset[str] | None, window: float, min_meetings: int,
            min_distinct_sensors: int, min_group_size: int, since: datetime | None,
            until: datetime | None, loads: frozenset[str] | None = None,
            min_significance: float = MIN_SIGNIFICANCE) -> list[CoTravelGroup]:
    """The co-travel groups at least ``min_significance`` significant over the visible
    sightings (of ``loads`` when given)."""
    try:
        pairs = algo.co_travel_pairs(visible_sightings(home, scope, loads), window, min_meetings,
                                     min_distinct_sensors, since=since, until=until,
                                     min_significance=min_significance)
        groups = algo.co_travel_groups(pairs, min_group_size)
    except ValueError as err:
        raise BadInput(str(err)) from err
    return [CoTravelGroup(tuple(_ref(m["subject_type"], m["subject"]) for m in r["members"]),
                          r["meetings"], r["distinct_sensors"], r["first_at"], r["last_at"],
                          r["significance"])
            for r in groups.iter_rows(named=True)]


def _meetings(home: Path, asked: list[MeetingsOf]) -> list[list[Meeting]]:
    """Every meeting of each asked pair (worker thread), kept until the next load."""
    return ANSWERS.answer(home, "sightings", ("meetings", tuple(asked)),
                          lambda: _new_meetings(home, asked))


def _new_meetings(home: Path, asked: list[MeetingsOf]) -> list[list[Meeting]]:
    """Every meeting of each asked pair: one listing per window, time range and scope."""
    asked = [replace(m, since=utc(m.since), until=utc(m.until)) for m in asked]
    batches: dict[tuple, list[MeetingsOf]] = defaultdict(list)
    for one in asked:
        batches[(one.window, one.since, one.until, one.scope, one.loads)].append(one)
    found: dict[MeetingsOf, list[Meeting]] = {}
    for (window, since, until, scope, loads), batch in batches.items():
        pairs = pl.DataFrame([(*_subject(m.a), *_subject(m.b)) for m in batch],
                             schema={k: pl.String for k in PAIR_KEYS}, orient="row")
        listed = co_travel_meetings(visible_sightings(home, scope, loads), pairs, window,
                                    since=since, until=until)
        for (a_type, a, b_type, b), part in listed.group_by(list(PAIR_KEYS),
                                                            maintain_order=True):
            key = MeetingsOf(_ref(a_type, a), _ref(b_type, b), window, since, until, scope,
                             loads)
            found[key] = [Meeting(*row) for row in
                          part.select("sensor_id", "a_at", "b_at").iter_rows()]
    return [found.get(m, []) for m in asked]
