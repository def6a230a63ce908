"""Cypher of the loaders: batched, parameterized ``UNWIND $rows`` writes.

Labels, relationship types and property names come from the fixed tables below, never from
data; every value travels in ``$rows``. Each statement names its properties explicitly (a
``SET n += map`` would make the planner insert Eager barriers, several times slower), keeps
a property when the row's value is null, and turns timestamps, sent as ``[epoch seconds,
nanoseconds]`` (the driver's own temporal packing costs ~0.2 ms a value), into UTC DateTime.

``regions`` is always the sorted union of what the element had and what the row brings, so
writing a row twice changes nothing. Aggregate relationships (CALLED, SEEN_AT) get absolute
values computed from the event store, never increments.
"""

from __future__ import annotations

# label -> (plain properties, timestamp properties) the loaders write besides key and regions.
NODE_PROPERTIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Person": (("name",), ()),
    "Phone": ((), ()),
    "Vehicle": ((), ()),
    "Case": (("case_type", "summary", "lat", "lon", "label"), ("reported_at",)),
    "Parcel": (("carrier", "item", "declared_value", "weight_kg", "sender_name",
                "receiver_name"), ("shipped_at", "delivered_at")),
    "Sensor": (("lat", "lon"), ()),
    "Address": ((), ()),
}
# (from, type, to) -> plain properties, for relationships merged from records.
RELATIONSHIP_PROPERTIES: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("Person", "INVOLVED_IN", "Case"): ("role",),
    ("Phone", "INVOLVED_IN", "Case"): ("role",),
    ("Person", "USES", "Phone"): (),
    ("Person", "OWNS", "Vehicle"): (),
    ("Person", "LIVES_AT", "Address"): (),
    ("Case", "OCCURRED_AT", "Address"): (),
    ("Phone", "SENT", "Parcel"): (),
    ("Phone", "RECEIVED", "Parcel"): (),
    ("Parcel", "FROM_ADDRESS", "Address"): (),
    ("Parcel", "TO_ADDRESS", "Address"): (),
}
# (from, type, to) -> (plain, timestamp) aggregate properties, set to absolute values.
AGGREGATE_PROPERTIES: dict[tuple[str, str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("Phone", "CALLED", "Phone"): (("count", "total_duration_s"), ("first_at", "last_at")),
    ("Vehicle", "SEEN_AT", "Sensor"): (("count",), ("first_at", "last_at")),
    ("Phone", "SEEN_AT", "Sensor"): (("count",), ("first_at", "last_at")),
}


def _union(v: str) -> str:
    """Sorted union of ``v.regions`` and ``row.regions`` (insertion into a sorted list)."""
    return (f"reduce(acc = coalesce({v}.regions, []), x IN row.regions | CASE WHEN x IN acc "
            "THEN acc ELSE [y IN acc WHERE y < x] + x + [y IN acc WHERE y > x] END)")


def _keep(v: str, props: tuple[str, ...], times: tuple[str, ...]) -> list[str]:
    sets = [f"{v}.{p} = coalesce(row.{p}, {v}.{p})" for p in props]
    sets += [f"{v}.{t} = CASE WHEN row.{t} IS NULL THEN {v}.{t} ELSE "
             f"datetime({{epochSeconds: row.{t}[0], nanosecond: row.{t}[1]}}) END"
             for t in times]
    return sets


def _upsert(label: str) -> str:
    props, times = NODE_PROPERTIES[label]
    sets = [f"n.regions = {_union('n')}", *_keep("n", tuple(p for p in props if p != "name"),
                                                  times)]
    if label == "Person":
        # A case row's name (fallback_name) is used only while the registry has given none.
        sets += ["n.name = coalesce(row.name, n.name, row.fallback_name)",
                 "n.label = coalesce(row.name, n.name, row.fallback_name, n.key)"]
    elif "label" not in props:
        sets.append("n.label = n.key")
    return f"UNWIND $rows AS row MERGE (n:{label} {{key: row.key}}) SET " + ", ".join(sets)


_ENDS = "UNWIND $rows AS row MATCH (a:{a} {{key: row.a}}) MATCH (b:{b} {{key: row.b}}) "

# label -> upsert. Rows: {key, regions, <properties>} (null: keep what the node has).
UPSERT_NODES: dict[str, str] = {label: _upsert(label) for label in NODE_PROPERTIES}

# triple -> merge. Rows: {a, b, regions, <properties>}.
MERGE_RELATIONSHIPS: dict[tuple[str, str, str], str] = {
    (a, t, b): _ENDS.format(a=a, b=b) + f"MERGE (a)-[r:{t}]->(b) SET "
    + ", ".join([f"r.regions = {_union('r')}", *_keep("r", props, ())])
    for (a, t, b), props in RELATIONSHIP_PROPERTIES.items()
}

# triple -> absolute set. Rows: {a, b, regions (the full union), <aggregates>}.
SET_AGGREGATES: dict[tuple[str, str, str], str] = {
    (a, t, b): _ENDS.format(a=a, b=b) + f"MERGE (a)-[r:{t}]->(b) SET "
    + ", ".join(["r.regions = row.regions", *_keep("r", props, times)])
    for (a, t, b), (props, times) in AGGREGATE_PROPERTIES.items()
}

LOAD_STATUS = "MATCH (l:LoadRecord {id: $id}) RETURN l.status AS status"
# Rows: {id, props}; the whole property set is replaced (status running -> complete).
RECORD_LOAD = "UNWIND $rows AS row MERGE (l:LoadRecord {id: row.id}) SET l = row.props"
