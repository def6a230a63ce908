"""Person-to-person link projection for gang detection.

``CASE_LINKS`` and ``PARCEL_LINKS`` return rows ``(a, b, count)`` with ``a < b`` (person
keys): distinct cases or parcels linking two people, counting only elements visible in
``$scope`` (``$scope = null``: no restriction) with their time in ``[$since, $until]`` (nulls:
open). Calls and co-travel are counted from the individual events instead (the ``CALLED`` and
``CO_TRAVELED`` aggregates also count events other regions reported), and reach people
through the visible ``OWNERSHIPS``.
"""

_VISIBLE = "($scope IS NULL OR any(g IN {v}.regions WHERE g IN $scope))"


def _visible(*names: str) -> str:
    return " AND ".join(_VISIBLE.format(v=n) for n in names)


# Two people suspected in the same case (co-offending: victims, witnesses and reporters of a
# case are no tie to its suspects, nor to each other).
CASE_LINKS = f"""
MATCH (p1:Person)-[i1:INVOLVED_IN {{role: 'suspect'}}]->(c:Case)
      <-[i2:INVOLVED_IN {{role: 'suspect'}}]-(p2:Person)
WHERE p1.key < p2.key
  AND ($since IS NULL OR c.reported_at >= $since) AND ($until IS NULL OR c.reported_at <= $until)
  AND {_visible("p1", "i1", "c", "i2", "p2")}
RETURN p1.key AS a, p2.key AS b, count(DISTINCT c) AS count
"""

# A parcel sent from one person's phone to the other's (either direction).
PARCEL_LINKS = f"""
MATCH (p1:Person)-[u1:USES]->(f1:Phone)-[s1:SENT|RECEIVED]->(x:Parcel)
      <-[s2:SENT|RECEIVED]-(f2:Phone)<-[u2:USES]-(p2:Person)
WHERE p1.key < p2.key AND type(s1) <> type(s2) AND f1 <> f2
  AND ($since IS NULL OR x.shipped_at >= $since) AND ($until IS NULL OR x.shipped_at <= $until)
  AND {_visible("p1", "u1", "f1", "s1", "x", "s2", "f2", "u2", "p2")}
RETURN p1.key AS a, p2.key AS b, count(DISTINCT x) AS count
"""

# Who uses which phone and owns which vehicle, as far as the scope shows it.
OWNERSHIPS = f"""
MATCH (p:Person)-[o:USES|OWNS]->(x)
WHERE (x:Phone OR x:Vehicle) AND {_visible("p", "o", "x")}
RETURN p.key AS person, labels(x)[0] AS label, x.key AS key
"""

LINK_QUERIES = {"case": CASE_LINKS, "parcel": PARCEL_LINKS}

PERSON_REGIONS = """
UNWIND $keys AS key
MATCH (p:Person {key: key})
RETURN p.key AS key, p.regions AS regions, p.label AS label
"""
