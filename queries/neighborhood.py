"""Bounded neighbourhood expansion, one hop per statement.

The service expands breadth first: each hop asks for at most the room left (plus one, to know
whether anything was cut), so a hub with a million relationships streams through the filter
and stops at the limit instead of being materialized. Nodes travel by ``elementId`` between
hops. Scope and type filters apply while expanding: nothing outside ``$scope`` is visited.
"""

from __future__ import annotations

from queries.entities import visible
from queries.model import KIND_LABELS

# label -> the visible centre. Rows: id, props.
CENTER: dict[str, str] = {
    label: f"""
MATCH (n:{label} {{key: $key}})
WHERE {visible("n")}
RETURN elementId(n) AS id, properties(n) AS props
"""
    for label in KIND_LABELS.values()
}

# New visible neighbours of the frontier over visible relationships of $types.
# Rows: id, label, props; at most $room (DISTINCT and LIMIT stream: no sort, no collect).
EXPAND = f"""
MATCH (a) WHERE elementId(a) IN $frontier
MATCH (a)-[r]-(b)
WHERE type(r) IN $types AND {visible("r")} AND {visible("b")} AND NOT elementId(b) IN $seen
WITH DISTINCT b
LIMIT $room
RETURN elementId(b) AS id, labels(b)[0] AS label, properties(b) AS props
"""

# Visible relationships of $types between kept nodes with at least one end in $inner (the
# nodes the expansion went out from). Rows: type, from_label, from, to_label, to, props.
RELS = f"""
MATCH (a)-[r]->(b)
WHERE elementId(a) IN $ids AND elementId(b) IN $ids
  AND (elementId(a) IN $inner OR elementId(b) IN $inner)
  AND type(r) IN $types AND {visible("r")}
RETURN type(r) AS type, labels(a)[0] AS from_label, a.key AS from,
       labels(b)[0] AS to_label, b.key AS to, properties(r) AS props
LIMIT $room
"""
