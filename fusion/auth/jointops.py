"""Joint operations: the only way regions share data. Stored in Neo4j, created and closed by
admins; a member may use an open one (not closed, not past ``valid_until``) as a query's scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j

from fusion.auth.roles import Caller, Role, require_role
from fusion.errors import BadInput, NotFound
from queries.jointops import (
    CLOSE_JOINT_OPERATION,
    CREATE_JOINT_OPERATION,
    GET_JOINT_OPERATION,
    LIST_JOINT_OPERATIONS,
    LIST_MEMBER_JOINT_OPERATIONS,
)


@dataclass(frozen=True)
class JointOperation:
    """A joint operation: regions shared with member users until ``valid_until`` or close."""

    id: str
    name: str
    regions: tuple[str, ...]
    members: tuple[str, ...]
    valid_until: datetime
    closed_at: datetime | None
    created_by: str
    created_at: datetime

    def is_open(self, now: datetime | None = None) -> bool:
        """True while neither closed nor expired at ``now`` (default: the current time)."""
        now = now or datetime.now(UTC)
        return self.closed_at is None and now < self.valid_until


def _native(value: object) -> datetime | None:
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    return native.astimezone(UTC)


def _from_record(op: dict) -> JointOperation:
    return JointOperation(
        id=op["id"], name=op["name"], regions=tuple(op["regions"]),
        members=tuple(op["members"]), valid_until=_native(op["valid_until"]),
        closed_at=_native(op["closed_at"]), created_by=op["created_by"],
        created_at=_native(op["created_at"]),
    )


def _clean_names(values: Sequence[str], what: str) -> list[str]:
    cleaned = sorted({v.strip() for v in values})
    if not cleaned or "" in cleaned:
        raise BadInput(f"A joint operation needs at least one {what}, and no empty ones.")
    return cleaned


class JointOperations:
    """Joint operations in the graph database."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def _run(self, statement: str, routing: neo4j.RoutingControl,
                   **params: object) -> list[JointOperation]:
        records, _, _ = await self._driver.execute_query(
            statement, params, database_=self._database, routing_=routing)
        return [_from_record(r["op"]) for r in records]

    async def create(self, caller: Caller, name: str, regions: Sequence[str],
                     members: Sequence[str], valid_until: datetime,
                     now: datetime | None = None) -> JointOperation:
        """Create an open joint operation (admins only)."""
        require_role(caller, Role.ADMIN)
        now = now or datetime.now(UTC)
        if not name.strip():
            raise BadInput("A joint operation needs a name.")
        if valid_until.tzinfo is None:
            raise BadInput("validUntil needs a time zone offset.")
        if valid_until <= now:
            raise BadInput("validUntil must lie in the future.")
        (op,) = await self._run(
            CREATE_JOINT_OPERATION, neo4j.RoutingControl.WRITE, id=str(uuid.uuid4()),
            name=name.strip(), regions=_clean_names(regions, "region"),
            members=_clean_names(members, "member"), valid_until=valid_until.astimezone(UTC),
            created_by=caller.user, created_at=now.astimezone(UTC))
        return op

    async def close(self, caller: Caller, id: str, now: datetime | None = None) -> JointOperation:
        """Close a joint operation now (admins only); closing again keeps the first close time."""
        require_role(caller, Role.ADMIN)
        ops = await self._run(CLOSE_JOINT_OPERATION, neo4j.RoutingControl.WRITE, id=id,
                              now=(now or datetime.now(UTC)).astimezone(UTC))
        if not ops:
            raise NotFound(f"No joint operation {id!r}.")
        return ops[0]

    async def list(self) -> list[JointOperation]:
        """Every joint operation, newest first."""
        return await self._run(LIST_JOINT_OPERATIONS, neo4j.RoutingControl.READ)

    async def list_for(self, caller: Caller) -> list[JointOperation]:
        """What ``caller`` may see: all for admins, otherwise those naming the caller a member."""
        if caller.role is Role.ADMIN:
            return await self.list()
        return await self._run(LIST_MEMBER_JOINT_OPERATIONS, neo4j.RoutingControl.READ,
                               user=caller.user)

    async def get(self, id: str) -> JointOperation | None:
        """The joint operation ``id``, or None."""
        ops = await self._run(GET_JOINT_OPERATION, neo4j.RoutingControl.READ, id=id)
        return ops[0] if ops else None
