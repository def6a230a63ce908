"""Entity lookups for the GraphQL service: nodes by key, full-text search, related entities.

Every statement takes ``$scope`` (a non-empty list of regions) and returns only elements whose
``regions`` meet it. Labels and relationship types are formatted in from the fixed tables of
:mod:`queries.model` and :data:`RELATED`; every value is a parameter.
"""

from __future__ import annotations

from queries.model import KIND_LABELS


def visible(var: str) -> str:
    """Cypher predicate: the element ``var`` is visible in ``$scope``."""
    return f"any(g IN {var}.regions WHERE g IN $scope)"


# Nodes of any kinds by key in one statement: $keys maps a label to the keys wanted of it
# (labels left out: none). One unique-key seek per key. Rows: label, key, props.
NODES_BY_KEYS = "CALL () {\n" + "\n  UNION ALL\n".join(
    f"  UNWIND coalesce($keys.{label}, []) AS k MATCH (n:{label} {{key: k}}) RETURN n"
    for label in KIND_LABELS.values()) + f"""
}}
WITH n WHERE {visible("n")}
RETURN labels(n)[0] AS label, n.key AS key, properties(n) AS props
"""

# search in one statement: the nodes of $keys (the text read as a key of each kind, as in
# NODES_BY_KEYS; rows with `exact` true) and the full-text hits in index order, best score first
# (filtered to scope and $labels while the index streams, at most $limit; `exact` false).
# The caller puts exact matches first and drops hits that repeat one.
SEARCH_WITH_KEYS = "CALL () {\n" + "\n  UNION ALL\n".join(
    f"  UNWIND coalesce($keys.{label}, []) AS k MATCH (n:{label} {{key: k}}) "
    f"WHERE {visible('n')} RETURN n, true AS exact"
    for label in KIND_LABELS.values()) + f"""
  UNION ALL
  CALL db.index.fulltext.queryNodes('entity_search', $query) YIELD node, score
  WHERE {visible("node")} AND ($labels IS NULL OR labels(node)[0] IN $labels)
  RETURN node AS n, false AS exact
  LIMIT $limit
}}
RETURN labels(n)[0] AS label, n.key AS key, properties(n) AS props, exact
"""

# name -> (from label, pattern from `a` through `r` to `b`, to label): the related-entity
# fields of the GraphQL entity types.
RELATED: dict[str, tuple[str, str, str]] = {
    "person_phones": ("Person", "(a)-[r:USES]->(b:Phone)", "Phone"),
    "person_vehicles": ("Person", "(a)-[r:OWNS]->(b:Vehicle)", "Vehicle"),
    "person_addresses": ("Person", "(a)-[r:LIVES_AT]->(b:Address)", "Address"),
    "person_cases": ("Person", "(a)-[r:INVOLVED_IN]->(b:Case)", "Case"),
    "phone_users": ("Phone", "(a)<-[r:USES]-(b:Person)", "Person"),
    "phone_cases": ("Phone", "(a)-[r:INVOLVED_IN]->(b:Case)", "Case"),
    "vehicle_owners": ("Vehicle", "(a)<-[r:OWNS]-(b:Person)", "Person"),
    "case_people": ("Case", "(a)<-[r:INVOLVED_IN]-(b:Person)", "Person"),
    "case_phones": ("Case", "(a)<-[r:INVOLVED_IN]-(b:Phone)", "Phone"),
    "case_addresses": ("Case", "(a)-[r:OCCURRED_AT]->(b:Address)", "Address"),
    "parcel_senders": ("Parcel", "(a)<-[r:SENT]-(b:Phone)", "Phone"),
    "parcel_receivers": ("Parcel", "(a)<-[r:RECEIVED]-(b:Phone)", "Phone"),
    "address_residents": ("Address", "(a)<-[r:LIVES_AT]-(b:Person)", "Person"),
    "address_cases": ("Address", "(a)<-[r:OCCURRED_AT]-(b:Case)", "Case"),
}

# name -> statement. Rows: key (of `a`), nodes (props of up to $cap visible `b`, by key).
RELATED_NODES: dict[str, str] = {
    name: f"""
UNWIND $keys AS k
MATCH (a:{source} {{key: k}})
CALL (a) {{
  MATCH {pattern}
  WHERE {visible("r")} AND {visible("b")}
  RETURN b ORDER BY b.key LIMIT $cap
}}
RETURN k AS key, collect(properties(b)) AS nodes
"""
    for name, (source, pattern, _target) in RELATED.items()
}
