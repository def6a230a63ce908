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
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.types.entity import entity_ref
from fusion.api.types.timeline import TimelineEvent
from fusion.services.timeline import timeline


async def resolve_timeline(
    info: Info,
    ref: Annotated[EntityRef, strawberry.argument(description="The entity.")],
    since: Annotated[datetime | None, strawberry.argument(
        description="Only events at or after this time.")] = None,
    until: Annotated[datetime | None, strawberry.argument(
        description="Only events at or before this time.")] = None,
    limit: Annotated[int, strawberry.argument(
        description="Most events: the earliest ones in the range.")] = 200,
    scope: ScopeArg = None,
) -> list[TimelineEvent]:
    """Events in time order (earliest first); page on with `since`."""
    ctx = info.context
    regions = await ctx.scope(scope)
    events = await timeline(ctx.services.runtime, ref_of(ref), scope=regions, since=since,
                            until=until, limit=limit, limit_cap=ctx.settings.api_max_results)
    return [TimelineEvent(at=e.at, type=TimelineEventType(e.type), summary=e.summary,
                          entities=[entity_ref(k, x, regions) for k, x in e.entities],
                          regions=regions_in(e.regions, regions), details=e.properties)
            for e in events]
