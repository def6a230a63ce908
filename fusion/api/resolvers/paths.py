"""relationshipPaths and exportPaths: arguments to :func:`fusion.services.paths.
relationship_paths`, its paths to GraphQL types (contract: "Relationship paths").

The service returns every path node with all its properties, so the path's entities are
built from them and put in the node DataLoader's cache: a request with paths is one
statement. Only when no path is found are the two ends looked up (one batched statement) to
tell NOT_FOUND from "no path". The paths' relationships are shown as the scope may see them
(fusion.api.scoped), all in one recount.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.calling import ref_of
from fusion.api.enums import ExportFormat, RelType
from fusion.api.inputs import EntityRef
from fusion.api.nodes import Node, Rel
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.scoped import scoped_rels
from fusion.api.types.entity import entity_of
from fusion.api.types.graph import ExportDocument, Path, export_document, relationship_of
from fusion.errors import NotFound
from fusion.services import models
from fusion.services.paths import relationship_paths
from queries.model import PATH_LIMIT, PATH_MAX_HOPS

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
    found = await _paths(info.context, regions, from_, to, max_hops, rel_types, limit)
    shown = await _shown_rels(info.context, found, regions)
    return [path_of(p, regions, shown) for p in found]


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
    found = await _paths(ctx, regions, from_, to, max_hops, rel_types, limit)
    keys = dict.fromkeys((n.kind, n.key) for p in found for n in p.nodes)
    nodes = await asyncio.gather(*(ctx.loaders.node.load((k, x, regions)) for k, x in keys))
    rels = await _shown_rels(ctx, found, regions)
    return export_document(format, [n.in_scope(regions) for n in nodes if n is not None],
                           list(rels.values()), "paths")


async def _paths(ctx, regions: frozenset[str], from_: EntityRef, to: EntityRef,
                 max_hops: int, rel_types: list[RelType] | None, limit: int
                 ) -> list[models.Path]:
    """The service's paths (their nodes primed in the node DataLoader); NOT_FOUND when an
    end is not visible in ``regions``."""
    ends = ref_of(from_), ref_of(to)
    found = await relationship_paths(
        ctx.services.runtime, *ends, max_hops=max_hops,
        rel_types=None if rel_types is None else [t.value for t in rel_types],
        limit=limit, scope=regions, properties=True,
        hop_limit=ctx.settings.api_max_hops, limit_cap=ctx.settings.api_max_results)
    # A path's nodes are visible in scope (the statement's filters), its ends among them.
    ctx.loaders.prime((Node.of(n) for p in found for n in p.nodes), regions)
    loaded = await asyncio.gather(*(ctx.loaders.node.load((e.kind, e.key, regions))
                                    for e in ends))
    for end, node in zip(ends, loaded, strict=True):
        if node is None:
            raise NotFound(f"No {end.kind.lower()} {end.key!r} in scope.")
    return found


async def _shown_rels(ctx, found: list[models.Path], scope: frozenset[str]
                      ) -> dict[tuple, Rel]:
    """Every relationship on the paths, once, as ``scope`` may see it, by key."""
    rels = {rel.key: rel for rel in (Rel.of(r) for p in found for r in p.rels)}
    return {rel.key: rel for rel in await scoped_rels(ctx, list(rels.values()), scope)}


def path_of(found: models.Path, scope: frozenset[str], shown: dict[tuple, Rel]) -> Path:
    """The GraphQL path of a service path, its relationships taken from ``shown``."""
    nodes = [Node.of(n) for n in found.nodes]
    by_key = {(n.kind, n.key): n for n in nodes}
    rels = [relationship_of(shown[Rel.of(r).key], scope, by_key) for r in found.rels]
    return Path(length=found.length, nodes=[entity_of(n, scope) for n in nodes], rels=rels)
