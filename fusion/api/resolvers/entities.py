"""entity and search: one entity by key, and full-text search over names, keys and addresses."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.cypher import read
from fusion.api.enums import EntityKind
from fusion.api.inputs import EntityRef, ScopeInput
from fusion.api.nodes import Node
from fusion.api.resolvers.common import check_limit
from fusion.api.types.entity import Entity, entity_of
from fusion.errors import BadInput, NotFound
from loaders.normalize import InvalidValue, canonical_key
from queries.entities import SEARCH
from queries.model import KIND_LABELS

MAX_SEARCH_CHARS = 200
MAX_SEARCH_TERMS = 16
_PLAIN_TERM = re.compile(r"^[0-9A-Za-z]+$")

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
    kind, key = ref.canonical()
    node = await ctx.loaders.node.load((kind, key, regions))
    if node is None:
        raise NotFound(f"No {kind.lower()} {key!r} in scope.")
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
    check_limit(ctx, limit)
    query = lucene_query(text)
    wanted = [k.value for k in kinds] if kinds else list(KIND_LABELS)
    keys = exact_keys(text, wanted)
    # Exact matches (one batched lookup) and full-text hits at once: enough hits are asked
    # for to fill `limit` even if every exact match is among them too.
    hits, records = await asyncio.gather(
        exact_matches(ctx, keys, regions),
        read(ctx.services, SEARCH, query=query, scope=sorted(regions),
             labels=[KIND_LABELS[k] for k in wanted] if kinds else None,
             limit=limit + len(keys)))
    seen = {(n.kind, n.key) for n in hits}
    for r in records:
        node = Node.from_props(r["label"], r["props"])
        if (node.kind, node.key) not in seen:
            seen.add((node.kind, node.key))
            hits.append(node)
    return [entity_of(n, regions) for n in hits[:limit]]


def exact_keys(text: str, kinds: list[str]) -> list[tuple[str, str]]:
    """(kind, canonical key) of the text read as a key of each kind that accepts it."""
    found = []
    for kind in kinds:
        try:
            found.append((kind, canonical_key(kind, text.strip())))
        except InvalidValue:
            continue
    return found


async def exact_matches(ctx, keys: list[tuple[str, str]], regions: frozenset[str]
                        ) -> list[Node]:
    """The visible entities of ``keys``, in order (one DataLoader batch)."""
    nodes = await asyncio.gather(*(ctx.loaders.node.load((k, x, regions)) for k, x in keys))
    return [n for n in nodes if n is not None]


def lucene_query(text: str) -> str:
    """A Lucene query matching any of the words of ``text``, with no query syntax of its own.

    Each word becomes a quoted phrase (analysed like the index; only ``"`` and ``\\`` need
    escaping inside quotes); plain ASCII words also match as a prefix.
    """
    if len(text) > MAX_SEARCH_CHARS:
        raise BadInput(f"search text is longer than {MAX_SEARCH_CHARS} characters")
    words = text.split()
    if not words:
        raise BadInput("search text is empty")
    if len(words) > MAX_SEARCH_TERMS:
        raise BadInput(f"search text has more than {MAX_SEARCH_TERMS} words")
    parts = []
    for word in words:
        parts.append('"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"')
        if _PLAIN_TERM.match(word):
            parts.append(word.lower() + "*")
    return " OR ".join(parts)
