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
from fusion.api.paging import AfterArg, FirstArg, Page, at, page_of, position, query_digest
from fusion.api.types.entity import Entity, entity_of
from fusion.errors import NotFound
from fusion.services import paged
from fusion.services.entities import PathNode, search

TextArg = Annotated[str, strawberry.argument(
    description="Words to find in names, keys, summaries and addresses.")]
KindsArg = Annotated[list[EntityKind] | None, strawberry.argument(
    description="Only these kinds; omitted: all.")]
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
    text: TextArg,
    kinds: KindsArg = None,
    limit: Annotated[int, strawberry.argument(description="Most hits to return.")] = 20,
    scope: ScopeArg = None,
) -> list[Entity]:
    """Exact key matches first, then full-text hits by score, all within scope."""
    ctx = info.context
    regions = await ctx.scope(scope)
    hits = await search(ctx.services.runtime, text,
                        kinds=[k.value for k in kinds] if kinds else None, limit=limit,
                        scope=regions, limit_cap=ctx.settings.api_max_results)
    return _entities(ctx, hits, regions)


async def resolve_search_page(
    info: Info,
    text: TextArg,
    kinds: KindsArg = None,
    first: FirstArg = 20,
    after: AfterArg = None,
    scope: ScopeArg = None,
) -> Page[Entity]:
    """search's whole answer (at most 10,000 hits), a page at a time, in its order."""
    ctx = info.context
    regions = await ctx.scope(scope)
    names = sorted(k.value for k in kinds) if kinds else None
    query = query_digest("searchPage", regions, text=text, kinds=names)
    cursor = position(info, first, after, query)
    found = await paged.search_page(ctx.services.runtime, at(cursor), first, text=text,
                                    kinds=names, scope=regions)
    return page_of(info, found, query, _entities(ctx, found.items, regions))


def _entities(ctx, hits: list[PathNode], regions: frozenset[str]) -> list[Entity]:
    """Hits as GraphQL entities; each primes the node loader (visible, with its properties)."""
    nodes = [Node.of(n) for n in hits]
    ctx.loaders.prime(nodes, regions)
    return [entity_of(n, regions) for n in nodes]
