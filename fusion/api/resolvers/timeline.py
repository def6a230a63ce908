"""timeline: arguments to :func:`fusion.services.timeline.timeline`, its events to GraphQL
types (an entity's calls, texts, parcels, sightings and cases in time order)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.calling import ref_of
from fusion.api.enums import TimelineEventType
from fusion.api.inputs import EntityRef
from fusion.api.nodes import regions_in
from fusion.api.paging import AfterArg, FirstArg, Page, at, page_of, position, query_digest
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.types.entity import entity_ref
from fusion.api.types.timeline import TimelineEvent
from fusion.services import paged
from fusion.services.timeline import Event, timeline

RefArg = Annotated[EntityRef, strawberry.argument(description="The entity.")]
SinceArg = Annotated[datetime | None, strawberry.argument(
    description="Only events at or after this time.")]
UntilArg = Annotated[datetime | None, strawberry.argument(
    description="Only events at or before this time.")]


async def resolve_timeline(
    info: Info,
    ref: RefArg,
    since: SinceArg = None,
    until: UntilArg = None,
    limit: Annotated[int, strawberry.argument(
        description="Most events: the earliest ones in the range.")] = 200,
    scope: ScopeArg = None,
) -> list[TimelineEvent]:
    """Events in time order (earliest first); page on with `since`."""
    ctx = info.context
    regions = await ctx.scope(scope)
    events = await timeline(ctx.services.runtime, ref_of(ref), scope=regions, since=since,
                            until=until, limit=limit, limit_cap=ctx.settings.api_max_results)
    return [_event(e, regions) for e in events]


async def resolve_timeline_page(
    info: Info,
    ref: RefArg,
    since: SinceArg = None,
    until: UntilArg = None,
    first: FirstArg = 200,
    after: AfterArg = None,
    scope: ScopeArg = None,
) -> Page[TimelineEvent]:
    """timeline's whole answer (at most 100,000 events), a page at a time, in time order."""
    ctx = info.context
    regions = await ctx.scope(scope)
    entity = ref_of(ref)
    query = query_digest("timelinePage", regions, entity=entity, since=since, until=until)
    cursor = position(info, first, after, query)
    found = await paged.timeline_page(ctx.services.runtime, at(cursor), first,
                                      entity=entity, scope=regions, since=since,
                                      until=until)
    return page_of(info, found, query, [_event(e, regions) for e in found.items])


def _event(e: Event, regions: frozenset[str]) -> TimelineEvent:
    """The GraphQL event of a service event, seen from ``regions``."""
    return TimelineEvent(at=e.at, type=TimelineEventType(e.type), summary=e.summary,
                         entities=[entity_ref(k, x, regions) for k, x in e.entities],
                         regions=regions_in(e.regions, regions), details=e.properties)
