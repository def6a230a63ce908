"""Cypher for saved GraphQL queries: (:SavedQuery {name, description, document, document_hash,
variables, builtin, created_by, created_at, updated_by, updated_at, regions, approved_by,
approved_at, approved_hash, revoked_by, revoked_at}), unique on ``name``.

``variables`` is the JSON text of the operation's variable definitions; ``builtin`` marks the
queries shipped in ``queries/saved/`` (installed at start-up, never overwritten by users);
``regions`` are the home regions of whoever saved it (who else may see and run it).

Approval is what lets operators run a saved query. It is pinned to the text: a query is
approved only while ``approved_hash`` equals its ``document_hash``, so replacing an approved
document withdraws the approval even if a save and an approval race.
"""

_FIELDS = ("q {.name, .description, .document, .document_hash, .variables, .builtin, "
           ".created_by, .created_at, .updated_by, .updated_at, .approved_by, .approved_at, "
           "regions: coalesce(q.regions, []), "
           "approved: coalesce(q.approved_hash = q.document_hash, false)} AS query")

# Who may see (and so run) a saved query. Parameters: $all (admins: every one), $approved_only
# (operators: approved ones only), $user and $regions (others: approved ones, their own, and
# those saved by someone sharing one of their home regions).
_VISIBLE = """(
  $all OR coalesce(q.approved_hash = q.document_hash, false)
  OR (NOT $approved_only
      AND (q.created_by = $user OR any(r IN coalesce(q.regions, []) WHERE r IN $regions)))
)"""

LIST_SAVED_QUERIES = ("MATCH (q:SavedQuery) WHERE " + _VISIBLE + " RETURN " + _FIELDS
                      + " ORDER BY q.name")

GET_SAVED_QUERY = "MATCH (q:SavedQuery {name: $name}) WHERE " + _VISIBLE + " RETURN " + _FIELDS

# Rows: name. Whether a document (by sha256 of its text) is an approved saved one: what an
# operator may send as-is.
APPROVED_QUERY_BY_HASH = (
    "MATCH (q:SavedQuery) WHERE q.document_hash = $hash AND q.approved_hash = $hash "
    "RETURN q.name AS name LIMIT 1"
)

# Rows: {name, description, document, document_hash, variables}. Builtins follow the shipped
# files: created when missing, updated when the file changed. The product approves each version
# it ships unless an admin revoked the approval (a revocation outlives restarts and upgrades).
INSTALL_BUILTIN_QUERIES = """
UNWIND $rows AS row
MERGE (q:SavedQuery {name: row.name})
ON CREATE SET q.created_at = $now, q.created_by = 'fusion'
SET q.description = row.description, q.document = row.document,
    q.document_hash = row.document_hash, q.variables = row.variables, q.builtin = true,
    q.updated_at = CASE WHEN q.document_hash = row.document_hash AND q.updated_at IS NOT NULL
                        THEN q.updated_at ELSE $now END
WITH q, row
WHERE q.revoked_at IS NULL AND coalesce(q.approved_hash <> row.document_hash, true)
SET q.approved_by = 'fusion', q.approved_at = $now, q.approved_hash = row.document_hash
"""

# Create or replace a user's saved query. Returns nothing when the name belongs to a builtin
# or to another user's query and the caller is not an admin (the service checks first; this
# guard keeps two concurrent saves honest). A changed document loses its approval.
SAVE_QUERY = """
MERGE (q:SavedQuery {name: $name})
ON CREATE SET q.created_at = $now, q.created_by = $user, q.builtin = false,
              q.regions = $regions
WITH q
WHERE q.builtin = false AND (q.created_by = $user OR $admin)
WITH q, coalesce(q.document_hash = $document_hash, false) AS same
SET q.description = $description, q.document = $document, q.document_hash = $document_hash,
    q.variables = $variables, q.updated_at = $now, q.updated_by = $user,
    q.approved_by = CASE WHEN same THEN q.approved_by END,
    q.approved_at = CASE WHEN same THEN q.approved_at END,
    q.approved_hash = CASE WHEN same THEN q.approved_hash END
RETURN """ + _FIELDS

# Approve the current text of a saved query for operators (admins), when it is still the text
# the admin read ($hash; null: whatever it is now). Rows: the query and whether it matched; none
# when there is no such query.
APPROVE_SAVED_QUERY = """
MATCH (q:SavedQuery {name: $name})
WITH q, ($hash IS NULL OR q.document_hash = $hash) AS matched
FOREACH (_ IN CASE WHEN matched THEN [1] ELSE [] END |
  SET q.approved_by = $user, q.approved_at = $now, q.approved_hash = q.document_hash,
      q.revoked_by = null, q.revoked_at = null)
RETURN matched, """ + _FIELDS

# Withdraw the approval (admins); kept across restarts, builtins included. Rows: the query.
REVOKE_SAVED_QUERY_APPROVAL = """
MATCH (q:SavedQuery {name: $name})
SET q.approved_by = null, q.approved_at = null, q.approved_hash = null,
    q.revoked_by = $user, q.revoked_at = $now
RETURN """ + _FIELDS
