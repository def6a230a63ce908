"""The per-request context every resolver receives: who calls, why, and over which regions.

Root fields are guarded by :class:`Guard` (the role's permission for the field's action, and a
stated purpose for data queries); resolvers get their scope from :meth:`Context.scope`.
A mutation runs only after its intent record is in the audit log (:meth:`Context.audit_intent`):
a change nobody could audit never happens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from graphql import OperationType
from strawberry.permission import BasePermission
from strawberry.types import Info

from fusion.api.dataloaders import Loaders
from fusion.api.inputs import ScopeInput
from fusion.api.requests import RequestRecord
from fusion.api.resources import Resources
from fusion.auth import Caller, action_for_field, allowed, needs_purpose, resolve_scope
from fusion.auth.access import READ, RUN_SAVED_QUERY
from fusion.config import Settings
from fusion.errors import AuditUnavailable, Forbidden, PurposeRequired

INTENT = "intent"


@dataclass
class Context:
    """Everything a resolver may use. ``trusted``: the document is a saved query."""

    services: Resources
    record: RequestRecord
    caller: Caller
    loaders: Loaders
    request: Any = None
    response: Any = None
    trusted: bool = False
    saved_depth: int = 0
    intents: set[str] = field(default_factory=set)  # request ids whose intent is recorded
    # Result counts of root fields by response key, where counting their top-level items
    # would be wrong (a page counts its items): the request's own, or a saved query's.
    field_counts: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if self.field_counts is None:
            self.field_counts = self.record.field_counts

    @property
    def settings(self) -> Settings:
        """The service's settings."""
        return self.services.settings

    def nested(self) -> Context:
        """The context a saved query runs in (same caller, record and loaders; the counts of
        its own root fields apart from the request's)."""
        return dataclasses.replace(self, trusted=True, saved_depth=self.saved_depth + 1,
                                   field_counts={})

    async def gate(self, info: Info) -> None:
        """Refuse a root field this context may not run at all (an HTTP request may run any;
        see :class:`fusion.api.alertsocket.SocketContext`)."""

    def authorize(self, field_name: str) -> None:
        """Raise Forbidden / PurposeRequired unless the caller may use this root field now."""
        action = action_for_field(field_name)
        role = self.caller.role
        via_saved = action == READ and self.trusted and allowed(role, RUN_SAVED_QUERY)
        if not (allowed(role, action) or via_saved):
            raise Forbidden(f"The role {role} may not use {field_name}.")
        if self.settings.require_purpose and needs_purpose(action) and not self.record.purpose:
            raise PurposeRequired(
                "State the purpose of this query (case number or reason) in the X-Purpose "
                "header.")

    async def audit_intent(self) -> None:
        """Record that this request is about to change state (once per request), or refuse."""
        record = self.record
        if record.id in self.intents:
            return
        caller = self.caller
        try:
            await self.services.audit.append(
                user=caller.user, role=caller.role, operation_name=record.operation_name,
                document=record.document, variables=record.variables, purpose=record.purpose,
                scope=sorted(record.scopes) if record.scopes else None, outcome=INTENT,
                result_count=None)
        except AuditUnavailable as err:
            raise AuditUnavailable(
                "The audit log cannot be written; nothing was changed.") from err
        self.intents.add(record.id)

    async def scope(self, scope: ScopeInput | None) -> frozenset[str]:
        """The regions this field may see (recorded for the audit log)."""
        regions = None if scope is None else scope.regions
        joint = None if scope is None or scope.joint_operation is None else str(
            scope.joint_operation)
        resolved = await resolve_scope(self.caller, regions, joint,
                                       self.services.joint_operations)
        self.record.scopes |= resolved
        return resolved


class Guard(BasePermission):
    """Every root field's gate: role permission and stated purpose (see Context.authorize);
    for a mutation, also its intent record in the audit log (see Context.audit_intent)."""

    message = "Forbidden."

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context: Context = info.context
        await context.gate(info)
        context.authorize(info.field_name)
        if info.operation.operation == OperationType.MUTATION:
            await context.audit_intent()
        return True


def context_of(info: Info) -> Context:
    """The request context of a resolver."""
    return info.context
