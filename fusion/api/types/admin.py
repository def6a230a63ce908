"""Saved queries, joint operations and audit records as the schema shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from fusion.auth import AuditRecord, JointOperation
from fusion.services.saved import SavedQuery as StoredQuery


@strawberry.type(name="SavedQuery", description="A named GraphQL document. Its owner, users "
                 "sharing the owner's home regions and admins see it; operators only once an "
                 "admin approved it.")
class SavedQueryType:
    name: str = strawberry.field(description="Its unique name (the operation's name).")
    description: str = strawberry.field(description="What it answers.")
    document: str = strawberry.field(description="The GraphQL document (send it as-is, or run "
                                     "it by name with runSavedQuery).")
    document_hash: str = strawberry.field(
        description="sha256 (hex) of the document's text; approval is of this text.")
    variables: JSON = strawberry.field(
        description="Its variables: a list of {name, type, default}.")
    builtin: bool = strawberry.field(description="True for the queries shipped with Fusion.")
    created_by: str | None = strawberry.field(description="Who saved it (fusion: shipped).")
    created_at: datetime | None = strawberry.field(description="When it was first saved.")
    updated_at: datetime | None = strawberry.field(description="When it last changed.")
    updated_by: str | None = strawberry.field(
        description="Who last saved it (its owner or an admin; null: shipped).")
    approved: bool = strawberry.field(
        description="True when its current text is approved: operators may run it.")
    approved_by: str | None = strawberry.field(
        description="The admin who approved its current text (fusion: shipped).")
    approved_at: datetime | None = strawberry.field(description="When it was approved.")

    @classmethod
    def of(cls, q: StoredQuery) -> SavedQueryType:
        """From a stored saved query."""
        return cls(name=q.name, description=q.description, document=q.document,
                   document_hash=q.document_hash, variables=q.variables, builtin=q.builtin,
                   created_by=q.created_by,
                   created_at=q.created_at, updated_at=q.updated_at,
                   updated_by=q.updated_by, approved=q.approved,
                   approved_by=q.approved_by, approved_at=q.approved_at)


@strawberry.type(name="JointOperation",
                 description="Regions shared with member users until it closes or expires.")
class JointOperationType:
    id: strawberry.ID = strawberry.field(description="Its id (use it as scope.jointOperation).")
    name: str = strawberry.field(description="Its name.")
    regions: list[str] = strawberry.field(description="The regions it shares.")
    members: list[str] = strawberry.field(description="Users who may use it as scope.")
    valid_until: datetime = strawberry.field(description="When it expires.")
    closed_at: datetime | None = strawberry.field(description="When an admin closed it.")
    created_by: str = strawberry.field(description="The admin who created it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    open: bool = strawberry.field(description="True while neither closed nor expired.")

    @classmethod
    def of(cls, op: JointOperation) -> JointOperationType:
        """From a stored joint operation."""
        return cls(id=strawberry.ID(op.id), name=op.name, regions=list(op.regions),
                   members=list(op.members), valid_until=op.valid_until,
                   closed_at=op.closed_at, created_by=op.created_by,
                   created_at=op.created_at, open=op.is_open())


@strawberry.type(name="AuditRecord", description="One audited /graphql request.")
class AuditRecordType:
    at: datetime = strawberry.field(description="When the request was answered.")
    user: str | None = strawberry.field(description="The caller (null: not authenticated).")
    role: str | None = strawberry.field(description="The caller's role.")
    operation_name: str | None = strawberry.field(description="The operation's name.")
    document_hash: str | None = strawberry.field(description="sha256 of the document's text.")
    variables: JSON | None = strawberry.field(description="The variables as sent.")
    purpose: str | None = strawberry.field(description="The stated purpose (X-Purpose).")
    scope: list[str] | None = strawberry.field(description="The regions the request saw.")
    outcome: str = strawberry.field(
        description="allowed, denied:<CODE> or failed:<CODE>.")
    result_count: int | None = strawberry.field(description="Top-level result items.")
    prev_hash: str = strawberry.field(description="The previous record's hash.")
    hash: str = strawberry.field(description="This record's hash (chains the log).")
    worker: str | None = strawberry.field(
        default=None, description="The worker process that wrote it (`fusion serve --workers "
        "N`; its process id); null when one process serves.")

    @classmethod
    def of(cls, r: AuditRecord) -> AuditRecordType:
        """From an audit record."""
        return cls(at=r.at, user=r.user, role=r.role, operation_name=r.operation_name,
                   document_hash=r.document_hash, variables=r.variables, purpose=r.purpose,
                   scope=r.scope, outcome=r.outcome, result_count=r.result_count,
                   prev_hash=r.prev_hash, hash=r.hash, worker=r.worker)
