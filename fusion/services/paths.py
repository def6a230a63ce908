"""Relationship paths between entities (contract: "Relationship paths, defined").

The one implementation the CLI, the GraphQL service and the benchmarks run: the statement of
:mod:`queries.paths` (Neo4j 5 ``SHORTEST k`` with scope and type filters inside the pattern)
over the async driver. With ``properties`` every node of a path comes with all its stored
properties (``PathNode.props``), so the GraphQL service needs no second read for the
entities it shows.
"""

from __future__ import annotations

from itertools import combinations

from fusion.errors import BadInput
from fusion.services.arguments import check_limit, check_range, check_types
from fusion.services.cypher import read
from fusion.services.models import EntityRef, Path, PathNode, PathRel
from fusion.services.runtime import Runtime
from queries.model import DEFAULT_PATH_TYPES, LABEL_KINDS, PATH_LIMIT, PATH_MAX_HOPS
from queries.paths import paths_statement

__all__ = ["EntityRef", "Path", "PathNode", "PathRel", "connecting_network",
           "relationship_paths"]

# The longest path an operator may ask for (the GraphQL service caps lower, by settings).
HOP_LIMIT = 12


async def relationship_paths(
    runtime: Runtime,
    source: EntityRef,
    target: EntityRef,
    *,
    max_hops: int = PATH_MAX_HOPS,
    rel_types: list[str] | None = None,
    limit: int = PATH_LIMIT,
    scope: frozenset[str] | None,
    all_shortest: bool = False,
    properties: bool = False,
    hop_limit: int = HOP_LIMIT,
    limit_cap: int | None = None,
) -> list[Path]:
    """Up to ``limit`` shortest paths, shortest first, through visible elements only.

    Direction is ignored; ``rel_types`` defaults to every type except ``SEEN_AT``;
    ``all_shortest`` returns every path of the shortest length (still capped by ``limit``).
    ``hop_limit`` and ``limit_cap`` bound ``max_hops`` and ``limit`` (BadInput beyond).
    """
    check_range(max_hops, hop_limit, "maxHops")
    check_limit(limit, limit_cap)
    types = check_types(rel_types, DEFAULT_PATH_TYPES)
    if source == target:  # the statement finds no path from an entity to itself
        return []
    statement = paths_statement(source.kind, target.kind, max_hops,
                                None if all_shortest else limit, scope is not None, properties)
    records = await read(runtime, statement, from_key=source.key, to_key=target.key,
                         types=list(types), scope=sorted(scope or ()), limit=limit)
    return [_to_path(r) for r in records]


async def connecting_network(
    runtime: Runtime,
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
        paths += await relationship_paths(runtime, a, b, max_hops=max_hops,
                                          rel_types=rel_types, limit=1, scope=scope)
    return paths


def _to_path(record) -> Path:
    """A Path from a row of the paths statement."""
    nodes = tuple(
        PathNode(LABEL_KINDS[n["kind"]], n["key"], n["label"], tuple(n["regions"] or ()),
                 dict(n["props"]) if "props" in n else None)
        for n in record["nodes"]
    )
    rels = tuple(
        PathRel(r["type"], EntityRef(LABEL_KINDS[r["from_label"]], r["from"]),
                EntityRef(LABEL_KINDS[r["to_label"]], r["to"]), dict(r["properties"]))
        for r in record["rels"]
    )
    return Path(record["length"], nodes, rels)
