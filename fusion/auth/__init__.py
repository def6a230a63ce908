"""Access control: tokens, roles and scope, joint operations, and the hash-chained audit log."""

from fusion.auth.access import (
    action_for_field,
    allowed,
    authenticate,
    document_hash,
    needs_purpose,
    require_action,
    resolve_scope,
)
from fusion.auth.audit import AuditLog, AuditRecord, VerifyResult, verify_audit_log
from fusion.auth.jointops import JointOperation, JointOperations
from fusion.auth.revocation import RevocationList, revoke_token, revoked_tokens
from fusion.auth.roles import Caller, Role, require_role
from fusion.auth.tokens import SigningKey, issue_token, load_secret, parse_ttl

__all__ = [
    "AuditLog",
    "AuditRecord",
    "Caller",
    "JointOperation",
    "JointOperations",
    "RevocationList",
    "Role",
    "SigningKey",
    "VerifyResult",
    "action_for_field",
    "allowed",
    "authenticate",
    "document_hash",
    "issue_token",
    "load_secret",
    "needs_purpose",
    "parse_ttl",
    "require_action",
    "require_role",
    "resolve_scope",
    "revoke_token",
    "revoked_tokens",
    "verify_audit_log",
]
