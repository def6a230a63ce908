"""coTravel and coTravelGroups: arguments to one call of the co-travel service
(fusion.services.cotravel), its answer as GraphQL types; the ...Page fields page the whole
answer (fusion.services.paged). Each pair's evidence comes through the
request's DataLoader, which asks the service for the meetings of every pair at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.inputs import EntityRef
from fusion.api.paging import (
    AfterArg,
    CoTravelPairPage,
    FirstArg,
    Page,
    at,
    page_fields,
    page_of,
    position,
    query_digest,
)
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.types.analysis import CoTravelGroup, CoTravelPair
from fusion.api.workers import in_worker
from fusion.services import cotravel as service
from fusion.services import paged
from fusion.services.entities import EntityRef as Ref
from fusion.services.paging import snapshot_loads

WindowArg = Annotated[int, strawberry.argument(
    description="Seconds two sightings at one sensor may be apart and still meet.")]
MeetingsArg = Annotated[int, strawberry.argument(description="Fewest meetings reported.")]
SensorsArg = Annotated[int, strawberry.argument(
    description="Fewest distinct sensors reported.")]
SinceArg = Annotated[datetime | None, strawberry.argument(
    description="Only sightings at or after this time.")]
UntilArg = Annotated[datetime | None, strawberry.argument(
    description="Only sightings at or before this time.")]
SignificanceArg = Annotated[float, strawberry.argument(
    description="Only pairs at least this significant (-log10 of the chance of their "
    "meetings under independent travel; 0 keeps every pair the definition reports).")]

async def resolve_co_travel(
    info: Info,
    subject: Annotated[EntityRef | None, strawberry.argument(
        description="A VEHICLE or PHONE: only its pairs (it is `a`); omitted: all pairs.")
    ] = None,
    window_seconds: WindowArg = service.WINDOW,
    min_meetings: MeetingsArg = service.MIN_MEETINGS,
    min_distinct_sensors: SensorsArg = service.MIN_DISTINCT_SENSORS,
    since: SinceArg = None,
    until: UntilArg = None,
    limit: Annotated[int, strawberry.argument(description="Most pairs, strongest first.")] = 100,
    scope: ScopeArg = None,
    min_significance: SignificanceArg = service.MIN_SIGNIFICANCE,
) -> list[CoTravelPair]:
    """Pairs by significance, then distinct sensors, then meetings (all descending)."""
    ctx = info.context
    regions = await ctx.scope(scope)

    async def visible(ref: Ref) -> bool:
        return await ctx.loaders.node.load((ref.kind, ref.key, regions)) is not None

    pairs = await service.co_travel_pairs(
        ctx.services.runtime, scope=regions, subject=None if subject is None else Ref(
            *subject.canonical()), window=window_seconds, min_meetings=min_meetings,
        min_distinct_sensors=min_distinct_sensors, since=since, until=until, limit=limit,
        max_limit=ctx.settings.api_max_results, visible=visible,
        min_significance=min_significance)
    return [CoTravelPair.of(p, service.MeetingsOf.of(p, window=window_seconds, since=since,
                                                     until=until, scope=regions))
            for p in pairs]


async def resolve_co_travel_groups(
    info: Info,
    window_seconds: WindowArg = service.WINDOW,
    min_meetings: MeetingsArg = service.MIN_MEETINGS,
    min_distinct_sensors: SensorsArg = service.MIN_DISTINCT_SENSORS,
    min_group_size: Annotated[int, strawberry.argument(
        description="Fewest members of a group.")] = service.MIN_GROUP_SIZE,
    since: SinceArg = None,
    until: UntilArg = None,
    scope: ScopeArg = None,
    min_significance: SignificanceArg = service.MIN_SIGNIFICANCE,
) -> list[CoTravelGroup]:
    """Maximal groups, most significant (their weakest pair) first, then largest."""
    ctx = info.context
    regions = await ctx.scope(scope)
    groups = await service.co_travel_groups(
        ctx.services.runtime, scope=regions, window=window_seconds, min_meetings=min_meetings,
        min_distinct_sensors=min_distinct_sensors, min_group_size=min_group_size, since=since,
        until=until, min_significance=min_significance)
    return [CoTravelGroup.of(g, regions) for g in groups]


async def resolve_co_travel_page(
    info: Info,
    subject: Annotated[EntityRef | None, strawberry.argument(
        description="A VEHICLE or PHONE: only its pairs (it is `a`); omitted: all pairs.")
    ] = None,
    window_seconds: WindowArg = service.WINDOW,
    min_meetings: MeetingsArg = service.MIN_MEETINGS,
    min_distinct_sensors: SensorsArg = service.MIN_DISTINCT_SENSORS,
    since: SinceArg = None,
    until: UntilArg = None,
    first: FirstArg = 100,
    after: AfterArg = None,
    scope: ScopeArg = None,
    min_significance: SignificanceArg = service.MIN_SIGNIFICANCE,
) -> CoTravelPairPage:
    """coTravel's whole answer, a page at a time, in its order, from one snapshot."""
    ctx = info.context
    regions = await ctx.scope(scope)
    ref = None if subject is None else Ref(*subject.canonical())
    query = query_digest("coTravelPage", regions, subject=ref, window=window_seconds,
                         min_meetings=min_meetings, min_sensors=min_distinct_sensors,
                         since=since, until=until, min_significance=min_significance)
    cursor = position(info, first, after, query)

    async def visible(ref: Ref) -> bool:
        return await ctx.loaders.node.load((ref.kind, ref.key, regions)) is not None

    found = await paged.co_travel_pair_page(
        ctx.services.runtime, at(cursor), first, scope=regions, subject=ref,
        window=window_seconds, min_meetings=min_meetings,
        min_distinct_sensors=min_distinct_sensors, since=since, until=until, visible=visible,
        min_significance=min_significance, convert=lambda frame: frame)
    # Each pair's evidence from the walk's snapshot too, not from loads committed since.
    loads = await in_worker(ctx.services, snapshot_loads, ctx.services.runtime.home,
                            found.snapshot)
    return CoTravelPairPage(frame=found.items, asked={
        "window": window_seconds, "since": since, "until": until, "scope": regions,
        "loads": loads}, **page_fields(info, found, query))


async def resolve_co_travel_groups_page(
    info: Info,
    window_seconds: WindowArg = service.WINDOW,
    min_meetings: MeetingsArg = service.MIN_MEETINGS,
    min_distinct_sensors: SensorsArg = service.MIN_DISTINCT_SENSORS,
    min_group_size: Annotated[int, strawberry.argument(
        description="Fewest members of a group.")] = service.MIN_GROUP_SIZE,
    since: SinceArg = None,
    until: UntilArg = None,
    first: FirstArg = 100,
    after: AfterArg = None,
    scope: ScopeArg = None,
    min_significance: SignificanceArg = service.MIN_SIGNIFICANCE,
) -> Page[CoTravelGroup]:
    """coTravelGroups' whole answer, a page at a time, in its order, from one snapshot."""
    ctx = info.context
    regions = await ctx.scope(scope)
    query = query_digest("coTravelGroupsPage", regions, window=window_seconds,
                         min_meetings=min_meetings, min_sensors=min_distinct_sensors,
                         min_group_size=min_group_size, since=since, until=until,
                         min_significance=min_significance)
    cursor = position(info, first, after, query)
    found = await paged.co_travel_group_page(
        ctx.services.runtime, at(cursor), first, scope=regions, window=window_seconds,
        min_meetings=min_meetings, min_distinct_sensors=min_distinct_sensors,
        min_group_size=min_group_size, since=since, until=until,
        min_significance=min_significance)
    return page_of(info, found, query, [CoTravelGroup.of(g, regions) for g in found.items])
