"""The contract's enums (EntityKind, RelType, CommunityAlgorithm) and the service's own.

EntityKind and RelType are built from the vocabulary (``queries.model``): a kind declared
there is a GraphQL value here, with the description declared beside it.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from queries.model import VOCABULARY, Vocabulary


def entity_kind_enum(vocabulary: Vocabulary) -> type[Enum]:
    """The GraphQL EntityKind of ``vocabulary``: one value per entity kind, in its order."""
    values = {k.name: strawberry.enum_value(k.name, description=k.description)
              for k in vocabulary.entities}
    return strawberry.enum(Enum("EntityKind", values),  # type: ignore[arg-type]
                           description="The kind of an entity in the graph (its Neo4j label).")


def rel_type_enum(vocabulary: Vocabulary) -> type[Enum]:
    """The GraphQL RelType of ``vocabulary``: one value per relationship type, in its order."""
    values = {r.name: strawberry.enum_value(r.name, description=r.description)
              for r in vocabulary.relationships}
    return strawberry.enum(Enum("RelType", values),  # type: ignore[arg-type]
                           description="The type of a relationship in the graph.")


EntityKind = entity_kind_enum(VOCABULARY)
RelType = rel_type_enum(VOCABULARY)


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
