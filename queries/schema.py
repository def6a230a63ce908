"""Constraints and indexes of the contract's graph model, and of Fusion's own bookkeeping nodes.

Every node carries its canonical identifier in the property ``key`` (the contract's
``Person(key = id_no)`` and so on), so one lookup shape serves every kind.
"""

from __future__ import annotations

from queries.model import VOCABULARY, Vocabulary

# label -> constraint name; one uniqueness constraint on `key` each (contract: graph model).
ENTITY_LABELS = {k.label: k.constraint for k in VOCABULARY.entities}

# Fusion's bookkeeping nodes: load records, saved queries, joint operations, revoked
# tokens, the audit log's checkpoint, workspaces; watchlists, standing queries, their alerts
# and the per-load marker that a load's alerts were evaluated (docs/alerts.md).
INTERNAL_LABELS = {
    "LoadRecord": "load_record_id",
    "SavedQuery": "saved_query_name",
    "JointOperation": "joint_operation_id",
    "RevokedToken": "revoked_token_jti",
    "AuditCheckpoint": "audit_checkpoint_key",
    "Workspace": "workspace_id",
    "Watchlist": "watchlist_id",
    "StandingQuery": "standing_query_name",
    "Alert": "alert_id",
    "AlertEvaluation": "alert_evaluation_load",
}
_INTERNAL_KEYS = {"LoadRecord": "id", "SavedQuery": "name", "JointOperation": "id",
                  "RevokedToken": "jti", "AuditCheckpoint": "key",
                  "Workspace": "id", "Watchlist": "id", "StandingQuery": "name",
                  "Alert": "id", "AlertEvaluation": "load_id"}


def entity_constraints(vocabulary: Vocabulary) -> dict[str, str]:
    """Constraint name -> statement: ``key`` unique on every entity label of ``vocabulary``."""
    return {k.constraint: f"CREATE CONSTRAINT {k.constraint} IF NOT EXISTS FOR (n:{k.label}) "
            "REQUIRE n.key IS UNIQUE" for k in vocabulary.entities}


def search_index(vocabulary: Vocabulary) -> str:
    """The full-text index over every entity label and the vocabulary's search fields."""
    labels = "|".join(k.label for k in vocabulary.entities)
    fields = ", ".join(f"n.{f}" for f in vocabulary.search_fields)
    return (f"CREATE FULLTEXT INDEX entity_search IF NOT EXISTS FOR (n:{labels}) "
            f"ON EACH [{fields}]")


CONSTRAINTS = {
    **entity_constraints(VOCABULARY),
    **{
        name: f"CREATE CONSTRAINT {name} IF NOT EXISTS "
        f"FOR (n:{label}) REQUIRE n.{_INTERNAL_KEYS[label]} IS UNIQUE"
        for label, name in INTERNAL_LABELS.items()
    },
}

# Indexes the later queries need (constraints already index `key`).
INDEXES = {
    "case_reported_at": (
        "CREATE INDEX case_reported_at IF NOT EXISTS FOR (n:Case) ON (n.reported_at)"
    ),
    "case_type": "CREATE INDEX case_type IF NOT EXISTS FOR (n:Case) ON (n.case_type)",
    "person_name": "CREATE INDEX person_name IF NOT EXISTS FOR (n:Person) ON (n.name)",
    "called_last_at": (
        "CREATE INDEX called_last_at IF NOT EXISTS FOR ()-[r:CALLED]-() ON (r.last_at)"
    ),
    "cotraveled_last_at": (
        "CREATE INDEX cotraveled_last_at IF NOT EXISTS FOR ()-[r:CO_TRAVELED]-() ON (r.last_at)"
    ),
    "alert_owner_created": (
        "CREATE INDEX alert_owner_created IF NOT EXISTS FOR (n:Alert) ON (n.owner, n.created_at)"
    ),
    "alert_created": (
        "CREATE INDEX alert_created IF NOT EXISTS FOR (n:Alert) ON (n.created_at)"
    ),
    "load_record_status": (
        "CREATE INDEX load_record_status IF NOT EXISTS FOR (n:LoadRecord) ON (n.status)"
    ),
    "entity_search": search_index(VOCABULARY),
}

SHOW_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties, type RETURN *"
SHOW_INDEXES = "SHOW INDEXES YIELD name, type, state RETURN *"
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"
