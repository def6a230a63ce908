"""timeline: an entity's calls, texts, parcels, sightings and cases in time order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.cypher import read
from fusion.api.enums import TimelineEventType
from fusion.api.inputs import EntityRef
from fusion.api.nodes import regions_in
from fusion.api.resolvers.common import check_limit
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.timeline import Event, Subjects, case_event, store_events
from fusion.api.types.entity import entity_ref
from fusion.api.types.timeline import TimelineEvent
from fusion.api.workers import in_worker
from fusion.errors import BadInput, NotFound
from queries.model import KIND_LABELS
from queries.timeline import ADDRESS_PARCELS, CASES, EXISTS, PERSON_SUBJECTS


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
    check_limit(ctx, limit)
    if since is not None and until is not None and since > until:
        raise BadInput("since is after until")
    kind, key = ref.canonical()
    label = KIND_LABELS[kind]
    params = {"key": key, "scope": sorted(regions)}
    if not await read(ctx.services, EXISTS[label], **params):
        raise NotFound(f"No {kind.lower()} {key!r} in scope.")
    events: list[Event] = []
    if label in CASES:
        records = await read(ctx.services, CASES[label], since=since, until=until, limit=limit,
                             **params)
        events += [case_event(r) for r in records]
    subjects = await _subjects(ctx, kind, key, params)
    events += await in_worker(ctx.services, store_events, ctx.settings.home, regions, subjects,
                              since, until, limit)
    events.sort(key=Event.sort_key)
    return [TimelineEvent(at=e.at, type=TimelineEventType(e.type), summary=e.summary,
                          entities=[entity_ref(k, x, regions) for k, x in e.entities],
                          regions=regions_in(e.regions, regions), details=e.properties)
            for e in events[:limit]]


async def _subjects(ctx, kind: str, key: str, params: dict) -> Subjects:
    """The phones, plates, sensors and parcels whose events belong to the entity."""
    if kind == "PERSON":
        (r,) = await read(ctx.services, PERSON_SUBJECTS, **params)
        return Subjects(phones=tuple(r["phones"]), plates=tuple(r["plates"]))
    if kind == "ADDRESS":
        (r,) = await read(ctx.services, ADDRESS_PARCELS, **params)
        return Subjects(parcels=tuple(r["parcels"]))
    return {"PHONE": Subjects(phones=(key,)), "VEHICLE": Subjects(plates=(key,)),
            "SENSOR": Subjects(sensors=(key,)), "PARCEL": Subjects(parcels=(key,))
            }.get(kind, Subjects())
