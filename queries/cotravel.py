"""Materialized co-travel: ``CO_TRAVELED`` relationships, replaced as a whole by each run.

Each relationship joins two subjects (Vehicle or Phone), from the smaller (subject type,
key) to the larger, and carries the pair's figures (the contract's, its significance against
independent travel, expected meetings, days, median lead of the start node in seconds and both
subjects' reads), the ``regions`` of the sightings that made its meetings and the parameters of
the run that computed it. Timestamps travel as
``[epoch seconds, nanoseconds]`` pairs (see ``queries.load``).
"""

from __future__ import annotations

from queries.model import CO_TRAVELED_FIGURES

SUBJECT_LABELS = ("Vehicle", "Phone")

COUNT_CO_TRAVELED = "MATCH ()-[r:CO_TRAVELED]->() RETURN count(r) AS n"

# One bounded transaction per call; run until it deletes nothing.
DELETE_CO_TRAVELED_BATCH = """
MATCH ()-[r:CO_TRAVELED]->()
WITH r LIMIT $batch
DELETE r
RETURN count(*) AS deleted
"""

_DATETIME = "datetime({{epochSeconds: row.{p}[0], nanosecond: row.{p}[1]}})"
_OPTIONAL_DATETIME = f"CASE WHEN row.{{p}} IS NULL THEN null ELSE {_DATETIME} END"

_CREATE = """
UNWIND $rows AS row
MATCH (a:{a} {{key: row.a}})
MATCH (b:{b} {{key: row.b}})
CREATE (a)-[r:CO_TRAVELED]->(b)
SET {figures},
    r.first_at = {first_at}, r.last_at = {last_at}, r.regions = row.regions,
    r.window_s = row.window_s, r.min_meetings = row.min_meetings,
    r.min_distinct_sensors = row.min_distinct_sensors,
    r.min_significance = row.min_significance,
    r.since = {since}, r.until = {until}, r.computed_at = {computed_at}
"""

# (from label, to label) -> create. Rows: {a, b, the CO_TRAVELED_FIGURES, first_at, last_at,
# regions, window_s, min_meetings, min_distinct_sensors, min_significance, since, until,
# computed_at}.
CREATE_CO_TRAVELED: dict[tuple[str, str], str] = {
    (a, b): _CREATE.format(
        a=a, b=b, figures=", ".join(f"r.{p} = row.{p}" for p in CO_TRAVELED_FIGURES),
        first_at=_DATETIME.format(p="first_at"), last_at=_DATETIME.format(p="last_at"),
        since=_OPTIONAL_DATETIME.format(p="since"), until=_OPTIONAL_DATETIME.format(p="until"),
        computed_at=_DATETIME.format(p="computed_at"),
    )
    for a in SUBJECT_LABELS for b in SUBJECT_LABELS
}

# The visible CO_TRAVELED relationships and the window each was computed with (temporal paths
# re-derive their meetings from the sightings).
VISIBLE_CO_TRAVELED = """
MATCH (a)-[r:CO_TRAVELED]->(b)
WHERE ($scope IS NULL OR (any(g IN r.regions WHERE g IN $scope)
       AND any(g IN a.regions WHERE g IN $scope) AND any(g IN b.regions WHERE g IN $scope)))
RETURN labels(a)[0] AS a_label, a.key AS a, labels(b)[0] AS b_label, b.key AS b,
       coalesce(r.window_s, 120.0) AS window_s
"""
