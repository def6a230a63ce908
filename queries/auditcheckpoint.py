"""Cypher for the audit log's checkpoint: (:AuditCheckpoint {key, count, hash, size, at, resets,
reset_at, reset_reason, reset_by}), one node per audit log (``key``: the log's absolute path).

The service only moves the checkpoint forward (a larger ``count``); only
`fusion audit reset-checkpoint` may set it back, and it counts every reset in ``resets``.
"""

# All properties (``.*``): naming reset_at/reset_reason before any reset would make Neo4j warn
# about property keys that do not exist yet, on every read.
_FIELDS = "c {.*} AS checkpoint"

READ_AUDIT_CHECKPOINT = """
MATCH (c:AuditCheckpoint {key: $key})
RETURN """ + _FIELDS

ADVANCE_AUDIT_CHECKPOINT = """
MERGE (c:AuditCheckpoint {key: $key})
ON CREATE SET c.count = -1, c.resets = 0
WITH c
WHERE c.count < $count
SET c.count = $count, c.hash = $hash, c.size = $size, c.at = datetime()
"""

RESET_AUDIT_CHECKPOINT = """
MERGE (c:AuditCheckpoint {key: $key})
ON CREATE SET c.resets = 0
SET c.count = $count, c.hash = $hash, c.size = $size, c.at = datetime(),
    c.resets = c.resets + 1, c.reset_at = datetime(), c.reset_reason = $reason,
    c.reset_by = $by
RETURN """ + _FIELDS
