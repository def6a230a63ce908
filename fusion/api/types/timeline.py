"""Timeline events as the schema shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from fusion.api.enums import TimelineEventType
from fusion.api.types.entity import Entity


@strawberry.type(description="One call, text, parcel, sighting or case in an entity's timeline.")
class TimelineEvent:
    at: datetime = strawberry.field(description="When it happened (parcels: when shipped).")
    type: TimelineEventType = strawberry.field(description="What happened.")
    summary: str = strawberry.field(description="One line for the analyst.")
    entities: list[Entity] = strawberry.field(
        description="The entities taking part (phones, parcel, vehicle, sensor, case).")
    regions: list[str] = strawberry.field(description="Regions that reported it.")
    details: JSON = strawberry.field(
        description="Its other recorded fields (duration, carrier, item, position...).")
