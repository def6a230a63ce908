"""timePaths, workspaces and viewer: the root fields the analyst's workbench needs.

timePaths is the CLI's ``fusion analyze time-paths`` (:mod:`fusion.services.temporal`) run in a
worker thread on the events visible in scope. Workspaces are charts kept in Neo4j
(:mod:`queries.workspaces`), visible to requests whose scope covers the regions they were
saved in. viewer tells the page who the token belongs to and which scopes it may offer.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from fusion.api.calling import ref_of
from fusion.api.cypher import read, write
from fusion.api.enums import EntityKind, RelType
from fusion.api.inputs import EntityRef
from fusion.api.nodes import native_time
from fusion.api.resolvers.common import check_hops, check_limit
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.resolvers.gangs import SinceArg, UntilArg
from fusion.api.types.admin import JointOperationType
from fusion.api.types.entity import entity_ref
from fusion.api.types.workbench import TimeHop, TimePath, Viewer, Workspace
from fusion.auth.access import Role
from fusion.errors import BadInput, NotFound
from fusion.services import temporal
from queries.workspaces import DELETE_WORKSPACE, GET_WORKSPACE, LIST_WORKSPACES, SAVE_WORKSPACE

MAX_WORKSPACE_NAME = 120
MAX_WORKSPACE_NODES = 5000
_KINDS = frozenset(k.value for k in EntityKind)


async def resolve_time_paths(
    info: Info,
    from_: Annotated[EntityRef, strawberry.argument(name="from", description="Where paths "
                                                    "start.")],
    to: Annotated[EntityRef, strawberry.argument(description="Where paths end.")],
    max_hops: Annotated[int, strawberry.argument(description="Most events on a path.")] = 4,
    max_gap_seconds: Annotated[float | None, strawberry.argument(
        description="Longest wait between consecutive events; omitted: any.")] = None,
    rel_types: Annotated[list[RelType] | None, strawberry.argument(
        description="Event types to follow (CALLED, SENT, RECEIVED, SEEN_AT, CO_TRAVELED); "
        "omitted: all but SEEN_AT.")] = None,
    since: SinceArg = None,
    until: UntilArg = None,
    limit: Annotated[int, strawberry.argument(description="Most routes, earliest arrival "
                                              "first.")] = 3,
    scope: ScopeArg = None,
) -> list[TimePath]:
    """Fewest-hop time-respecting routes between two visible entities (NOT_FOUND otherwise)."""
    ctx = info.context
    regions = await ctx.scope(scope)
    check_limit(ctx, limit)
    check_hops(ctx, max_hops, "maxHops")
    ends = from_.canonical(), to.canonical()
    found = await asyncio.gather(*(ctx.loaders.node.load((k, x, regions)) for k, x in ends))
    for (kind, key), node in zip(ends, found, strict=True):
        if node is None:
            raise NotFound(f"No {kind.lower()} {key!r} in scope.")
    paths = await temporal.time_respecting_paths(
        ctx.services.runtime, ref_of(from_), ref_of(to), scope=regions,
        rel_types=None if rel_types is None else [t.value for t in rel_types],
        max_hops=max_hops, max_gap=max_gap_seconds, since=since, until=until, limit=limit,
        hop_limit=ctx.settings.api_max_hops)
    return [_time_path(p, regions) for p in paths]


def _time_path(p: temporal.TimedPath, regions: frozenset[str]) -> TimePath:
    """The GraphQL path of an analysis path."""
    hops = [TimeHop(type=RelType(h.type), from_=entity_ref(h.source.kind, h.source.key, regions),
                    to=entity_ref(h.target.kind, h.target.key, regions), at=h.at)
            for h in p.hops]
    return TimePath(length=p.length, arrival=p.arrival, hops=hops,
                    nodes=[entity_ref(n.kind, n.key, regions) for n in p.nodes])


async def resolve_viewer(info: Info) -> Viewer:
    """The caller and the open joint operations they are a member of."""
    ctx = info.context
    caller = ctx.caller
    ops = await ctx.services.joint_operations.list_for(caller)
    mine = [JointOperationType.of(op) for op in ops if caller.user in op.members]
    return Viewer(user=caller.user, role=str(caller.role), regions=sorted(caller.regions),
                  joint_operations=[op for op in mine if op.open])


async def resolve_workspaces(
    info: Info,
    limit: Annotated[int, strawberry.argument(description="Most workspaces, latest "
                                              "first.")] = 100,
    scope: ScopeArg = None,
) -> list[Workspace]:
    """Workspaces saved in regions the scope covers, most recently saved first."""
    ctx = info.context
    regions = await ctx.scope(scope)
    check_limit(ctx, limit)
    records = await read(ctx.services, LIST_WORKSPACES, scope=sorted(regions), limit=limit)
    return [workspace_of(r["workspace"]) for r in records]


async def resolve_workspace(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="The workspace's id.")],  # noqa: A002
    scope: ScopeArg = None,
) -> Workspace:
    """One workspace; NOT_FOUND when it does not exist or the scope does not cover it."""
    ctx = info.context
    regions = await ctx.scope(scope)
    records = await read(ctx.services, GET_WORKSPACE, id=str(id), scope=sorted(regions))
    if not records:
        raise NotFound(f"No workspace {str(id)!r} in scope.")
    return workspace_of(records[0]["workspace"])


async def resolve_save_workspace(
    info: Info,
    name: Annotated[str, strawberry.argument(description="Its name; saving again under the "
                                             "same name replaces your earlier chart.")],
    chart: Annotated[JSON, strawberry.argument(description="The chart: an object with "
                                               "`nodes` [{kind, key, ...}] and `edges`.")],
    scope: ScopeArg = None,
) -> Workspace:
    """Save a chart under a name, in the request's scope."""
    ctx = info.context
    regions = await ctx.scope(scope)
    name = _check_name(name)
    nodes = check_chart(chart)
    joint = None if scope is None or scope.joint_operation is None else str(scope.joint_operation)
    records = await write(ctx.services, SAVE_WORKSPACE, user=ctx.caller.user, name=name,
                          regions=sorted(regions), joint_operation=joint,
                          chart=json.dumps(chart, ensure_ascii=False), nodes=nodes,
                          now=datetime.now(UTC))
    return workspace_of(records[0]["workspace"])


async def resolve_delete_workspace(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="The workspace's id.")],  # noqa: A002
    scope: ScopeArg = None,
) -> Workspace:
    """Delete one of your workspaces (admins: anyone's); returns what was deleted."""
    ctx = info.context
    regions = await ctx.scope(scope)
    records = await write(ctx.services, DELETE_WORKSPACE, id=str(id), scope=sorted(regions),
                          user=ctx.caller.user, any_owner=ctx.caller.role is Role.ADMIN)
    if not records:
        raise NotFound(f"No workspace {str(id)!r} of yours in scope.")
    return workspace_of(records[0]["workspace"])


def _check_name(name: str) -> str:
    """The stripped name; BadInput when empty or too long."""
    name = name.strip()
    if not name or len(name) > MAX_WORKSPACE_NAME:
        raise BadInput(f"A workspace name has 1 to {MAX_WORKSPACE_NAME} characters.")
    return name


def check_chart(chart: object) -> int:
    """The number of entities on a well-formed chart; BadInput otherwise."""
    if not isinstance(chart, dict) or not isinstance(chart.get("nodes"), list):
        raise BadInput("chart must be an object with a `nodes` list.")
    if not isinstance(chart.get("edges", []), list):
        raise BadInput("chart.edges must be a list.")
    nodes = chart["nodes"]
    if len(nodes) > MAX_WORKSPACE_NODES:
        raise BadInput(f"A workspace holds at most {MAX_WORKSPACE_NODES} entities.")
    for i, node in enumerate(nodes):
        if (not isinstance(node, dict) or node.get("kind") not in _KINDS
                or not isinstance(node.get("key"), str) or not node["key"]):
            raise BadInput(f"chart.nodes[{i}] needs a `kind` (an EntityKind) and a `key`.")
    return len(nodes)


def workspace_of(w: dict) -> Workspace:
    """The GraphQL workspace of a stored one."""
    return Workspace(
        id=strawberry.ID(w["id"]), name=w["name"], regions=list(w["regions"]),
        joint_operation=None if w["joint_operation"] is None else strawberry.ID(
            w["joint_operation"]),
        chart=json.loads(w["chart"]), nodes=w["nodes"], created_by=w["created_by"],
        created_at=_utc(w["created_at"]), updated_by=w["updated_by"],
        updated_at=_utc(w["updated_at"]))


def _utc(value: object) -> datetime:
    """A stored Neo4j time as an aware datetime."""
    return native_time(value)
