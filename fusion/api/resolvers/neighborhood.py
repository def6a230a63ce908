"""neighborhood: breadth-first expansion around an entity with a hard cap (queries.neighborhood).

Each hop asks Neo4j for at most the room left plus one, so ``truncated`` is exact and a hub
never materializes: the expansion stops streaming once the room is filled. Relationships are
shown as the scope may see them (fusion.api.scoped: aggregates over in-scope events).
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.cypher import read
from fusion.api.enums import RelType
from fusion.api.inputs import EntityRef
from fusion.api.nodes import Node, Rel
from fusion.api.resolvers.common import check_hops, check_limit, rel_type_names
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.scoped import scoped_rels
from fusion.api.types.entity import entity_of
from fusion.api.types.graph import Neighborhood, relationship_of
from fusion.errors import NotFound
from queries.model import KIND_LABELS
from queries.neighborhood import CENTER, EXPAND, RELS

# Relationships returned per node allowed by `limit` (beyond that the answer is truncated).
RELS_PER_NODE = 4


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
    check_hops(ctx, hops, "hops")
    check_limit(ctx, limit)
    kind, key = ref.canonical()
    types = rel_type_names(rel_types)
    params = {"types": types, "scope": sorted(regions)}
    centre = await read(ctx.services, CENTER[KIND_LABELS[kind]], key=key, **params)
    if not centre:
        raise NotFound(f"No {kind.lower()} {key!r} in scope.")
    ids = [centre[0]["id"]]
    nodes = [Node.from_props(KIND_LABELS[kind], centre[0]["props"])]
    inner, truncated = await _expand(ctx, ids, nodes, hops, limit, params)
    room = RELS_PER_NODE * limit
    records = await read(ctx.services, RELS, ids=ids, inner=inner, room=room + 1, **params)
    truncated = truncated or len(records) > room
    rels = await scoped_rels(ctx, [Rel.from_record(r) for r in records[:room]], regions)
    by_key = {(n.kind, n.key): n for n in nodes}
    return Neighborhood(nodes=[entity_of(n, regions) for n in nodes],
                        rels=[relationship_of(r, regions, by_key) for r in rels],
                        truncated=truncated,
                        subgraph=([n.in_scope(regions) for n in nodes], rels))


async def _expand(ctx, ids: list[str], nodes: list[Node], hops: int, limit: int,
                  params: dict) -> tuple[list[str], bool]:
    """Grow ``ids``/``nodes`` hop by hop; returns (ids expanded from, truncated)."""
    frontier, inner = list(ids), []
    for _ in range(hops):
        if not frontier:
            break
        room = limit - (len(nodes) - 1)
        records = await read(ctx.services, EXPAND, frontier=frontier, seen=ids, room=room + 1,
                             **params)
        inner += frontier
        if len(records) > room:
            records = records[:room]
            ids += [r["id"] for r in records]
            nodes += [Node.from_props(r["label"], r["props"]) for r in records]
            return inner, True
        frontier = [r["id"] for r in records]
        ids += frontier
        nodes += [Node.from_props(r["label"], r["props"]) for r in records]
    return inner, False
