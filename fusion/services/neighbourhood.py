"""Neighbourhoods: breadth-first expansion around an entity with a hard cap
(:mod:`queries.neighborhood`).

Each hop asks Neo4j for at most the room left plus one, so ``truncated`` is exact and a hub
never materializes: the expansion stops streaming once the room is filled. Nothing outside
the scope is visited. Nodes come with all their stored properties.
"""

from __future__ import annotations

from fusion.errors import NotFound
from fusion.services.arguments import check_limit, check_range, check_types
from fusion.services.cypher import read
from fusion.services.models import EntityRef, Neighbourhood, PathNode, PathRel
from fusion.services.runtime import Runtime
from queries.model import KIND_LABELS, LABEL_KINDS, REL_TYPES
from queries.neighborhood import CENTER, EXPAND, RELS

# Relationships returned per entity allowed by `limit` (beyond that the answer is truncated).
RELS_PER_NODE = 4


async def neighbourhood(
    runtime: Runtime,
    centre: EntityRef,
    *,
    hops: int = 1,
    rel_types: list[str] | None = None,
    limit: int = 200,
    scope: frozenset[str],
    hop_limit: int,
    limit_cap: int | None = None,
) -> Neighbourhood:
    """The centre, up to ``limit`` visible entities within ``hops``, and their relationships
    (NotFound when the centre is not visible in ``scope``)."""
    check_range(hops, hop_limit, "hops")
    check_limit(limit, limit_cap)
    params = {"types": list(check_types(rel_types, REL_TYPES)), "scope": sorted(scope)}
    found = await read(runtime, CENTER[KIND_LABELS[centre.kind]], key=centre.key, **params)
    if not found:
        raise NotFound(f"No {centre.kind.lower()} {centre.key!r} in scope.")
    ids = [found[0]["id"]]
    nodes = [PathNode.from_props(KIND_LABELS[centre.kind], found[0]["props"])]
    inner, truncated = await _expand(runtime, ids, nodes, hops, limit, params)
    room = RELS_PER_NODE * limit
    records = await read(runtime, RELS, ids=ids, inner=inner, room=room + 1, **params)
    return Neighbourhood(tuple(nodes), tuple(_rel(r) for r in records[:room]),
                         truncated or len(records) > room)


async def _expand(runtime: Runtime, ids: list[str], nodes: list[PathNode], hops: int,
                  limit: int, params: dict) -> tuple[list[str], bool]:
    """Grow ``ids``/``nodes`` hop by hop; returns (ids expanded from, truncated)."""
    frontier, inner = list(ids), []
    for _ in range(hops):
        if not frontier:
            break
        room = limit - (len(nodes) - 1)
        records = await read(runtime, EXPAND, frontier=frontier, seen=ids, room=room + 1,
                             **params)
        inner += frontier
        cut = len(records) > room
        records = records[:room]
        frontier = [r["id"] for r in records]
        ids += frontier
        nodes += [PathNode.from_props(r["label"], r["props"]) for r in records]
        if cut:
            return inner, True
    return inner, False


def _rel(record) -> PathRel:
    """A relationship of a row of RELS."""
    return PathRel(record["type"], EntityRef(LABEL_KINDS[record["from_label"]], record["from"]),
                   EntityRef(LABEL_KINDS[record["to_label"]], record["to"]),
                   dict(record["props"]))
