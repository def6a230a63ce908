"""entity and search: one entity by key (through the node DataLoader), and
:func:`fusion.services.entities.search` (full-text search over names, keys and addresses)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.calling import ref_of
from fusion.api.enums import EntityKind
from fusion.api.inputs import EntityRef, ScopeInput
from fusion.api.nodes import Node
from fusion.api.types.entity import Entity, entity_of
from fusion.errors import NotFound
from fusion.services.entities import search

ScopeArg = Annotated[ScopeInput | None, strawberry.argument(
    description="Regions to see; omitted: your home regions.")]


async def resolve_entity(
    info: Info,
    ref: Annotated[EntityRef, strawberry.argument(description="The entity (any key form).")],
    scope: ScopeArg = None,
) -> Entity | None:
    """The entity, or NOT_FOUND when it does not exist or lies outside scope."""
    ctx = info.context
    regions = await ctx.scope(scope)
    entity = ref_of(ref)
    node = await ctx.loaders.node.load((entity.kind, entity.key, regions))
    if node is None:
        raise NotFound(f"No {entity.kind.lower()} {entity.key!r} in scope.")
    return entity_of(node, regions)


async def resolve_search(
    info: Info,
    text: Annotated[str, strawberry.argument(
        description="Words to find in names, keys, summaries and addresses.")],
    kinds: Annotated[list[EntityKind] | None, strawberry.argument(
        description="Only these kinds; omitted: all.")] = None,
    limit: Annotated[int, strawberry.argument(description="Most hits to return.")] = 20,
    scope: ScopeArg = None,
) -> list[Entity]:
    """Exact key matches first, then full-text hits by score, all within scope."""
    ctx = info.context
    regions = await ctx.scope(scope)
    hits = await search(ctx.services.runtime, text,
                        kinds=[k.value for k in kinds] if kinds else None, limit=limit,
                        scope=regions, limit_cap=ctx.settings.api_max_results)
    nodes = [Node.of(n) for n in hits]
    ctx.loaders.prime(nodes, regions)  # every hit is visible in scope, with its properties
    return [entity_of(n, regions) for n in nodes]
