"""coTravel and coTravelGroups: the contract's co-travel over the sightings visible in scope
(fusion.services.cotravel), run in a worker thread; each pair's evidence comes through a
DataLoader that finds the meetings of every asked-about pair in one pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import polars as pl
import strawberry
from strawberry.types import Info

from algorithms.meetings import co_travel_meetings
from fusion.api.inputs import EntityRef
from fusion.api.resolvers.common import check_limit
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.types.analysis import CoTravelGroup, CoTravelMeeting, CoTravelPair, sensor_ref
from fusion.api.types.entity import entity_ref
from fusion.api.workers import in_worker
from fusion.errors import BadInput, NotFound
from fusion.services import cotravel as analysis
from fusion.services.entities import EntityRef as AnalysisRef
from fusion.services.events import SUBJECT_TYPES, utc, visible_sightings
from queries.model import (
    CO_TRAVEL_MIN_GROUP_SIZE,
    CO_TRAVEL_MIN_MEETINGS,
    CO_TRAVEL_MIN_SENSORS,
    CO_TRAVEL_WINDOW_S,
)

WindowArg = Annotated[int, strawberry.argument(
    description="Seconds two sightings at one sensor may be apart and still meet.")]
MeetingsArg = Annotated[int, strawberry.argument(description="Fewest meetings reported.")]
SensorsArg = Annotated[int, strawberry.argument(
    description="Fewest distinct sensors reported.")]
SinceArg = Annotated[datetime | None, strawberry.argument(
    description="Only sightings at or after this time.")]
UntilArg = Annotated[datetime | None, strawberry.argument(
    description="Only sightings at or before this time.")]

# (a_type, a, b_type, b, window, since, until, scope): one pair's meetings, all of them.
EvidenceKey = tuple[str, str, str, str, int, datetime | None, datetime | None, frozenset[str]]


async def resolve_co_travel(
    info: Info,
    subject: Annotated[EntityRef | None, strawberry.argument(
        description="A VEHICLE or PHONE: only its pairs (it is `a`); omitted: all pairs.")
    ] = None,
    window_seconds: WindowArg = CO_TRAVEL_WINDOW_S,
    min_meetings: MeetingsArg = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: SensorsArg = CO_TRAVEL_MIN_SENSORS,
    since: SinceArg = None,
    until: UntilArg = None,
    limit: Annotated[int, strawberry.argument(description="Most pairs, strongest first.")] = 100,
    scope: ScopeArg = None,
) -> list[CoTravelPair]:
    """Pairs by distinct sensors, then meetings (both descending)."""
    ctx = info.context
    regions = await ctx.scope(scope)
    check_limit(ctx, limit)
    _check_window(window_seconds)
    ref = None
    if subject is not None:
        kind, key = subject.canonical()
        if kind not in SUBJECT_TYPES:
            raise BadInput(f"co-travel subjects are VEHICLE or PHONE, not {kind}")
        if await ctx.loaders.node.load((kind, key, regions)) is None:
            raise NotFound(f"No {kind.lower()} {key!r} in scope.")
        ref = AnalysisRef(kind, key)
    pairs = await in_worker(
        ctx.services, analysis.co_travel_pairs, ctx.settings.home, scope=regions, subject=ref,
        window=window_seconds, min_meetings=min_meetings,
        min_distinct_sensors=min_distinct_sensors, since=since, until=until, limit=limit)
    evidence = (window_seconds, utc(since), utc(until), regions)
    return [CoTravelPair(a=entity_ref(p.a.kind, p.a.key, regions),
                         b=entity_ref(p.b.kind, p.b.key, regions), meetings=p.meetings,
                         distinct_sensors=p.distinct_sensors, first_at=p.first_at,
                         last_at=p.last_at,
                         evidence_key=(SUBJECT_TYPES[p.a.kind], p.a.key,
                                       SUBJECT_TYPES[p.b.kind], p.b.key, *evidence))
            for p in pairs]


async def resolve_co_travel_groups(
    info: Info,
    window_seconds: WindowArg = CO_TRAVEL_WINDOW_S,
    min_meetings: MeetingsArg = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: SensorsArg = CO_TRAVEL_MIN_SENSORS,
    min_group_size: Annotated[int, strawberry.argument(
        description="Fewest members of a group.")] = CO_TRAVEL_MIN_GROUP_SIZE,
    since: SinceArg = None,
    until: UntilArg = None,
    scope: ScopeArg = None,
) -> list[CoTravelGroup]:
    """Maximal groups, largest first."""
    ctx = info.context
    regions = await ctx.scope(scope)
    _check_window(window_seconds)
    if min_group_size < 2:
        raise BadInput("minGroupSize must be at least 2")
    groups = await in_worker(
        ctx.services, analysis.co_travel_groups, ctx.settings.home, scope=regions,
        window=window_seconds, min_meetings=min_meetings,
        min_distinct_sensors=min_distinct_sensors, min_group_size=min_group_size,
        since=since, until=until)
    return [CoTravelGroup(members=[entity_ref(m.kind, m.key, regions) for m in g.members],
                          size=g.size, meetings=g.meetings,
                          distinct_sensors=g.distinct_sensors, first_at=g.first_at,
                          last_at=g.last_at) for g in groups]


def _check_window(window_seconds: int) -> None:
    if not 0 <= window_seconds <= 86_400:
        raise BadInput("windowSeconds must be between 0 and 86400")


async def load_evidence(info: Info, pair: CoTravelPair, limit: int) -> list[CoTravelMeeting]:
    """The first ``limit`` meetings of a pair (batched with the other pairs of the request)."""
    ctx = info.context
    check_limit(ctx, limit)
    rows = await ctx.loaders.evidence.load(pair.evidence_key)
    scope = pair.evidence_key[-1]
    return [CoTravelMeeting(sensor=sensor_ref(s, scope), a_at=a_at, b_at=b_at)
            for s, a_at, b_at in rows[:limit]]


def meetings_of_pairs(home, keys: Sequence[EvidenceKey]) -> list[list[tuple]]:
    """Every meeting of each pair, earliest first (one scan per window, time range and scope)."""
    groups: dict[tuple, list[EvidenceKey]] = defaultdict(list)
    for key in keys:
        groups[key[4:]].append(key)
    found: dict[EvidenceKey, list[tuple]] = {}
    for (window, since, until, scope), members in groups.items():
        pairs = pl.DataFrame([k[:4] for k in members], schema=["a_type", "a", "b_type", "b"],
                             orient="row")
        meetings = co_travel_meetings(visible_sightings(home, scope), pairs, window,
                                      since=since, until=until)
        for (a_type, a, b_type, b), part in meetings.group_by(
                ["a_type", "a", "b_type", "b"], maintain_order=True):
            found[(a_type, a, b_type, b, window, since, until, scope)] = list(
                part.select("sensor_id", "a_at", "b_at").iter_rows())
    return [found.get(k, []) for k in keys]
