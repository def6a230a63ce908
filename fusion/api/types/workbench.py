"""Types the analyst's workbench needs beyond the contract: time-respecting paths, workspaces
(saved charts) and the caller as the service sees them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from fusion.api.enums import RelType
from fusion.api.types.admin import JointOperationType
from fusion.api.types.entity import Entity


@strawberry.type(description="One event on a time-respecting path.")
class TimeHop:
    type: RelType = strawberry.field(description="The event's relationship type.")
    from_: Entity = strawberry.field(name="from", description="The relationship's own start "
                                     "(caller, sender phone, subject).")
    to: Entity = strawberry.field(description="The relationship's own end (callee, parcel, "
                                  "the other traveller).")
    at: datetime = strawberry.field(description="When the event happened (UTC).")


@strawberry.type(description="A route whose events happen in time order, each no earlier "
                 "than the one before (and at most maxGap after it).")
class TimePath:
    length: int = strawberry.field(description="Number of events (hops).")
    arrival: datetime = strawberry.field(description="Time of the last event: the earliest "
                                         "any walk along this route reaches the target.")
    nodes: list[Entity] = strawberry.field(description="Entities in walking order.")
    hops: list[TimeHop] = strawberry.field(description="The events of the earliest-arriving "
                                           "walk, in order.")


@strawberry.type(description="A saved chart: its elements and layout, kept on the server.")
class Workspace:
    id: strawberry.ID = strawberry.field(description="Stable id.")
    name: str = strawberry.field(description="Its name (unique per user).")
    regions: list[str] = strawberry.field(
        description="The scope it was saved in: only callers whose scope covers all of these "
        "regions see it.")
    joint_operation: strawberry.ID | None = strawberry.field(
        description="The joint operation it was saved under, if any.")
    chart: JSON = strawberry.field(description="The chart: {nodes, edges, positions, ...} as "
                                   "the workbench wrote it.")
    nodes: int = strawberry.field(description="Number of entities on the chart.")
    created_by: str = strawberry.field(description="Who saved it first.")
    created_at: datetime = strawberry.field(description="When it was saved first (UTC).")
    updated_by: str = strawberry.field(description="Who saved it last.")
    updated_at: datetime = strawberry.field(description="When it was saved last (UTC).")


@strawberry.type(description="The caller as the service sees them: the token's user, role "
                 "and home regions, and the open joint operations they may use as scope.")
class Viewer:
    user: str = strawberry.field(description="The token's user.")
    role: str = strawberry.field(description="The token's role.")
    regions: list[str] = strawberry.field(description="Home regions (the default scope).")
    joint_operations: list[JointOperationType] = strawberry.field(
        description="Open joint operations naming the caller a member.")
