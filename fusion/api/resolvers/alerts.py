"""Alerts, watchlists and standing queries: arguments -> one service call -> GraphQL types.

A watch belongs to the caller, states the request's purpose (X-Purpose) and keeps the scope
the request resolves (home regions, or a joint operation the caller is a member of). The
``alertRaised`` subscription streams the caller's new alerts over WebSocket
(:mod:`fusion.api.alertsocket` authenticates and audits the connection like HTTP).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from fusion.api.alerthub import QUEUE_SIZE
from fusion.api.alertsocket import SocketContext, audited_subscription, coded, hub_of
from fusion.api.context import Context
from fusion.api.inputs import ScopeInput
from fusion.api.resolvers.common import check_limit
from fusion.api.saved import viewer_of
from fusion.api.types.alerts import (
    AlertState,
    AlertType,
    StandingKind,
    StandingQueryType,
    WatchEntryInput,
    WatchlistType,
)
from fusion.auth import resolve_scope
from fusion.errors import Forbidden, FusionError, TooComplex
from fusion.services import alerts as alert_service
from fusion.services import watchlists as watch_service
from fusion.services.watchlists import Owner

RECHECK_S = 5.0   # the longest an idle subscription goes without its token checked again


async def _owner(ctx: Context, scope: ScopeInput | None) -> Owner:
    """The caller as a watch's owner: purpose from X-Purpose, scope as the request resolves."""
    regions = await ctx.scope(scope)
    joint = None if scope is None or scope.joint_operation is None else str(
        scope.joint_operation)
    return Owner(ctx.caller.user, ctx.record.purpose or "", tuple(sorted(regions)), joint)


class Visibility:
    """Which of the caller's alerts the caller may see now. An alert shows data of the regions
    it was raised over: those must lie in the caller's home regions, or — for an alert raised
    within a joint operation — in that operation's, while it is open and the caller one of its
    members. So closing an operation, or a token of fewer regions, hides what it no longer
    covers; the regions shown are recorded as the request's scope."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._scopes: dict[str | None, frozenset[str] | None] = {}

    async def allows(self, alert: alert_service.Alert) -> bool:
        joint = alert.joint_operation
        if joint not in self._scopes:
            try:
                self._scopes[joint] = await resolve_scope(
                    self.ctx.caller, None, joint, self.ctx.services.joint_operations)
            except Forbidden:
                self._scopes[joint] = None
        scope = self._scopes[joint]
        if alert.owner != self.ctx.caller.user or scope is None or not set(alert.regions) <= scope:
            return False
        self.ctx.record.scopes |= set(alert.regions)
        return True


async def resolve_alerts(
    info: Info,
    state: Annotated[AlertState | None, strawberry.argument(  # type: ignore[valid-type]
        description="Only alerts in this triage state.")] = None,
    limit: Annotated[int, strawberry.argument(description="Most alerts, newest first.")] = 100,
) -> list[AlertType]:
    """Your alerts, newest first: those whose regions your home regions, or an open joint
    operation of yours they were raised in, still cover."""
    ctx: Context = info.context
    check_limit(ctx, limit)
    found = await alert_service.list_alerts(ctx.services.runtime, ctx.caller.user,
                                            state.value if state else None, limit)
    visible = Visibility(ctx)
    return [AlertType.of(a) for a in found if await visible.allows(a)]


async def resolve_watchlists(info: Info) -> list[WatchlistType]:
    """Your active watchlists."""
    ctx: Context = info.context
    found = await watch_service.list_watchlists(ctx.services.runtime, ctx.caller.user)
    return [WatchlistType.of(w) for w in found]


async def resolve_standing_queries(info: Info) -> list[StandingQueryType]:
    """Your active standing queries."""
    ctx: Context = info.context
    found = await watch_service.list_standing_queries(ctx.services.runtime, ctx.caller.user)
    return [StandingQueryType.of(q) for q in found]


async def resolve_add_watchlist(
    info: Info,
    name: Annotated[str, strawberry.argument(description="Its name.")],
    entries: Annotated[list[WatchEntryInput], strawberry.argument(
        description="The watched entities (any raw form; malformed ones refuse the list).")],
    scope: Annotated[ScopeInput | None, strawberry.argument(
        description="Its scope (default: your home regions).")] = None,
    webhook: Annotated[str | None, strawberry.argument(
        description="An http(s) URL its alerts are POSTed to, signed.")] = None,
) -> WatchlistType:
    """Watch plates, phones, persons and parcels; the request's purpose is the watch's."""
    ctx: Context = info.context
    owner = await _owner(ctx, scope)
    created = await watch_service.add_watchlist(
        ctx.services.runtime, owner, name, [(e.kind.value, e.key) for e in entries], webhook)
    return WatchlistType.of(created)


async def resolve_remove_watchlist(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(  # noqa: A002
        description="The watchlist's id.")],
) -> WatchlistType:
    """Stop one of your watchlists."""
    ctx: Context = info.context
    removed = await watch_service.remove_watchlist(ctx.services.runtime, str(id),
                                                   ctx.caller.user, ctx.caller.user)
    return WatchlistType.of(removed)


async def resolve_add_standing_query(
    info: Info,
    name: Annotated[str, strawberry.argument(description="Its unique name.")],
    kind: Annotated[StandingKind, strawberry.argument(  # type: ignore[valid-type]
        description="Its rule.")],
    params: Annotated[JSON, strawberry.argument(
        description="COTRAVEL: {subjects: [[VEHICLE|PHONE, key], ...], window_s, "
        "min_meetings, min_sensors}; FRAUD_PARCELS: {case_type}.")],
    scope: Annotated[ScopeInput | None, strawberry.argument(
        description="Its scope (default: your home regions).")] = None,
    saved_query: Annotated[str | None, strawberry.argument(
        description="The saved query that shows the same by hand (by name; one you may "
        "run).")] = None,
    webhook: Annotated[str | None, strawberry.argument(
        description="An http(s) URL its alerts are POSTed to, signed.")] = None,
    every_s: Annotated[float | None, strawberry.argument(
        description="Also run in full every this many seconds (time-based rules).")] = None,
) -> StandingQueryType:
    """Mark a query as standing: its new results after each load raise alerts."""
    ctx: Context = info.context
    owner = await _owner(ctx, scope)
    created = await watch_service.add_standing_query(
        ctx.services.runtime, owner, name, kind.value, params if params is not None else {},
        saved_query, webhook, every_s, viewer_of(ctx.caller))
    return StandingQueryType.of(created)


async def resolve_remove_standing_query(
    info: Info, name: Annotated[str, strawberry.argument(description="Its name.")],
) -> StandingQueryType:
    """Stop one of your standing queries."""
    ctx: Context = info.context
    removed = await watch_service.remove_standing_query(ctx.services.runtime, name,
                                                        ctx.caller.user, ctx.caller.user)
    return StandingQueryType.of(removed)


async def resolve_triage_alert(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="The alert.")],  # noqa: A002
    state: Annotated[AlertState, strawberry.argument(  # type: ignore[valid-type]
        description="CONFIRMED or DISMISSED.")],
    reason: Annotated[str, strawberry.argument(description="Why.")],
) -> AlertType:
    """Confirm or dismiss one of your new alerts (who, when and why are kept and audited)."""
    ctx: Context = info.context
    triaged = await alert_service.triage_alert(ctx.services.runtime, str(id), ctx.caller.user,
                                               state.value, reason)
    return AlertType.of(triaged)


async def resolve_alert_raised(info: Info) -> AsyncGenerator[AlertType, None]:
    """Your new alerts as they are raised (WebSocket, graphql-transport-ws), as
    :class:`Visibility` allows each when it is raised; ends when the connection's token
    expires or is revoked (checked at least every RECHECK_S seconds and before each alert)."""
    ctx: SocketContext = info.context
    async with audited_subscription(ctx, info) as running:
        hub = hub_of(ctx)
        queue = hub.subscribe(ctx.caller.user)
        try:
            while True:
                try:
                    alert = await asyncio.wait_for(queue.get(), RECHECK_S)
                except TimeoutError:
                    alert = None
                if alert is None and queue in hub.dropped:
                    running.record.fail(TooComplex.code)
                    raise coded(TooComplex(
                        f"This subscription fell {QUEUE_SIZE} alerts behind and was ended; "
                        "subscribe again (the alerts query has every alert)."))
                try:
                    ctx.caller = ctx.reauthenticate()
                except FusionError as err:
                    running.record.fail(err.code)
                    raise coded(err) from err
                if alert is not None and await Visibility(ctx).allows(alert):
                    running.delivered.append(alert.id)
                    yield AlertType.of(alert)
        finally:
            hub.unsubscribe(queue)
