"""Cypher of watchlists, standing queries, alerts and the per-load evaluation marker.

Everything the alerting keeps lives in Neo4j beside the graph, so it survives restarts:
``Watchlist`` and ``StandingQuery`` nodes (removed ones keep their node, marked
``removed_at``, for the audit trail), ``Alert`` nodes keyed by their idempotency key, and one
``AlertEvaluation`` node per evaluated load. A complete ``LoadRecord`` without its marker is a
load whose alerts are still owed (the service was down, or died mid-evaluation).
"""

from __future__ import annotations

from queries.entities import visible

# -- watchlists -------------------------------------------------------------------------------
CREATE_WATCHLIST = """
CREATE (w:Watchlist)
SET w = $props
RETURN w{.*} AS watchlist
"""

ACTIVE_WATCHLIST_NAMED = """
MATCH (w:Watchlist {owner: $owner, name: $name})
WHERE w.removed_at IS NULL
RETURN w.id AS id
"""

LIST_WATCHLISTS = """
MATCH (w:Watchlist)
WHERE w.removed_at IS NULL AND ($owner IS NULL OR w.owner = $owner)
RETURN w{.*} AS watchlist
ORDER BY w.created_at, w.id
"""

REMOVE_WATCHLIST = """
MATCH (w:Watchlist {id: $id})
WHERE w.removed_at IS NULL AND ($owner IS NULL OR w.owner = $owner)
SET w.removed_at = $now, w.removed_by = $by
RETURN w{.*} AS watchlist
"""

# Watchlists that were in force when a load finished (created before it, not yet removed).
WATCHLISTS_AT = """
MATCH (w:Watchlist)
WHERE w.removed_at IS NULL AND w.created_at <= $at
RETURN w{.*} AS watchlist
"""

# -- standing queries -------------------------------------------------------------------------
CREATE_STANDING = """
CREATE (q:StandingQuery)
SET q = $props
RETURN q{.*} AS query
"""

STANDING_NAMED = """
MATCH (q:StandingQuery {name: $name})
RETURN q{.*} AS query
"""

LIST_STANDING = """
MATCH (q:StandingQuery)
WHERE q.removed_at IS NULL AND ($owner IS NULL OR q.owner = $owner)
RETURN q{.*} AS query
ORDER BY q.created_at, q.name
"""

REMOVE_STANDING = """
MATCH (q:StandingQuery {name: $name})
WHERE q.removed_at IS NULL AND ($owner IS NULL OR q.owner = $owner)
SET q.removed_at = $now, q.removed_by = $by
RETURN q{.*} AS query
"""

STANDING_AT = """
MATCH (q:StandingQuery)
WHERE q.removed_at IS NULL AND q.created_at <= $at
RETURN q{.*} AS query
"""

# The result keys a standing query has reported, grown by $added (a set: nothing twice).
ADD_STANDING_RESULTS = """
MATCH (q:StandingQuery {name: $name})
SET q.results = coalesce(q.results, []) + [x IN $added WHERE NOT x IN coalesce(q.results, [])],
    q.last_run_at = $now
RETURN size(q.results) AS results
"""

# -- the joint operation a scope names --------------------------------------------------------
JOINT_OPERATION_SCOPE = """
MATCH (j:JointOperation {id: $id})
RETURN j.regions AS regions, j.members AS members, j.closed_at AS closed_at,
       j.valid_until AS valid_until
"""

# -- loads owed an evaluation -----------------------------------------------------------------
PENDING_LOADS = """
MATCH (l:LoadRecord {status: 'complete'})
WHERE NOT EXISTS { MATCH (:AlertEvaluation {load_id: l.id}) }
WITH l ORDER BY l.finished_at, l.id
LIMIT $limit
RETURN l{.id, .kind, .region, .file_name, .finished_at} AS load
"""

MARK_EVALUATED = """
MERGE (e:AlertEvaluation {load_id: $load_id})
ON CREATE SET e.evaluated_at = $now, e.alerts = $alerts, e.seconds = $seconds
"""

EVALUATION_OF = """
MATCH (e:AlertEvaluation {load_id: $load_id})
RETURN e{.*} AS evaluation
"""

# -- alerts -----------------------------------------------------------------------------------
# MERGE by idempotency key: an alert raised again (a load evaluated twice after a crash) is the
# same node, and only the ones this call created come back with created = true.
MERGE_ALERTS = """
UNWIND $rows AS row
MERGE (a:Alert {id: row.id})
ON CREATE SET a += row.props, a.batch = $batch
RETURN a{.*} AS alert, a.batch = $batch AS created
"""

LIST_ALERTS = """
MATCH (a:Alert)
WHERE ($owner IS NULL OR a.owner = $owner) AND ($state IS NULL OR a.state = $state)
RETURN a{.*} AS alert
ORDER BY a.created_at DESC, a.id
LIMIT $limit
"""

# Every alert created from $since on (any process), oldest first: what a service worker hands
# to its own subscribers when several workers serve.
ALERTS_SINCE = """
MATCH (a:Alert)
WHERE a.created_at >= $since
RETURN a{.*} AS alert
ORDER BY a.created_at, a.id
LIMIT $limit
"""

GET_ALERT = """
MATCH (a:Alert {id: $id})
RETURN a{.*} AS alert
"""

TRIAGE_ALERT = """
MATCH (a:Alert {id: $id})
WHERE a.state = 'NEW'
SET a.state = $state, a.triaged_by = $by, a.triaged_at = $now, a.triage_reason = $reason
RETURN a{.*} AS alert
"""

UNDELIVERED_ALERTS = """
MATCH (a:Alert)
WHERE a.webhook IS NOT NULL AND a.delivered_at IS NULL AND a.dead_lettered_at IS NULL
RETURN a{.*} AS alert
ORDER BY a.created_at
LIMIT $limit
"""

MARK_DELIVERY = """
MATCH (a:Alert {id: $id})
SET a.delivered_at = $delivered_at, a.dead_lettered_at = $dead_lettered_at,
    a.delivery_attempts = $attempts
"""

# -- standing rule: parcels sent by phones involved in a case of a type ------------------------
# $parcels: only these parcels (a waybills load's delta); $phones: only parcels of these
# phones (a cases load's delta); both null: a full run.
FRAUD_PARCELS = f"""
MATCH (c:Case {{case_type: $case_type}})<-[i:INVOLVED_IN]-(p:Phone)-[s:SENT]->(w:Parcel)
WHERE ($parcels IS NULL OR w.key IN $parcels) AND ($phones IS NULL OR p.key IN $phones)
  AND {visible("c")} AND {visible("p")} AND {visible("w")} AND {visible("i")} AND {visible("s")}
RETURN w.key AS parcel, p.key AS phone, collect(DISTINCT c.key) AS cases
ORDER BY parcel, phone
"""
