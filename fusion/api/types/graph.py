"""Subgraphs: relationships, neighbourhoods, paths, and their exports as GraphQL documents."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from fusion.api.enums import ExportFormat, RelType
from fusion.api.export import export_files
from fusion.api.nodes import Node, Rel
from fusion.api.types.entity import Entity, entity_of, entity_ref

FormatArg = Annotated[ExportFormat, strawberry.argument(description="The file format.")]


@strawberry.type(description="A relationship between two entities.")
class Relationship:
    type: RelType = strawberry.field(description="The relationship type.")
    from_: Entity = strawberry.field(name="from", description="Where it starts.")
    to: Entity = strawberry.field(description="Where it ends.")
    properties: JSON = strawberry.field(
        description="Its properties: aggregates such as count, first_at, last_at over the "
        "events the query's scope sees, and regions (those in scope).")


def relationship_of(rel: Rel, scope: frozenset[str],
                    nodes: dict[tuple[str, str], Node] | None = None) -> Relationship:
    """The GraphQL relationship of a Rel, reusing already-read end nodes."""
    nodes = nodes or {}

    def end(kind: str, key: str) -> Entity:
        node = nodes.get((kind, key))
        return entity_of(node, scope) if node else entity_ref(kind, key, scope)

    return Relationship(type=RelType(rel.type), from_=end(rel.source.kind, rel.source.key),
                        to=end(rel.target.kind, rel.target.key), properties=rel.properties)


@strawberry.type(description="One file of an export.")
class ExportFile:
    name: str = strawberry.field(description="Suggested file name.")
    media_type: str = strawberry.field(description="Its media (MIME) type.")
    content: str = strawberry.field(description="The file's text.")


@strawberry.type(description="A subgraph written in a file format analysts' tools read.")
class ExportDocument:
    format: ExportFormat = strawberry.field(description="The format written.")
    files: list[ExportFile] = strawberry.field(
        description="The files (one for GraphML and GEXF; nodes and relationships for CSV).")


def export_document(fmt: ExportFormat, nodes: Iterable, rels: Iterable, name: str
                    ) -> ExportDocument:
    """The subgraph (Nodes/Rels or their export dicts) written in ``fmt``; files named ``name``."""
    files = [ExportFile(name=f.name, media_type=f.media_type, content=f.content)
             for f in export_files(fmt.value, nodes, rels, name)]
    return ExportDocument(format=fmt, files=files)


@strawberry.type(description="One path between two entities.")
class Path:
    length: int = strawberry.field(description="Number of relationships on the path.")
    nodes: list[Entity] = strawberry.field(description="Entities in path order.")
    rels: list[Relationship] = strawberry.field(description="Relationships in path order.")


@strawberry.type(description="Entities around a centre, expanded breadth first within scope.")
class Neighborhood:
    nodes: list[Entity] = strawberry.field(
        description="The centre first, then neighbours in the order the expansion met them.")
    rels: list[Relationship] = strawberry.field(
        description="Relationships of the requested types between returned entities, each "
        "with at least one end nearer than `hops` to the centre.")
    truncated: bool = strawberry.field(
        description="True exactly when the limit left out entities or relationships that the "
        "expansion would otherwise have returned.")
    subgraph: strawberry.Private[tuple[list[Node], list[Rel]]]

    @strawberry.field(description="This neighbourhood as a file (GraphML, GEXF or CSV).")
    def export(self, format: FormatArg) -> ExportDocument:  # noqa: A002 (GraphQL name)
        nodes, rels = self.subgraph
        return export_document(format, nodes, rels, "neighborhood")
