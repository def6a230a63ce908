"""Relationship-path statements (Neo4j 5 ``SHORTEST`` over quantified path patterns).

Scope and type filters sit *inside* the pattern so they apply during the bidirectional search
(planner operator ``StatefulShortestPath(Into)`` with both ends found by unique-key seeks).
Neo4j 5.26 accepts only integer literals for ``SHORTEST k`` and quantifier bounds, so those two
integers — validated, never data — and the two labels — from the fixed kind table — are the
only parts formatted into the text; everything else is a parameter.
"""

from __future__ import annotations

from queries.model import KIND_LABELS

_VISIBLE_NODE = "any(g IN {v}.regions WHERE g IN $scope)"
_VISIBLE_REL = "any(g IN {v}.regions WHERE g IN $scope)"

_PATHS = """
MATCH (s:{from_label} {{key: $from_key}}), (t:{to_label} {{key: $to_key}})
WHERE s <> t{ends_visible}
MATCH p = {selector} (s)
      (()-[r WHERE type(r) IN $types{rel_visible}]-(n{node_visible})){{1,{max_hops}}}
      (t)
RETURN [x IN nodes(p) | x {{.key, .label, .regions, kind: labels(x)[0]{node_props}}}] AS nodes,
       [x IN relationships(p) | {{
           type: type(x), properties: properties(x),
           from: startNode(x).key, from_label: labels(startNode(x))[0],
           to: endNode(x).key, to_label: labels(endNode(x))[0]}}] AS rels,
       length(p) AS length
ORDER BY length
LIMIT $limit
"""


def paths_statement(
    from_kind: str, to_kind: str, max_hops: int, k: int | None, scoped: bool,
    properties: bool = False,
) -> str:
    """The Cypher for up to ``k`` shortest paths (``k=None``: all shortest paths).

    ``from_kind``/``to_kind`` are entity kinds (``PERSON`` …); ``max_hops`` and ``k`` must be
    validated positive integers. Each node of a row has ``key``, ``label``, ``regions`` and
    ``kind``; with ``properties`` also ``props``, all its properties (the GraphQL service
    fills path entities from them instead of reading the nodes again).
    """
    if not (isinstance(max_hops, int) and max_hops >= 1):
        raise ValueError("max_hops must be a positive integer")
    if k is not None and not (isinstance(k, int) and k >= 1):
        raise ValueError("k must be a positive integer")
    selector = "ALL SHORTEST" if k is None else f"SHORTEST {k}"
    node_visible = " WHERE " + _VISIBLE_NODE.format(v="n") if scoped else ""
    rel_visible = " AND " + _VISIBLE_REL.format(v="r") if scoped else ""
    ends_visible = (
        " AND " + _VISIBLE_NODE.format(v="s") + " AND " + _VISIBLE_NODE.format(v="t")
        if scoped else ""
    )
    return _PATHS.format(
        from_label=KIND_LABELS[from_kind], to_label=KIND_LABELS[to_kind], selector=selector,
        max_hops=max_hops, node_visible=node_visible, rel_visible=rel_visible,
        ends_visible=ends_visible, node_props=", props: properties(x)" if properties else "",
    )


# kind -> display fields of the entities of that kind named in $keys (absent keys: no row).
ENTITIES_BY_KEY = {
    kind: f"UNWIND $keys AS k MATCH (n:{label} {{key: k}}) "
          "RETURN n.key AS key, n.label AS label, n.regions AS regions"
    for kind, label in KIND_LABELS.items()
}
