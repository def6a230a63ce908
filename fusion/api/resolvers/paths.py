"""relationshipPaths: shortest paths through visible elements (contract: "Relationship paths").

Runs the statement of :mod:`queries.paths` (Neo4j 5 ``SHORTEST k`` with scope and type filters
inside the pattern) on the async driver. Every node on a returned path is visible in scope and
comes with all its properties, so the path's entities are built from the row and put in the
node DataLoader's cache: a request with paths is one statement. Only when no path is found are
the two ends looked up (one batched statement) to tell NOT_FOUND from "no path". The paths'
relationships are shown as the scope may see them (fusion.api.scoped), all in one recount.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.cypher import read
from fusion.api.enums import ExportFormat, RelType
from fusion.api.inputs import EntityRef
from fusion.api.nodes import Node, Rel, json_value
from fusion.api.resolvers.common import check_hops, check_limit, rel_type_names
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.scoped import scoped_rels
from fusion.api.types.entity import entity_of
from fusion.api.types.graph import ExportDocument, Path, export_document, relationship_of
from fusion.errors import NotFound
from queries.model import DEFAULT_PATH_TYPES, LABEL_KINDS, PATH_LIMIT, PATH_MAX_HOPS
from queries.paths import paths_statement

# The arguments relationshipPaths and exportPaths share.
FromArg = Annotated[EntityRef, strawberry.argument(name="from", description="Where paths start.")]
ToArg = Annotated[EntityRef, strawberry.argument(description="Where paths end.")]
MaxHopsArg = Annotated[int, strawberry.argument(description="Longest path, in relationships.")]
RelTypesArg = Annotated[list[RelType] | None, strawberry.argument(
    description="Types paths may use; omitted: all but SEEN_AT.")]
PathLimitArg = Annotated[int, strawberry.argument(description="Most paths, shortest first.")]


async def resolve_relationship_paths(
    info: Info,
    from_: FromArg,
    to: ToArg,
    max_hops: MaxHopsArg = PATH_MAX_HOPS,
    rel_types: RelTypesArg = None,
    limit: PathLimitArg = PATH_LIMIT,
    scope: ScopeArg = None,
) -> list[Path]:
    """Up to ``limit`` shortest paths, shortest first (NOT_FOUND when an end is not visible)."""
    regions = await info.context.scope(scope)
    records = await _path_records(info, regions, from_, to, max_hops, rel_types, limit)
    shown = await _shown_rels(info.context, records, regions)
    return [path_of(r, regions, shown) for r in records]


async def resolve_export_paths(
    info: Info,
    format: Annotated[ExportFormat, strawberry.argument(  # noqa: A002
        description="The file format.")],
    from_: FromArg,
    to: ToArg,
    max_hops: MaxHopsArg = PATH_MAX_HOPS,
    rel_types: RelTypesArg = None,
    limit: PathLimitArg = PATH_LIMIT,
    scope: ScopeArg = None,
) -> ExportDocument:
    """The union of the paths relationshipPaths returns, as a file."""
    ctx = info.context
    regions = await ctx.scope(scope)
    records = await _path_records(info, regions, from_, to, max_hops, rel_types, limit)
    keys = dict.fromkeys((LABEL_KINDS[n["kind"]], n["key"]) for r in records for n in r["nodes"])
    nodes = await asyncio.gather(*(ctx.loaders.node.load((k, x, regions)) for k, x in keys))
    rels = await _shown_rels(ctx, records, regions)
    return export_document(format, [n.in_scope(regions) for n in nodes if n is not None],
                           list(rels.values()), "paths")


async def _path_records(info, regions, from_, to, max_hops, rel_types, limit) -> list:
    """The rows of the path statement (path nodes primed in the node DataLoader); NOT_FOUND
    when an end is not visible in ``regions``."""
    ctx = info.context
    check_hops(ctx, max_hops, "maxHops")
    check_limit(ctx, limit)
    types = rel_type_names(rel_types, DEFAULT_PATH_TYPES)
    ends = from_.canonical(), to.canonical()
    (a_kind, a_key), (b_kind, b_key) = ends
    records = []
    if ends[0] != ends[1]:  # the statement finds no path from an entity to itself
        records = await read(ctx.services,
                             paths_statement(a_kind, b_kind, max_hops, limit, True, True),
                             from_key=a_key, to_key=b_key, types=types, scope=sorted(regions),
                             limit=limit)
    # A path's nodes are visible in scope (the statement's filters), its ends among them.
    ctx.loaders.prime((_node(n) for r in records for n in r["nodes"]), regions)
    found = await asyncio.gather(*(ctx.loaders.node.load((k, x, regions)) for k, x in ends))
    for (kind, key), node in zip(ends, found, strict=True):
        if node is None:
            raise NotFound(f"No {kind.lower()} {key!r} in scope.")
    return records


async def _shown_rels(ctx, records: list, scope: frozenset[str]) -> dict[tuple, Rel]:
    """Every relationship on the rows' paths, once, as ``scope`` may see it, by key."""
    rels = {rel.key: rel for rel in (_rel(x) for r in records for x in r["rels"])}
    return {rel.key: rel for rel in await scoped_rels(ctx, list(rels.values()), scope)}


def path_of(record, scope: frozenset[str], shown: dict[tuple, Rel]) -> Path:
    """A GraphQL path from a row of queries.paths (nodes with their properties), its
    relationships taken from ``shown`` (:func:`_shown_rels`)."""
    nodes = [_node(n) for n in record["nodes"]]
    by_key = {(n.kind, n.key): n for n in nodes}
    rels = [relationship_of(shown[_rel(r).key], scope, by_key) for r in record["rels"]]
    return Path(length=record["length"], nodes=[entity_of(n, scope) for n in nodes], rels=rels)


def _node(n: dict) -> Node:
    return Node.from_props(n["kind"], n["props"])


def _rel(r: dict) -> Rel:
    return Rel(r["type"], LABEL_KINDS[r["from_label"]], r["from"], LABEL_KINDS[r["to_label"]],
               r["to"], {k: json_value(v) for k, v in sorted(r["properties"].items())})
