"""Cypher of the loaders: batched, parameterized ``UNWIND $rows`` writes.

Labels and relationship types come from the fixed tables below, never from data; every value
travels in ``$rows``. ``regions`` is always the sorted union of what the element had and what
the batch brings, so writing a batch twice changes nothing. Aggregate relationships (CALLED,
SEEN_AT) get absolute values computed from the event store, never increments.
"""

from __future__ import annotations

from queries.schema import ENTITY_LABELS

# The sorted union of an element's regions and the row's.
_UNION = ("COLLECT {{ UNWIND coalesce({v}.regions, []) + row.regions AS r "
          "RETURN DISTINCT r ORDER BY r }}")

# label -> upsert. Rows: {key, props (no nulls), regions}; Person rows add fallback_name (a
# name from a case row, used only while the registry has given none).
UPSERT_NODES: dict[str, str] = {
    label: (
        f"UNWIND $rows AS row MERGE (n:{label} {{key: row.key}}) "
        f"SET n += row.props, n.regions = {_UNION.format(v='n')}, "
        "n.label = coalesce(row.props.label, n.label, n.key)"
    )
    for label in ENTITY_LABELS
}
UPSERT_NODES["Person"] = (
    "UNWIND $rows AS row MERGE (n:Person {key: row.key}) "
    f"SET n += row.props, n.regions = {_UNION.format(v='n')}, "
    "n.name = coalesce(row.props.name, n.name, row.fallback_name) "
    "SET n.label = coalesce(n.name, n.key)"
)

# Every relationship a loader writes: (from label, type, to label).
RELATIONSHIPS = (
    ("Person", "INVOLVED_IN", "Case"),
    ("Phone", "INVOLVED_IN", "Case"),
    ("Person", "USES", "Phone"),
    ("Person", "OWNS", "Vehicle"),
    ("Person", "LIVES_AT", "Address"),
    ("Case", "OCCURRED_AT", "Address"),
    ("Phone", "SENT", "Parcel"),
    ("Phone", "RECEIVED", "Parcel"),
    ("Parcel", "FROM_ADDRESS", "Address"),
    ("Parcel", "TO_ADDRESS", "Address"),
)
AGGREGATE_RELATIONSHIPS = (
    ("Phone", "CALLED", "Phone"),
    ("Vehicle", "SEEN_AT", "Sensor"),
    ("Phone", "SEEN_AT", "Sensor"),
)

_MATCH_ENDS = "UNWIND $rows AS row MATCH (a:{a} {{key: row.a}}) MATCH (b:{b} {{key: row.b}}) "

# triple -> merge. Rows: {a, b, props (no nulls), regions}.
MERGE_RELATIONSHIPS: dict[tuple[str, str, str], str] = {
    (a, t, b): (
        _MATCH_ENDS.format(a=a, b=b) + f"MERGE (a)-[r:{t}]->(b) "
        f"SET r += row.props, r.regions = {_UNION.format(v='r')}"
    )
    for a, t, b in RELATIONSHIPS
}

# triple -> absolute set. Rows: {a, b, props (count, first_at, ...), regions (the full union)}.
SET_AGGREGATES: dict[tuple[str, str, str], str] = {
    (a, t, b): (
        _MATCH_ENDS.format(a=a, b=b) + f"MERGE (a)-[r:{t}]->(b) "
        "SET r += row.props, r.regions = row.regions"
    )
    for a, t, b in AGGREGATE_RELATIONSHIPS
}

LOAD_STATUS = "MATCH (l:LoadRecord {id: $id}) RETURN l.status AS status"
# Rows: {id, props}; the whole property set is replaced (status running -> complete).
RECORD_LOAD = "UNWIND $rows AS row MERGE (l:LoadRecord {id: row.id}) SET l = row.props"
