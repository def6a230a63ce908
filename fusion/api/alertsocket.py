"""Subscriptions over WebSocket (graphql-transport-ws) with HTTP's token, purpose and audit.

The token and purpose come from the handshake's ``Authorization`` and ``X-Purpose`` headers,
or — for browsers, which cannot set handshake headers — from the ``connection_init`` payload's
``Authorization`` and ``X-Purpose`` keys. A connection that cannot be authenticated is closed
with 4403 and audited as ``denied:UNAUTHENTICATED``; operators (saved documents only) may not
subscribe. Each subscription is authorized like a root field (role, stated purpose, the token
checked again) and audited when it starts (outcome ``allowed``, or its denial) and when it ends
(with the number of alerts delivered), each record with the connection's purpose and the
subscription's scope. Queries and mutations are not run over the socket (refused, audited).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from graphql import GraphQLError, print_ast
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import Info

from fusion.api.context import Context
from fusion.api.errors import fusion_code
from fusion.api.requests import RequestRecord
from fusion.auth import Caller, authenticate
from fusion.auth.access import TRUSTED_DOCUMENTS_ONLY
from fusion.errors import Forbidden, FusionError

CONNECT = "websocketConnect"  # the operation name of a connection's audit record


@dataclass
class SocketContext(Context):
    """A WebSocket connection's context; strawberry fills ``connection_params``.

    Only subscriptions run over the socket: a query or mutation sent on it is refused
    (FORBIDDEN) and audited, so every answer goes through POST /graphql and its per-request
    record. The connection's token is checked again when a subscription starts and while it
    runs (:meth:`reauthenticate`): one that expired or was revoked ends it."""

    connection_params: dict | None = None

    async def gate(self, info: Info) -> None:
        record = RequestRecord(purpose=self.record.purpose, caller=self.caller, admitted=True)
        _describe(record, info)
        record.fail(Forbidden.code)
        await _audit(self, record, None)
        raise coded(Forbidden("Only subscriptions run over the WebSocket; send queries and "
                              "mutations to POST /graphql."))

    def reauthenticate(self) -> Caller:
        """The connection's caller as its token stands now (FusionError when it expired or
        was revoked since the connection opened)."""
        return authenticate(_header(self, "authorization"), self.services.secret)


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
        caller = record.caller = authenticate(_header(ctx, "authorization"),
                                              ctx.services.secret)
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


@dataclass
class Subscription:
    """A running subscription: its audit record and the ids of the alerts it delivered."""

    record: RequestRecord
    delivered: list[str] = field(default_factory=list)


@asynccontextmanager
async def audited_subscription(ctx: SocketContext, info: Info) -> AsyncIterator[Subscription]:
    """Check the token again, authorize the subscription field and audit its start and end
    (the end's outcome a denial when the subscription was ended by one, e.g. its token
    expired: ``denied:UNAUTHENTICATED``); yields the running subscription."""
    record = RequestRecord(purpose=ctx.record.purpose, caller=ctx.caller, admitted=True)
    _describe(record, info)
    try:
        ctx.caller = record.caller = ctx.reauthenticate()
        record.scopes = set(ctx.caller.regions)
        ctx.authorize(info.field_name)
    except FusionError as err:
        record.fail(err.code)
        await _audit(ctx, record, None)
        raise coded(err) from err
    record.outcome = "allowed"
    await _audit(ctx, record, None)
    running = Subscription(record)
    try:
        yield running
    finally:
        await _audit(ctx, record, len(running.delivered))


def coded(err: FusionError) -> GraphQLError:
    """``err`` as the GraphQL error a socket message carries, with its contract code (the
    subscription protocol sends errors as they are raised, before the schema's extensions
    could add the code)."""
    return GraphQLError(str(err), original_error=err, extensions={"code": fusion_code(err)})


def _describe(record: RequestRecord, info: Info) -> None:
    """The operation a socket message asked for, as its audit record names it."""
    operation = info._raw_info.operation
    record.document = print_ast(operation)
    record.operation_name = operation.name.value if operation.name else None
    record.variables = dict(info.variable_values or {})


async def _audit(ctx: Context, record: RequestRecord, count: int | None) -> None:
    caller = record.caller
    await ctx.services.audit.append(
        user=caller.user if caller else None, role=caller.role if caller else None,
        document=record.document, purpose=record.purpose, **record.audit_fields(),
        scope=sorted(record.scopes) if record.scopes else None, outcome=record.outcome,
        result_count=count)
