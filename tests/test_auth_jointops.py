"""Joint operations against the real Neo4j, and scope resolution through them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import neo4j
import pytest

from fusion.auth.access import Caller, Role, resolve_scope
from fusion.auth.jointops import JointOperations
from fusion.db import target
from fusion.errors import BadInput, Forbidden, NotFound

pytestmark = pytest.mark.neo4j

ADMIN = Caller("root", Role.ADMIN, frozenset({"north"}))
ALICE = Caller("alice", Role.ANALYST, frozenset({"north"}))
BOB = Caller("bob", Role.ANALYST, frozenset({"south"}))
HOUR = timedelta(hours=1)


@pytest.fixture
def run(neo4j_settings, driver):
    """Run ``fn(JointOperations)`` on a fresh async driver, after removing all joint operations."""
    with driver.session(database=neo4j_settings.neo4j_database) as session:
        session.run("MATCH (j:JointOperation) DETACH DELETE j").consume()
    t = target(neo4j_settings)

    def runner(fn):
        async def main():
            async with neo4j.AsyncGraphDatabase.driver(t.uri, auth=(t.user, t.password)) as drv:
                return await fn(JointOperations(drv, t.database))
        return asyncio.run(main())
    return runner


def soon() -> datetime:
    return datetime.now(UTC) + HOUR


def test_admin_creates_an_open_operation_that_reads_back_equal(run):
    until = soon()

    async def fn(ops):
        op = await ops.create(ADMIN, " Op Falcon ", ["south", "north", "south"],
                              ["bob", "alice"], until)
        return op, await ops.get(op.id), await ops.list()
    op, got, listed = run(fn)
    assert (op.name, op.regions, op.members) == ("Op Falcon", ("north", "south"), ("alice", "bob"))
    assert op.valid_until == until and op.closed_at is None and op.created_by == "root"
    assert op.is_open()
    assert got == op and listed == [op]


def test_operations_get_distinct_ids_even_with_the_same_name(run):
    async def fn(ops):
        a = await ops.create(ADMIN, "Same", ["north"], ["alice"], soon())
        b = await ops.create(ADMIN, "Same", ["north"], ["alice"], soon())
        return a, b, await ops.list()
    a, b, listed = run(fn)
    assert a.id != b.id and {o.id for o in listed} == {a.id, b.id}


@pytest.mark.parametrize("caller", [ALICE, Caller("svc", Role.SERVICE, frozenset({"north"})),
                                    Caller("aud", Role.AUDITOR, frozenset({"north"}))])
def test_only_admins_create_or_close(run, caller):
    async def fn(ops):
        op = await ops.create(ADMIN, "Op", ["north"], ["alice"], soon())
        with pytest.raises(Forbidden):
            await ops.create(caller, "Mine", ["north", "south"], [caller.user], soon())
        with pytest.raises(Forbidden):
            await ops.close(caller, op.id)
        return await ops.list()
    listed = run(fn)
    assert len(listed) == 1 and listed[0].is_open()


def test_close_keeps_the_first_close_time(run):
    async def fn(ops):
        op = await ops.create(ADMIN, "Op", ["north"], ["alice"], soon())
        first = await ops.close(ADMIN, op.id)
        await asyncio.sleep(0.01)
        return first, await ops.close(ADMIN, op.id)
    first, again = run(fn)
    assert first.closed_at is not None and not first.is_open()
    assert again.closed_at == first.closed_at


def test_closing_an_unknown_operation_is_not_found(run):
    async def fn(ops):
        with pytest.raises(NotFound):
            await ops.close(ADMIN, "no-such-id")
        return await ops.get("no-such-id")
    assert run(fn) is None


@pytest.mark.parametrize(("name", "regions", "members", "until"), [
    ("", ["north"], ["alice"], soon()),
    ("Op", [], ["alice"], soon()),
    ("Op", ["north"], [], soon()),
    ("Op", ["north", " "], ["alice"], soon()),
    ("Op", ["north"], ["alice"], datetime.now(UTC) - HOUR),
    ("Op", ["north"], ["alice"], datetime.now() + HOUR),
])
def test_create_rejects_bad_input(run, name, regions, members, until):
    async def fn(ops):
        with pytest.raises(BadInput):
            await ops.create(ADMIN, name, regions, members, until)
        return await ops.list()
    assert run(fn) == []


def test_list_for_shows_admins_everything_and_others_their_memberships(run):
    async def fn(ops):
        a = await ops.create(ADMIN, "A", ["north"], ["alice"], soon())
        b = await ops.create(ADMIN, "B", ["south"], ["alice", "bob"], soon())
        return a, b, await ops.list_for(ADMIN), await ops.list_for(ALICE), await ops.list_for(BOB)
    a, b, admin, alice, bob = run(fn)
    assert {o.id for o in admin} == {o.id for o in alice} == {a.id, b.id}
    assert [o.id for o in bob] == [b.id]


def scope_of(run, caller, regions, *, members=("alice",), close=False, now=None):
    """Create an operation over north+south, maybe close it, and resolve ``caller``'s scope."""
    async def fn(ops):
        op = await ops.create(ADMIN, "Op", ["north", "south"], list(members), soon())
        if close:
            await ops.close(ADMIN, op.id)
        when = None if now is None else now(op)
        return await resolve_scope(caller, regions, op.id, ops, now=when)
    return run(fn)


def test_member_of_an_open_operation_gets_its_regions_beyond_home(run):
    assert scope_of(run, ALICE, None) == {"north", "south"}


def test_member_may_narrow_to_a_subset_of_the_operation(run):
    assert scope_of(run, ALICE, ["south"]) == {"south"}


def test_region_outside_the_operation_is_forbidden(run):
    with pytest.raises(Forbidden):
        scope_of(run, ALICE, ["south", "east"])


@pytest.mark.parametrize("caller", [BOB, Caller("root2", Role.ADMIN, frozenset({"north"}))])
def test_non_member_is_forbidden_admins_included(run, caller):
    with pytest.raises(Forbidden):
        scope_of(run, caller, None)


def test_closed_operation_is_forbidden(run):
    with pytest.raises(Forbidden):
        scope_of(run, ALICE, None, close=True)


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1)])
def test_expired_operation_is_forbidden(run, after):
    with pytest.raises(Forbidden):
        scope_of(run, ALICE, None, now=lambda op: op.valid_until + after)


def test_operation_is_usable_until_just_before_expiry(run):
    got = scope_of(run, ALICE, None, now=lambda op: op.valid_until - timedelta(microseconds=1))
    assert got == {"north", "south"}


def test_unknown_operation_is_forbidden(run):
    async def fn(ops):
        with pytest.raises(Forbidden):
            await resolve_scope(ALICE, None, "no-such-id", ops)
        return True
    assert run(fn)
