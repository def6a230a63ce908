"""Cypher for saved GraphQL queries: (:SavedQuery {name, description, document, document_hash,
variables, builtin, created_by, created_at, updated_at}), unique on ``name``.

``variables`` is the JSON text of the operation's variable definitions; ``builtin`` marks the
queries shipped in ``queries/saved/`` (installed at start-up, never overwritten by users).
"""

_FIELDS = ("q {.name, .description, .document, .document_hash, .variables, .builtin, "
           ".created_by, .created_at, .updated_at} AS query")

LIST_SAVED_QUERIES = "MATCH (q:SavedQuery) RETURN " + _FIELDS + " ORDER BY q.name"

GET_SAVED_QUERY = "MATCH (q:SavedQuery {name: $name}) RETURN " + _FIELDS

# Rows: name. Whether a document (by sha256 of its text) is a saved one: the operators' allowlist.
SAVED_QUERY_BY_HASH = (
    "MATCH (q:SavedQuery) WHERE q.document_hash = $hash RETURN q.name AS name LIMIT 1"
)

# Rows: {name, description, document, document_hash, variables}. Builtins follow the shipped
# files: created when missing, updated when the file changed.
INSTALL_BUILTIN_QUERIES = """
UNWIND $rows AS row
MERGE (q:SavedQuery {name: row.name})
ON CREATE SET q.created_at = $now, q.created_by = 'fusion'
SET q.description = row.description, q.document = row.document,
    q.document_hash = row.document_hash, q.variables = row.variables, q.builtin = true,
    q.updated_at = CASE WHEN q.document_hash = row.document_hash AND q.updated_at IS NOT NULL
                        THEN q.updated_at ELSE $now END
"""

# Create or replace a user's saved query. Returns nothing when the name belongs to a builtin
# or to another user's query and the caller is not an admin (the service checks first; this
# guard keeps two concurrent saves honest).
SAVE_QUERY = """
MERGE (q:SavedQuery {name: $name})
ON CREATE SET q.created_at = $now, q.created_by = $user, q.builtin = false
WITH q
WHERE q.builtin = false AND (q.created_by = $user OR $admin)
SET q.description = $description, q.document = $document, q.document_hash = $document_hash,
    q.variables = $variables, q.updated_at = $now
RETURN """ + _FIELDS
