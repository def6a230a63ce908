"""Person-to-person link projection for gang detection, one statement per link kind.

Each returns rows ``(a, b, count)`` with ``a < b`` (person keys): the evidence of that kind
between two people, counting only elements visible in ``$scope`` (``$scope = null``: no
restriction) and, where the evidence has a time, within ``[$since, $until]`` (nulls: open).
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

# Calls between phones the two people use; counts come from the CALLED aggregates, restricted
# to relationships whose activity overlaps the time range.
CALL_LINKS = f"""
MATCH (p1:Person)-[u1:USES]->(f1:Phone)-[c:CALLED]-(f2:Phone)<-[u2:USES]-(p2:Person)
WHERE p1.key < p2.key AND f1 <> f2
  AND ($since IS NULL OR c.last_at >= $since) AND ($until IS NULL OR c.first_at <= $until)
  AND {_visible("p1", "u1", "f1", "c", "f2", "u2", "p2")}
RETURN p1.key AS a, p2.key AS b, sum(c.count) AS count
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

# Their vehicles or phones travelled together (materialized CO_TRAVELED).
COTRAVEL_LINKS = f"""
MATCH (p1:Person)-[o1:OWNS|USES]->(x)-[t:CO_TRAVELED]-(y)<-[o2:OWNS|USES]-(p2:Person)
WHERE p1.key < p2.key AND x <> y
  AND ($since IS NULL OR t.last_at >= $since) AND ($until IS NULL OR t.first_at <= $until)
  AND {_visible("p1", "o1", "x", "t", "y", "o2", "p2")}
RETURN p1.key AS a, p2.key AS b, sum(t.meetings) AS count
"""

LINK_QUERIES = {
    "case": CASE_LINKS,
    "call": CALL_LINKS,
    "parcel": PARCEL_LINKS,
    "cotravel": COTRAVEL_LINKS,
}

PERSON_REGIONS = """
UNWIND $keys AS key
MATCH (p:Person {key: key})
RETURN p.key AS key, p.regions AS regions, p.label AS label
"""
