"""Joint operations (fusion.auth.jointops) and the audit log (fusion.auth.audit)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.paging import AfterArg, Cursor, FirstArg, Page, encode, position, query_digest
from fusion.api.resolvers.common import check_limit
from fusion.api.types.admin import AuditRecordType, JointOperationType
from fusion.auth.audit import AuditPositionLost
from fusion.errors import BadInput

AuditSinceArg = Annotated[datetime | None, strawberry.argument(
    description="Only records at or after this time.")]
AuditUserArg = Annotated[str | None, strawberry.argument(description="Only this user's.")]


async def resolve_joint_operations(info: Info) -> list[JointOperationType]:
    """Joint operations the caller may see: all for admins, else those naming them a member."""
    ctx = info.context
    ops = await ctx.services.joint_operations.list_for(ctx.caller)
    return [JointOperationType.of(op) for op in ops]


async def resolve_create_joint_operation(
    info: Info,
    name: Annotated[str, strawberry.argument(description="Its name.")],
    regions: Annotated[list[str], strawberry.argument(description="Regions it shares.")],
    members: Annotated[list[str], strawberry.argument(
        description="Users who may use it as scope.")],
    valid_until: Annotated[datetime, strawberry.argument(description="When it expires.")],
) -> JointOperationType:
    """Open a joint operation (admins only)."""
    ctx = info.context
    op = await ctx.services.joint_operations.create(ctx.caller, name, regions, members,
                                                    valid_until)
    return JointOperationType.of(op)


async def resolve_close_joint_operation(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="The operation's id.")],  # noqa: A002
) -> JointOperationType:
    """Close a joint operation now (admins only)."""
    ctx = info.context
    op = await ctx.services.joint_operations.close(ctx.caller, str(id))
    return JointOperationType.of(op)


async def resolve_audit_log(
    info: Info,
    since: AuditSinceArg = None,
    user: AuditUserArg = None,
    limit: Annotated[int, strawberry.argument(description="Most records, newest first.")] = 100,
) -> list[AuditRecordType]:
    """Audit records, newest first (auditors and admins)."""
    ctx = info.context
    check_limit(ctx, limit)
    records = await asyncio.to_thread(ctx.services.audit.query, since, user, limit)
    return [AuditRecordType.of(r) for r in records]


async def resolve_audit_log_page(
    info: Info,
    since: AuditSinceArg = None,
    user: AuditUserArg = None,
    first: FirstArg = 100,
    after: AfterArg = None,
) -> Page[AuditRecordType]:
    """auditLog's whole answer, a page at a time, newest first, as the log stood at the first
    page (records written since are not in this walk: start a new one for them)."""
    ctx = info.context
    query = query_digest("auditLogPage", None, since=since, user=user)
    cursor = position(info, first, after, query)
    before = None if cursor is None else cursor.offset
    try:
        found = await asyncio.to_thread(ctx.services.audit.page, before, since, user, first,
                                        None if cursor is None else cursor.mark)
    except AuditPositionLost as err:
        raise BadInput(str(err)) from err
    nxt = None if found.next_before is None else encode(
        ctx.services.secret, Cursor(query, "audit-log", found.next_before, found.next_mark))
    ctx.field_counts[info.path.key] = len(found.records)
    return Page(items=[AuditRecordType.of(r) for r in found.records], next_cursor=nxt,
                has_next_page=nxt is not None, total_count=None, snapshot="audit-log")
