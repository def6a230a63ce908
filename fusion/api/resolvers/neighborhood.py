"""neighborhood: arguments to :func:`fusion.services.neighbourhood.neighbourhood`, its answer
to GraphQL types. Relationships are shown as the scope may see them (fusion.api.scoped:
aggregates over in-scope events)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.calling import ref_of
from fusion.api.enums import RelType
from fusion.api.inputs import EntityRef
from fusion.api.nodes import Node, Rel
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.scoped import scoped_rels
from fusion.api.types.entity import entity_of
from fusion.api.types.graph import Neighborhood, relationship_of
from fusion.services.neighbourhood import neighbourhood


async def resolve_neighborhood(
    info: Info,
    ref: Annotated[EntityRef, strawberry.argument(description="The centre entity.")],
    hops: Annotated[int, strawberry.argument(description="How far to expand.")] = 1,
    rel_types: Annotated[list[RelType] | None, strawberry.argument(
        description="Relationship types to follow; omitted: all.")] = None,
    limit: Annotated[int, strawberry.argument(
        description="Most entities besides the centre (at most FUSION_API_MAX_RESULTS).")] = 200,
    scope: ScopeArg = None,
) -> Neighborhood:
    """The centre, up to ``limit`` visible entities within ``hops``, and their relationships."""
    ctx = info.context
    regions = await ctx.scope(scope)
    found = await neighbourhood(
        ctx.services.runtime, ref_of(ref), hops=hops,
        rel_types=None if rel_types is None else [t.value for t in rel_types],
        limit=limit, scope=regions, hop_limit=ctx.settings.api_max_hops,
        limit_cap=ctx.settings.api_max_results)
    nodes = [Node.of(n) for n in found.nodes]
    rels = await scoped_rels(ctx, [Rel.of(r) for r in found.rels], regions)
    by_key = {(n.kind, n.key): n for n in nodes}
    return Neighborhood(nodes=[entity_of(n, regions) for n in nodes],
                        rels=[relationship_of(r, regions, by_key) for r in rels],
                        truncated=found.truncated,
                        subgraph=([n.in_scope(regions) for n in nodes], rels))
