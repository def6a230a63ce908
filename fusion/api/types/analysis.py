"""Gangs and co-travel as the schema shows them: each type adapts the one service model
(fusion.services.gangs, fusion.services.cotravel) and asks the service for what its fields
need (a pair's meetings through the request's DataLoader, a gang's evidence for its export)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.enums import ExportFormat
from fusion.api.nodes import Node, regions_in
from fusion.api.types.entity import Entity, Person, Sensor, entity_ref
from fusion.api.types.graph import ExportDocument, FormatArg, export_document
from fusion.services import cotravel, gangs


@strawberry.enum(description="A kind of evidence linking two people in a gang.")
class LinkKind(Enum):
    CASE = strawberry.enum_value("case", description="Involved in the same case.")
    CALL = strawberry.enum_value("call", description="Calls between their phones.")
    PARCEL = strawberry.enum_value("parcel", description="Parcels between their phones.")
    COTRAVEL = strawberry.enum_value(
        "cotravel", description="Co-travel of their vehicles or phones, counted in whole "
        "orders of magnitude of its significance (floor of -log10 p).")


@strawberry.type(description="A gang member and how central they are.")
class GangMember:
    person: Person = strawberry.field(description="The person.")
    score: float = strawberry.field(
        description="Key-player score: betweenness centrality within the gang.")
    rank: int = strawberry.field(description="1 for the most central member.")


@strawberry.type(description="Evidence of one kind on the links inside a gang.")
class GangLinkCount:
    type: LinkKind = strawberry.field(description="The kind of evidence.")
    count: int = strawberry.field(description="Units of it (cases, calls, parcels; co-travel: "
                                  "orders of magnitude of significance).")


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
    found: strawberry.Private[gangs.Gang]
    export_args: strawberry.Private[dict]

    @strawberry.field(description="The gang as a file: members and the evidence linking them.")
    async def export(self, info: Info, format: FormatArg) -> ExportDocument:  # noqa: A002
        ctx = info.context
        scope = self.export_args["scope"]
        links = await gangs.gang_evidence(ctx.services.runtime, self.found, scope=scope,
                                          since=self.export_args["since"],
                                          until=self.export_args["until"])
        nodes = [await ctx.loaders.node.load(("PERSON", key, scope))
                 for key in sorted(self.found.keys)]
        rels = [{"type": f"{link.kind.upper()}_LINK", "from": {"kind": "PERSON", "key": link.a},
                 "to": {"kind": "PERSON", "key": link.b},
                 "properties": {"count": link.count}} for link in links]
        return export_document(format, [n.in_scope(scope) for n in nodes if isinstance(n, Node)],
                               rels, f"gang-{self.id}")

    @classmethod
    def of(cls, gang: gangs.Gang, scope: frozenset[str], args: dict) -> Gang:
        """The GraphQL gang of a service gang; ``args`` are the arguments it was found with."""
        members = [GangMember(person=entity_ref("PERSON", m.person.key, scope), score=m.score,
                              rank=m.rank) for m in gang.members]
        links = [GangLinkCount(type=LinkKind(kind), count=int(n))
                 for kind, n in sorted(gang.links.items())]
        return cls(id=strawberry.ID(gang.id), size=gang.size,
                   regions=regions_in(gang.regions, scope), cohesion=gang.cohesion,
                   members=members, links=links, found=gang, export_args=args)


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
    significance: float = strawberry.field(
        description="How surprising the meetings are if the two travel independently, each "
        "keeping its own habits: -log10 of the chance of at least this many meetings (2: one "
        "chance in 100). Evidence of association, not of a crime (docs/analyses.md).")
    expected_meetings: float = strawberry.field(
        description="Meetings expected by coincidence under independent travel.")
    distinct_days: int = strawberry.field(description="Days (UTC) with at least one meeting.")
    leader: Entity | None = strawberry.field(
        description="The subject that usually passes first (null when neither does).")
    median_lead_seconds: float = strawberry.field(
        description="Median over the meetings of b's time minus a's, in seconds: positive "
        "when a passes first.")
    a_reads: int = strawberry.field(
        description="Sightings of `a` in the period and scope (how often it passes anyway).")
    b_reads: int = strawberry.field(description="Sightings of `b` in the period and scope.")
    evidence_key: strawberry.Private[cotravel.MeetingsOf]

    @strawberry.field(description="The meetings behind the pair, earliest first.")
    async def evidence(self, info: Info, limit: Annotated[int, strawberry.argument(
            description="Most meetings to return.")] = 20) -> list[CoTravelMeeting]:
        ctx = info.context
        cotravel.check_limit(limit, ctx.settings.api_max_results)
        meetings = await ctx.loaders.evidence.load(self.evidence_key)
        scope = self.evidence_key.scope
        return [CoTravelMeeting(sensor=sensor_ref(m.sensor, scope), a_at=m.a_at, b_at=m.b_at)
                for m in meetings[:limit]]

    @classmethod
    def of(cls, pair: cotravel.CoTravelPair, asked: cotravel.MeetingsOf) -> CoTravelPair:
        """The GraphQL pair of a service pair; ``asked`` names its meetings."""
        scope = asked.scope
        leader = pair.leader
        return cls(a=entity_ref(pair.a.kind, pair.a.key, scope),
                   b=entity_ref(pair.b.kind, pair.b.key, scope), meetings=pair.meetings,
                   distinct_sensors=pair.distinct_sensors, first_at=pair.first_at,
                   last_at=pair.last_at, significance=pair.significance,
                   expected_meetings=pair.expected_meetings, distinct_days=pair.distinct_days,
                   leader=None if leader is None else entity_ref(leader.kind, leader.key, scope),
                   median_lead_seconds=pair.lead_s, a_reads=pair.a_reads, b_reads=pair.b_reads,
                   evidence_key=asked)


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
    significance: float = strawberry.field(
        description="The lowest significance of any two members (every pair is at least this "
        "surprising under independent travel).")

    @classmethod
    def of(cls, group: cotravel.CoTravelGroup, scope: frozenset[str]) -> CoTravelGroup:
        """The GraphQL group of a service group."""
        return cls(members=[entity_ref(m.kind, m.key, scope) for m in group.members],
                   size=group.size, meetings=group.meetings,
                   distinct_sensors=group.distinct_sensors, first_at=group.first_at,
                   last_at=group.last_at, significance=group.significance)


def sensor_ref(key: str, scope: frozenset[str]) -> Sensor:
    """A Sensor known by key."""
    return entity_ref("SENSOR", key, scope)  # type: ignore[return-value]


__all__ = ["CoTravelGroup", "CoTravelMeeting", "CoTravelPair", "ExportFormat", "Gang",
           "GangLinkCount", "GangMember", "LinkKind", "sensor_ref"]
