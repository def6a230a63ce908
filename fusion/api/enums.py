"""The contract's enums (EntityKind, RelType, CommunityAlgorithm) and the service's own."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="The kind of an entity in the graph (its Neo4j label).")
class EntityKind(Enum):
    PERSON = strawberry.enum_value("PERSON", description="A person, keyed by national id number.")
    PHONE = strawberry.enum_value("PHONE", description="A phone number, keyed in E.164.")
    VEHICLE = strawberry.enum_value("VEHICLE", description="A vehicle, keyed by its plate.")
    CASE = strawberry.enum_value("CASE", description="A case file, keyed by case id.")
    PARCEL = strawberry.enum_value("PARCEL", description="An express parcel, keyed by waybill.")
    SENSOR = strawberry.enum_value("SENSOR", description="A checkpoint/ANPR sensor, by id.")
    ADDRESS = strawberry.enum_value("ADDRESS", description="An address, by normalized text.")


@strawberry.enum(description="The type of a relationship in the graph.")
class RelType(Enum):
    INVOLVED_IN = strawberry.enum_value("INVOLVED_IN",
                                        description="Person or phone -> case (with a role).")
    USES = strawberry.enum_value("USES", description="Person -> phone.")
    OWNS = strawberry.enum_value("OWNS", description="Person -> vehicle.")
    LIVES_AT = strawberry.enum_value("LIVES_AT", description="Person -> address.")
    OCCURRED_AT = strawberry.enum_value("OCCURRED_AT", description="Case -> address.")
    CALLED = strawberry.enum_value(
        "CALLED", description="Phone -> phone, one per ordered pair, with call aggregates.")
    SENT = strawberry.enum_value("SENT", description="Phone -> parcel (sender).")
    RECEIVED = strawberry.enum_value("RECEIVED", description="Phone -> parcel (receiver).")
    FROM_ADDRESS = strawberry.enum_value("FROM_ADDRESS", description="Parcel -> sender address.")
    TO_ADDRESS = strawberry.enum_value("TO_ADDRESS", description="Parcel -> receiver address.")
    SEEN_AT = strawberry.enum_value(
        "SEEN_AT", description="Vehicle or phone -> sensor, with sighting aggregates.")
    CO_TRAVELED = strawberry.enum_value(
        "CO_TRAVELED", description="Vehicle or phone -- vehicle or phone (co-travel analysis).")


@strawberry.enum(description="The community-detection algorithm that finds gangs.")
class CommunityAlgorithm(Enum):
    LEIDEN = strawberry.enum_value("LEIDEN", description="Leiden (Traag et al. 2019), seeded.")
    LOUVAIN = strawberry.enum_value("LOUVAIN", description="Louvain (Blondel et al. 2008).")


@strawberry.enum(description="What a timeline event records.")
class TimelineEventType(Enum):
    CALL = strawberry.enum_value("CALL", description="A voice call between two phones.")
    SMS = strawberry.enum_value("SMS", description="A text message between two phones.")
    PARCEL = strawberry.enum_value("PARCEL", description="A parcel shipped (its waybill).")
    CASE = strawberry.enum_value("CASE", description="A case reported.")
    SIGHTING = strawberry.enum_value("SIGHTING",
                                     description="A vehicle or phone seen at a sensor.")


@strawberry.enum(description="File format of a subgraph export.")
class ExportFormat(Enum):
    GRAPHML = strawberry.enum_value("GRAPHML", description="GraphML (yEd, Gephi, networkx).")
    GEXF = strawberry.enum_value("GEXF", description="GEXF 1.2 (Gephi).")
    CSV = strawberry.enum_value("CSV", description="Two CSV files: nodes and relationships.")
