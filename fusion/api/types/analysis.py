"""Gangs and co-travel as the schema shows them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.enums import ExportFormat
from fusion.api.types.entity import Entity, Person, Sensor, entity_ref
from fusion.api.types.graph import ExportDocument, FormatArg


@strawberry.enum(description="A kind of evidence linking two people in a gang.")
class LinkKind(Enum):
    CASE = strawberry.enum_value("case", description="Involved in the same case.")
    CALL = strawberry.enum_value("call", description="Calls between their phones.")
    PARCEL = strawberry.enum_value("parcel", description="Parcels between their phones.")
    COTRAVEL = strawberry.enum_value(
        "cotravel", description="Co-travel meetings of their vehicles or phones.")


@strawberry.type(description="A gang member and how central they are.")
class GangMember:
    person: Person = strawberry.field(description="The person.")
    score: float = strawberry.field(
        description="Key-player score: betweenness centrality within the gang.")
    rank: int = strawberry.field(description="1 for the most central member.")


@strawberry.type(description="Evidence of one kind on the links inside a gang.")
class GangLinkCount:
    type: LinkKind = strawberry.field(description="The kind of evidence.")
    count: int = strawberry.field(description="Units of it (cases, calls, parcels, meetings).")


@strawberry.type(description="A gang: a community of people linked by cases, calls, parcels "
                 "and co-travel, found by community detection within scope.")
class Gang:
    id: strawberry.ID = strawberry.field(
        description="Stable id (the same members give the same id).")
    size: int = strawberry.field(description="Number of members.")
    regions: list[str] = strawberry.field(
        description="Regions of its members, those in the query's scope only.")
    cohesion: float = strawberry.field(
        description="Share of its members' link weight that stays inside the gang (0..1).")
    members: list[GangMember] = strawberry.field(description="Members, most central first.")
    links: list[GangLinkCount] = strawberry.field(
        description="Evidence counts per kind on links inside the gang.")
    export_args: strawberry.Private[dict]

    @strawberry.field(description="The gang as a file: members and the evidence linking them.")
    async def export(self, info: Info, format: FormatArg) -> ExportDocument:  # noqa: A002
        from fusion.api.resolvers.gangs import export_gang

        return await export_gang(info, self, format)


@strawberry.type(description="One meeting: both subjects seen at one sensor within the window.")
class CoTravelMeeting:
    sensor: Sensor = strawberry.field(description="Where they met.")
    a_at: datetime = strawberry.field(description="When `a` was seen there.")
    b_at: datetime = strawberry.field(description="When `b` was seen there.")


@strawberry.type(description="Two vehicles or phones that travel together "
                 "(contract: Co-travel, defined).")
class CoTravelPair:
    a: Entity = strawberry.field(description="One subject (the asked-about one, if any).")
    b: Entity = strawberry.field(description="The other subject.")
    meetings: int = strawberry.field(description="Meetings (the smaller of the two sides' "
                                     "met sightings).")
    distinct_sensors: int = strawberry.field(description="Sensors where they met.")
    first_at: datetime = strawberry.field(description="Earliest met sighting.")
    last_at: datetime = strawberry.field(description="Latest met sighting.")
    evidence_key: strawberry.Private[tuple]

    @strawberry.field(description="The meetings behind the pair, earliest first.")
    async def evidence(self, info: Info, limit: Annotated[int, strawberry.argument(
            description="Most meetings to return.")] = 20) -> list[CoTravelMeeting]:
        from fusion.api.resolvers.cotravel import load_evidence

        return await load_evidence(info, self, limit)


@strawberry.type(description="Vehicles or phones every two of which co-travel.")
class CoTravelGroup:
    members: list[Entity] = strawberry.field(description="The subjects.")
    size: int = strawberry.field(description="Number of members.")
    meetings: int = strawberry.field(
        description="The fewest meetings of any two members (every pair met this often).")
    distinct_sensors: int = strawberry.field(
        description="The fewest distinct sensors of any two members.")
    first_at: datetime = strawberry.field(description="Earliest met sighting.")
    last_at: datetime = strawberry.field(description="Latest met sighting.")


def sensor_ref(key: str, scope: frozenset[str]) -> Sensor:
    """A Sensor known by key."""
    return entity_ref("SENSOR", key, scope)  # type: ignore[return-value]


__all__ = ["CoTravelGroup", "CoTravelMeeting", "CoTravelPair", "ExportFormat", "Gang",
           "GangLinkCount", "GangMember", "LinkKind", "sensor_ref"]
