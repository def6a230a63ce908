"""Subscriptions over WebSocket (graphql-transport-ws) with HTTP's token, purpose and audit.

The token and purpose come from the handshake's ``Authorization`` and ``X-Purpose`` headers,
or — for browsers, which cannot set handshake headers — from the ``connection_init`` payload's
``Authorization`` and ``X-Purpose`` keys. A connection that cannot be authenticated is closed
with 4403 and audited as ``denied:UNAUTHENTICATED``; operators (saved documents only) may not
subscribe. Each subscription is authorized like a root field (role, stated purpose) and audited
when it starts (outcome ``allowed``, or its denial) and when it ends (with the number of
alerts delivered), each record with the connection's purpose and the subscription's scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from graphql import print_ast
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import Info

from fusion.api.context import Context
from fusion.api.requests import RequestRecord
from fusion.auth import authenticate
from fusion.auth.access import TRUSTED_DOCUMENTS_ONLY
from fusion.errors import Forbidden, FusionError

CONNECT = "websocketConnect"  # the operation name of a connection's audit record


@dataclass
class SocketContext(Context):
    """A WebSocket connection's context; strawberry fills ``connection_params``."""

    connection_params: dict | None = None


def hub_of(ctx: Context):
    """The app's alert hub (fusion.api.alerthub.AlertHub)."""
    return ctx.request.app.state.alert_hub


def _header(ctx: SocketContext, name: str) -> str | None:
    """A handshake header, else the connection_init payload's key of that name."""
    value = ctx.request.headers.get(name)
    if value:
        return value
    params = ctx.connection_params if isinstance(ctx.connection_params, dict) else {}
    found = next((v for k, v in params.items() if k.lower() == name.lower()), None)
    return found if isinstance(found, str) else None


async def connect(ctx: SocketContext) -> None:
    """Authenticate a connection (ConnectionRejectionError if not); audit its opening."""
    record = ctx.record
    record.operation_name = CONNECT
    record.purpose = (_header(ctx, "x-purpose") or "").strip() or None
    try:
        caller = authenticate(_header(ctx, "authorization"), ctx.services.secret)
        if caller.role in TRUSTED_DOCUMENTS_ONLY:
            raise Forbidden(f"The role {caller.role} may not subscribe.")
    except FusionError as err:
        record.fail(err.code)
        await _audit(ctx, record, None)
        raise ConnectionRejectionError({"code": err.code, "message": str(err)}) from None
    ctx.caller = record.caller = caller
    record.admitted = True
    record.outcome = "allowed"
    await _audit(ctx, record, None)


@asynccontextmanager
async def audited_subscription(ctx: Context, info: Info) -> AsyncIterator[list[str]]:
    """Authorize the subscription field and audit its start and end; yields the delivered ids."""
    record = RequestRecord(purpose=ctx.record.purpose, caller=ctx.caller, admitted=True)
    operation = info._raw_info.operation
    record.document = print_ast(operation)
    record.operation_name = operation.name.value if operation.name else None
    record.variables = dict(info.variable_values or {})
    record.scopes = set(ctx.caller.regions) if ctx.caller else set()
    try:
        ctx.authorize(info.field_name)
    except FusionError as err:
        record.fail(err.code)
        await _audit(ctx, record, None)
        raise
    record.outcome = "allowed"
    await _audit(ctx, record, None)
    delivered: list[str] = []
    try:
        yield delivered
    finally:
        await _audit(ctx, record, len(delivered))


async def _audit(ctx: Context, record: RequestRecord, count: int | None) -> None:
    caller = record.caller
    await ctx.services.audit.append(
        user=caller.user if caller else None, role=caller.role if caller else None,
        document=record.document, purpose=record.purpose, **record.audit_fields(),
        scope=sorted(record.scopes) if record.scopes else None, outcome=record.outcome,
        result_count=count)
