"""What a timeline needs from the graph: the entity's visible phones, plates, parcels and cases.

Calls, parcels and sightings themselves come from the event store; the graph says which
subjects belong to the entity (a person's phones and vehicles) and holds the cases.
"""

from __future__ import annotations

from queries.entities import visible
from queries.model import KIND_LABELS

# label -> the visible entity. Rows: key.
EXISTS: dict[str, str] = {
    label: f"MATCH (n:{label} {{key: $key}}) WHERE {visible('n')} RETURN n.key AS key"
    for label in KIND_LABELS.values()
}

# A person's visible phones and vehicles. Rows: phones, plates.
PERSON_SUBJECTS = f"""
MATCH (p:Person {{key: $key}})
RETURN COLLECT {{ MATCH (p)-[r:USES]->(f:Phone) WHERE {visible("r")} AND {visible("f")}
                 RETURN f.key }} AS phones,
       COLLECT {{ MATCH (p)-[r:OWNS]->(v:Vehicle) WHERE {visible("r")} AND {visible("v")}
                 RETURN v.key }} AS plates
"""

# An address's visible parcels (sent from or to it). Rows: parcels.
ADDRESS_PARCELS = f"""
MATCH (a:Address {{key: $key}})
RETURN COLLECT {{ MATCH (a)<-[r:FROM_ADDRESS|TO_ADDRESS]-(x:Parcel)
                 WHERE {visible("r")} AND {visible("x")} RETURN DISTINCT x.key }} AS parcels
"""

_CASE_ROW = """
RETURN c.key AS key, c.case_type AS case_type, c.reported_at AS at, c.summary AS summary,
       c.regions AS regions, role
ORDER BY at, key
LIMIT $limit
"""
_CASE_TIME = ("($since IS NULL OR c.reported_at >= $since) "
              "AND ($until IS NULL OR c.reported_at <= $until)")

# label -> the visible cases of an entity in [$since, $until]: those it is involved in
# (Person, Phone), that occurred at it (Address), or the case itself (Case).
CASES: dict[str, str] = {
    **{
        label: f"""
MATCH (:{label} {{key: $key}})-[r:INVOLVED_IN]->(c:Case)
WHERE {visible("r")} AND {visible("c")} AND {_CASE_TIME}
WITH c, r.role AS role""" + _CASE_ROW
        for label in ("Person", "Phone")
    },
    "Address": f"""
MATCH (:Address {{key: $key}})<-[r:OCCURRED_AT]-(c:Case)
WHERE {visible("r")} AND {visible("c")} AND {_CASE_TIME}
WITH c, null AS role""" + _CASE_ROW,
    "Case": f"""
MATCH (c:Case {{key: $key}})
WHERE {visible("c")} AND {_CASE_TIME}
WITH c, null AS role""" + _CASE_ROW,
}
