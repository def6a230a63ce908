"""Who may do what, and over which regions: roles, callers, authentication and query scope.

The role -> action table is data (:data:`PERMISSIONS`) so that the GraphQL layer applies one rule
to every operation: map each root field to an action (:func:`action_for_field`) and ask
:func:`allowed`. Scope (the regions a query may see) comes from :func:`resolve_scope`; it is the
same for every role, admins included: a joint operation widens scope only for its members.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import jwt

from fusion.auth.jointops import JointOperations
from fusion.auth.roles import Caller, Role
from fusion.auth.tokens import decode_token
from fusion.errors import BadInput, Forbidden, Unauthenticated

# Actions a GraphQL root field can need.
READ = "read"                                    # data queries: entity, search, paths, gangs, ...
SAVE_QUERY = "save_query"                        # saveQuery
SAVED_QUERIES = "saved_queries"                  # savedQueries (the list)
RUN_SAVED_QUERY = "run_saved_query"              # runSavedQuery, or an approved saved document
APPROVE_SAVED_QUERY = "approve_saved_query"      # approveSavedQuery, revokeSavedQueryApproval
AUDIT_LOG = "audit_log"                          # auditLog
JOINT_OPERATIONS = "joint_operations"            # jointOperations (non-admins: their own only)
JOINT_OPERATIONS_ADMIN = "joint_operations_admin"  # createJointOperation, closeJointOperation
ACTIONS = frozenset({READ, SAVE_QUERY, SAVED_QUERIES, RUN_SAVED_QUERY, APPROVE_SAVED_QUERY,
                     AUDIT_LOG, JOINT_OPERATIONS, JOINT_OPERATIONS_ADMIN})

PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: ACTIONS,
    Role.ANALYST: frozenset({READ, SAVE_QUERY, SAVED_QUERIES, RUN_SAVED_QUERY, JOINT_OPERATIONS}),
    Role.OPERATOR: frozenset({SAVED_QUERIES, RUN_SAVED_QUERY}),
    Role.AUDITOR: frozenset({AUDIT_LOG}),
    Role.SERVICE: frozenset({READ, SAVED_QUERIES, RUN_SAVED_QUERY, JOINT_OPERATIONS}),
}

# Operators run saved queries only, and only those an admin approved (fusion.api.saved): they
# may send a document whose root fields are all in TRUSTED_ROOT_FIELDS, or, byte for byte, the
# document of an approved saved query. Everyone else may send any document.
TRUSTED_DOCUMENTS_ONLY = frozenset({Role.OPERATOR})
TRUSTED_ROOT_FIELDS = frozenset({"savedQueries", "runSavedQuery", "__typename"})

# Actions that touch case data and so need a stated purpose (X-Purpose) when it is required.
PURPOSE_ACTIONS = frozenset({READ, RUN_SAVED_QUERY})

# GraphQL root field -> action. A field not named here is a data query (READ): new fields are
# closed to operators and auditors until someone decides otherwise.
FIELD_ACTIONS: dict[str, str] = {
    "saveQuery": SAVE_QUERY,
    "savedQueries": SAVED_QUERIES,
    "runSavedQuery": RUN_SAVED_QUERY,
    "approveSavedQuery": APPROVE_SAVED_QUERY,
    "revokeSavedQueryApproval": APPROVE_SAVED_QUERY,
    "auditLog": AUDIT_LOG,
    "auditLogPage": AUDIT_LOG,
    "jointOperations": JOINT_OPERATIONS,
    "createJointOperation": JOINT_OPERATIONS_ADMIN,
    "closeJointOperation": JOINT_OPERATIONS_ADMIN,
    "timePaths": READ,
    "workspaces": READ,
    "workspace": READ,
    "saveWorkspace": READ,
    "deleteWorkspace": READ,
    "viewer": JOINT_OPERATIONS,  # who you are and your joint operations: no case data
}


def allowed(role: Role | str, action: str) -> bool:
    """True when ``role`` may perform ``action`` (one of :data:`ACTIONS`)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    try:
        return action in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def action_for_field(field_name: str) -> str:
    """The action a GraphQL root field needs."""
    return FIELD_ACTIONS.get(field_name, READ)


def needs_purpose(action: str) -> bool:
    """True when ``action`` reads case data and so must state a purpose."""
    return action in PURPOSE_ACTIONS


def require_action(caller: Caller, action: str) -> None:
    """Raise Forbidden unless the caller's role may perform ``action``."""
    if not allowed(caller.role, action):
        raise Forbidden(f"The role {caller.role} may not perform {action.replace('_', ' ')}.")


def document_hash(document: str) -> str:
    """sha256 (hex) of a GraphQL document's text: the audit log's and the allowlist's key."""
    return hashlib.sha256(document.encode()).hexdigest()


def authenticate(authorization: str | None, secret: bytes) -> Caller:
    """The Caller of an ``Authorization: Bearer <jwt>`` header; Unauthenticated otherwise."""
    if not authorization:
        raise Unauthenticated("An Authorization: Bearer <token> header is required.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must read: Bearer <token>.")
    try:
        claims = decode_token(token.strip(), secret)
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired.") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("The token is not valid.") from None
    return _caller_from_claims(claims)


def _caller_from_claims(claims: dict) -> Caller:
    user, role, regions = claims.get("sub"), claims.get("role"), claims.get("regions")
    if not isinstance(user, str) or not user:
        raise Unauthenticated("The token names no user.")
    if role not in {r.value for r in Role}:
        raise Unauthenticated("The token names no known role.")
    if (not isinstance(regions, list) or not regions
            or not all(isinstance(r, str) and r for r in regions)):
        raise Unauthenticated("The token names no home regions.")
    return Caller(user=user, role=Role(role), regions=frozenset(regions))


async def resolve_scope(caller: Caller, regions: Sequence[str] | None,
                        joint_operation: str | None, operations: JointOperations,
                        now: datetime | None = None) -> frozenset[str]:
    """The regions a query may see; never empty.

    Without a joint operation: the caller's home regions, or the requested subset of them.
    With one: its regions (or the requested subset), only while it is open and the caller is
    one of its members. Anything else is Forbidden.
    """
    if regions is not None and (len(regions) == 0 or any(not r for r in regions)):
        raise BadInput("scope.regions must name at least one region.")
    if joint_operation is None:
        return _narrow(caller.regions, regions, "your home regions")
    op = await operations.get(joint_operation)
    # One message for unknown, closed, expired and not-a-member: no probing which ids exist.
    if op is None or caller.user not in op.members or not op.is_open(now or datetime.now(UTC)):
        raise Forbidden(f"You may not use joint operation {joint_operation!r} as scope "
                        "(unknown, closed, expired, or you are not a member).")
    return _narrow(frozenset(op.regions), regions, "the joint operation's regions")


def _narrow(available: frozenset[str], requested: Sequence[str] | None,
            what: str) -> frozenset[str]:
    if requested is None:
        return available
    outside = sorted(set(requested) - available)
    if outside:
        raise Forbidden(f"Regions outside {what}: {', '.join(outside)}.")
    return frozenset(requested)
