"""Time-respecting paths between two entities: each hop's event no earlier than the previous
one's, and at most ``max_gap`` after it (i2's "Find Path" with time ordering).

Hops are individual events visible in the caller's scope (:mod:`fusion.services.contacts`),
searched by :func:`algorithms.temporal.time_respecting_paths`: the fewest-hop routes, each
with its earliest arrival and one walk achieving it. Direction is ignored, as for
relationship paths: a call joins caller and callee at its time both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from neo4j import Driver

from algorithms import temporal as algo
from fusion.errors import BadInput
from fusion.services.contacts import TEMPORAL_TYPES, contacts, entity_id, split_id
from fusion.services.entities import EntityRef, PathNode
from queries.paths import ENTITIES_BY_KEY

__all__ = ["DEFAULT_TEMPORAL_TYPES", "TEMPORAL_TYPES", "TimedHop", "TimedPath",
           "time_respecting_paths"]

# SEEN_AT joins everyone who passed one camera: asked for, not assumed (as for paths).
DEFAULT_TEMPORAL_TYPES = ("CALLED", "SENT", "RECEIVED", "CO_TRAVELED")


@dataclass(frozen=True)
class TimedHop:
    """One event on a path: its relationship type, the relationship's own start and end
    entities (caller -> callee, phone -> parcel, subject -> sensor, a -> b) and its time."""

    type: str
    source: EntityRef
    target: EntityRef
    at: datetime


@dataclass(frozen=True)
class TimedPath:
    """A route (entities in walking order) and the events of its earliest-arriving walk."""

    nodes: tuple[PathNode, ...]
    hops: tuple[TimedHop, ...]

    @property
    def length(self) -> int:
        """Number of hops."""
        return len(self.hops)

    @property
    def arrival(self) -> datetime:
        """Time of the last event."""
        return self.hops[-1].at


def time_respecting_paths(
    driver: Driver,
    database: str,
    home: Path,
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
    frame = contacts(driver, database, home, types, scope, since, until)
    found = algo.time_respecting_paths(
        frame, entity_id(source.kind, source.key), entity_id(target.kind, target.key),
        max_hops=max_hops, max_gap=max_gap, limit=limit)
    nodes = _entities(driver, database, {x for p in found for x in p.nodes})
    return [_path(p, nodes) for p in found]


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


def _entities(driver: Driver, database: str, ids: set[str]) -> dict[str, PathNode]:
    """Display fields of the entities named by contact ids."""
    by_kind: dict[str, list[str]] = {}
    for x in ids:
        kind, key = split_id(x)
        by_kind.setdefault(kind, []).append(key)
    out = {}
    for kind, keys in by_kind.items():
        records, _, _ = driver.execute_query(ENTITIES_BY_KEY[kind], keys=sorted(keys),
                                             database_=database, routing_="r")
        for r in records:
            out[entity_id(kind, r["key"])] = PathNode(kind, r["key"], r["label"],
                                                       tuple(r["regions"] or ()))
    return out


def _path(found: algo.TimePath, nodes: dict[str, PathNode]) -> TimedPath:
    def node(x: str) -> PathNode:
        kind, key = split_id(x)
        return nodes.get(x, PathNode(kind, key, None, ()))

    hops = tuple(TimedHop(h.type, EntityRef(*split_id(h.u)), EntityRef(*split_id(h.v)), h.at)
                 for h in found.hops)
    return TimedPath(tuple(node(x) for x in found.nodes), hops)
