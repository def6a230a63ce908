"""Relationship paths between entities (contract: "Relationship paths, defined")."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from neo4j import Driver

from fusion.errors import BadInput
from fusion.services.entities import EntityRef, PathNode
from queries.model import DEFAULT_PATH_TYPES, LABEL_KINDS, PATH_LIMIT, PATH_MAX_HOPS, REL_TYPES
from queries.paths import paths_statement

__all__ = ["EntityRef", "Path", "PathNode", "PathRel", "connecting_network",
           "relationship_paths"]


@dataclass(frozen=True)
class PathRel:
    """A relationship on a path: type, its own start and end, its properties."""

    type: str
    source: EntityRef
    target: EntityRef
    properties: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class Path:
    """A path: ``length`` hops, ``nodes`` in walking order, ``rels`` between them."""

    length: int
    nodes: tuple[PathNode, ...]
    rels: tuple[PathRel, ...]


def relationship_paths(
    driver: Driver,
    database: str,
    source: EntityRef,
    target: EntityRef,
    *,
    max_hops: int = PATH_MAX_HOPS,
    rel_types: list[str] | None = None,
    limit: int = PATH_LIMIT,
    scope: frozenset[str] | None,
    all_shortest: bool = False,
    hop_limit: int = 12,
) -> list[Path]:
    """Up to ``limit`` shortest paths, shortest first, through visible elements only.

    Direction is ignored; ``rel_types`` defaults to every type except ``SEEN_AT``;
    ``all_shortest`` returns every path of the shortest length (still capped by ``limit``).
    """
    types = _check_types(rel_types)
    if not 1 <= max_hops <= hop_limit:
        raise BadInput(f"maxHops must be between 1 and {hop_limit}")
    if limit < 1:
        raise BadInput("limit must be at least 1")
    statement = paths_statement(source.kind, target.kind, max_hops,
                                None if all_shortest else limit, scope is not None)
    records, _, _ = driver.execute_query(
        statement, from_key=source.key, to_key=target.key, types=list(types),
        scope=sorted(scope or ()), limit=limit, database_=database, routing_="r",
    )
    return [_to_path(r) for r in records]


def connecting_network(
    driver: Driver,
    database: str,
    entities: list[EntityRef],
    *,
    max_hops: int = PATH_MAX_HOPS,
    rel_types: list[str] | None = None,
    scope: frozenset[str] | None,
) -> list[Path]:
    """The union of the shortest path between every pair of ``entities`` (one path per pair)."""
    if len(entities) < 2:
        raise BadInput("a connecting network needs at least two entities")
    paths = []
    for a, b in combinations(dict.fromkeys(entities), 2):
        paths += relationship_paths(driver, database, a, b, max_hops=max_hops,
                                    rel_types=rel_types, limit=1, scope=scope)
    return paths


def _check_types(rel_types: list[str] | None) -> tuple[str, ...]:
    if rel_types is None:
        return DEFAULT_PATH_TYPES
    unknown = sorted(set(rel_types) - set(REL_TYPES))
    if unknown or not rel_types:
        raise BadInput(f"unknown or empty relationship types: {unknown}")
    return tuple(rel_types)


def _to_path(record) -> Path:
    nodes = tuple(
        PathNode(LABEL_KINDS[n["kind"]], n["key"], n["label"], tuple(n["regions"] or ()))
        for n in record["nodes"]
    )
    rels = tuple(
        PathRel(r["type"], EntityRef(LABEL_KINDS[r["from_label"]], r["from"]),
                EntityRef(LABEL_KINDS[r["to_label"]], r["to"]), dict(r["properties"]))
        for r in record["rels"]
    )
    return Path(record["length"], nodes, rels)
