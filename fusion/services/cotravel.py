"""Co-travel as the service answers it (contract: "Co-travel, defined").

Reads the sightings in the event store that the caller's scope makes visible and evaluates
the definition exactly with :mod:`algorithms.cotravel`: pairs for one subject or for all,
the meetings behind a pair, and co-travel groups. Sightings outside the scope, or outside
``[since, until]``, take no part in any figure: a pair can qualify with the whole data and not
within one region, or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from algorithms import cotravel as algo
from fusion.errors import BadInput
from fusion.services.entities import EntityRef
from fusion.services.events import SUBJECT_KINDS, SUBJECT_TYPES, utc, visible_sightings
from queries.model import (
    CO_TRAVEL_MIN_GROUP_SIZE,
    CO_TRAVEL_MIN_MEETINGS,
    CO_TRAVEL_MIN_SENSORS,
    CO_TRAVEL_WINDOW_S,
)

__all__ = ["CoTravelGroup", "CoTravelPair", "Meeting", "co_travel_evidence",
           "co_travel_groups", "co_travel_pairs"]


@dataclass(frozen=True)
class CoTravelPair:
    """A reported pair (``a`` is the asked-about subject when there is one)."""

    a: EntityRef
    b: EntityRef
    meetings: int
    distinct_sensors: int
    first_at: datetime
    last_at: datetime


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

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)


def co_travel_pairs(
    home: Path,
    *,
    scope: frozenset[str] | None,
    subject: EntityRef | None = None,
    window: float = CO_TRAVEL_WINDOW_S,
    min_meetings: int = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: int = CO_TRAVEL_MIN_SENSORS,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
) -> list[CoTravelPair]:
    """Reported pairs, most distinct sensors then most meetings first, at most ``limit``.

    With ``subject`` (a VEHICLE or PHONE), only its pairs, the subject as ``a``.
    """
    _check_limit(limit)
    target = None if subject is None else _subject(subject)
    try:
        frame = algo.co_travel_pairs(
            visible_sightings(home, scope), window, min_meetings, min_distinct_sensors,
            subject=target, since=utc(since), until=utc(until))
    except ValueError as err:
        raise BadInput(str(err)) from err
    if limit is not None:
        frame = frame.head(limit)
    return [_pair(row) for row in frame.iter_rows(named=True)]


def co_travel_evidence(
    home: Path,
    a: EntityRef,
    b: EntityRef,
    *,
    scope: frozenset[str] | None,
    window: float = CO_TRAVEL_WINDOW_S,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 20,
) -> list[Meeting]:
    """The meetings of ``a`` and ``b`` (visible sightings only), earliest first."""
    _check_limit(limit)
    try:
        frame = algo.co_travel_evidence(
            visible_sightings(home, scope), _subject(a), _subject(b), window, limit=limit,
            since=utc(since), until=utc(until))
    except ValueError as err:
        raise BadInput(str(err)) from err
    return [Meeting(*row) for row in frame.iter_rows()]


def co_travel_groups(
    home: Path,
    *,
    scope: frozenset[str] | None,
    window: float = CO_TRAVEL_WINDOW_S,
    min_meetings: int = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: int = CO_TRAVEL_MIN_SENSORS,
    min_group_size: int = CO_TRAVEL_MIN_GROUP_SIZE,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[CoTravelGroup]:
    """Maximal groups of at least ``min_group_size`` subjects, every two a reported pair."""
    try:
        pairs = algo.co_travel_pairs(
            visible_sightings(home, scope), window, min_meetings, min_distinct_sensors,
            since=utc(since), until=utc(until))
        groups = algo.co_travel_groups(pairs, min_group_size)
    except ValueError as err:
        raise BadInput(str(err)) from err
    return [_group(row) for row in groups.iter_rows(named=True)]


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise BadInput("limit must be at least 1")


def _subject(ref: EntityRef) -> tuple[str, str]:
    """The event store's (subject_type, subject) of a VEHICLE or PHONE."""
    if ref.kind not in SUBJECT_TYPES:
        raise BadInput(f"co-travel subjects are VEHICLE or PHONE, not {ref.kind}")
    return SUBJECT_TYPES[ref.kind], ref.key


def _ref(subject_type: str, key: str) -> EntityRef:
    return EntityRef(SUBJECT_KINDS[subject_type], key)


def _pair(row: dict) -> CoTravelPair:
    return CoTravelPair(_ref(row["a_type"], row["a"]), _ref(row["b_type"], row["b"]),
                        row["meetings"], row["distinct_sensors"], row["first_at"],
                        row["last_at"])


def _group(row: dict) -> CoTravelGroup:
    members = tuple(_ref(m["subject_type"], m["subject"]) for m in row["members"])
    return CoTravelGroup(members, row["meetings"], row["distinct_sensors"], row["first_at"],
                         row["last_at"])

