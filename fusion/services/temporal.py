"""Time-respecting paths between two entities: each hop's event no earlier than the previous
one's, and at most ``max_gap`` after it (i2's "Find Path" with time ordering).

Hops are individual events visible in the caller's scope (:mod:`fusion.services.contacts`),
searched by :func:`algorithms.temporal.time_respecting_paths`: the fewest-hop routes, each
with its earliest arrival and one walk achieving it. Direction is ignored, as for
relationship paths: a call joins caller and callee at its time both ways.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from algorithms import temporal as algo
from fusion.errors import BadInput
from fusion.services.contacts import TEMPORAL_TYPES, contacts, entity_id, split_id
from fusion.services.cypher import read
from fusion.services.models import EntityRef, PathNode, TimedHop, TimedPath
from fusion.services.runtime import Runtime, in_worker
from queries.cotravel import VISIBLE_CO_TRAVELED
from queries.paths import ENTITIES_BY_KEY

__all__ = ["DEFAULT_TEMPORAL_TYPES", "TEMPORAL_TYPES", "TimedHop", "TimedPath",
           "time_respecting_paths"]

# SEEN_AT joins everyone who passed one camera: asked for, not assumed (as for paths).
DEFAULT_TEMPORAL_TYPES = ("CALLED", "SENT", "RECEIVED", "CO_TRAVELED")


async def time_respecting_paths(
    runtime: Runtime,
    source: EntityRef,
    target: EntityRef,
    *,
    scope: frozenset[str] | None,
    rel_types: list[str] | None = None,
    max_hops: int = 4,
    max_gap: timedelta | float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 3,
    hop_limit: int = 6,
) -> list[TimedPath]:
    """Fewest-hop time-respecting routes, earliest arrival first, at most ``limit``.

    ``rel_types`` defaults to ``DEFAULT_TEMPORAL_TYPES``; ``max_gap`` (seconds or timedelta,
    None: unbounded) is the longest wait between consecutive events; every event lies in
    ``[since, until]``.
    """
    types = _check(source, target, rel_types, max_hops, max_gap, limit, hop_limit)
    pairs = (await read(runtime, VISIBLE_CO_TRAVELED,
                        scope=None if scope is None else sorted(scope))
             if "CO_TRAVELED" in types else [])
    found = await in_worker(runtime, _search, runtime, source, target, types, scope, since,
                            until, pairs, max_hops, max_gap, limit)
    nodes = await _entities(runtime, {x for p in found for x in p.nodes})
    return [_path(p, nodes) for p in found]


def _search(runtime: Runtime, source: EntityRef, target: EntityRef, types: tuple[str, ...],
            scope: frozenset[str] | None, since: datetime | None, until: datetime | None,
            pairs: list, max_hops: int, max_gap: timedelta | float | None, limit: int
            ) -> list[algo.TimePath]:
    """The algorithm's routes over the visible contacts (CPU work: run in a worker)."""
    frame = contacts(runtime.home, types, scope, since, until, pairs)
    return algo.time_respecting_paths(
        frame, entity_id(source.kind, source.key), entity_id(target.kind, target.key),
        max_hops=max_hops, max_gap=max_gap, limit=limit)


def _check(source: EntityRef, target: EntityRef, rel_types: list[str] | None, max_hops: int,
           max_gap: timedelta | float | None, limit: int, hop_limit: int) -> tuple[str, ...]:
    """Validated relationship types (BadInput on any bad argument)."""
    types = DEFAULT_TEMPORAL_TYPES if rel_types is None else tuple(dict.fromkeys(rel_types))
    unknown = sorted(set(types) - set(TEMPORAL_TYPES))
    if unknown or not types:
        raise BadInput(f"time-respecting paths follow {', '.join(TEMPORAL_TYPES)}; "
                       f"not {unknown or 'none'}")
    if not 1 <= max_hops <= hop_limit:
        raise BadInput(f"maxHops must be between 1 and {hop_limit}")
    if limit < 1:
        raise BadInput("limit must be at least 1")
    gap = max_gap.total_seconds() if isinstance(max_gap, timedelta) else max_gap
    if gap is not None and gap < 0:
        raise BadInput("maxGap must not be negative")
    if source == target:
        raise BadInput("a path needs two different entities")
    return types


async def _entities(runtime: Runtime, ids: set[str]) -> dict[str, PathNode]:
    """Display fields of the entities named by contact ids (one statement per kind)."""
    by_kind: dict[str, list[str]] = {}
    for x in ids:
        kind, key = split_id(x)
        by_kind.setdefault(kind, []).append(key)
    out = {}
    for kind, keys in by_kind.items():
        for r in await read(runtime, ENTITIES_BY_KEY[kind], keys=sorted(keys)):
            out[entity_id(kind, r["key"])] = PathNode(kind, r["key"], r["label"],
                                                       tuple(r["regions"] or ()))
    return out


def _path(found: algo.TimePath, nodes: dict[str, PathNode]) -> TimedPath:
    """The service's path of an algorithm's path (entities absent from the graph bare)."""
    def node(x: str) -> PathNode:
        kind, key = split_id(x)
        return nodes.get(x, PathNode(kind, key, None, ()))

    hops = tuple(TimedHop(h.type, EntityRef(*split_id(h.u)), EntityRef(*split_id(h.v)), h.at)
                 for h in found.hops)
    return TimedPath(tuple(node(x) for x in found.nodes), hops)
