"""The role table, the operators' document rule and scope without joint operations (no
database needed)."""

from __future__ import annotations

import asyncio
import time

import pytest

from fusion.api.saved import parse_bounded, root_fields
from fusion.auth import access
from fusion.auth.access import (
    Caller,
    Role,
    action_for_field,
    allowed,
    needs_purpose,
    require_action,
    resolve_scope,
)
from fusion.auth.roles import require_role
from fusion.errors import BadInput, Forbidden, TooComplex

# The contract's access rules, written out independently of access.PERMISSIONS.
CONTRACT = {
    Role.ADMIN: set(access.ACTIONS),
    Role.ANALYST: {"read", "save_query", "saved_queries", "run_saved_query", "joint_operations"},
    Role.OPERATOR: {"saved_queries", "run_saved_query"},
    Role.AUDITOR: {"audit_log"},
    Role.SERVICE: {"read", "saved_queries", "run_saved_query", "joint_operations"},
}


class NoOperations:
    """A joint-operation store that must not be consulted when no joint operation is named."""

    async def get(self, id: str):
        raise AssertionError("resolve_scope looked up a joint operation it was not given")


def scope(caller: Caller, regions=None) -> frozenset[str]:
    return asyncio.run(resolve_scope(caller, regions, None, NoOperations()))


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", sorted(access.ACTIONS))
def test_allowed_follows_the_contract(role, action):
    assert allowed(role, action) is (action in CONTRACT[role])


def test_only_admins_manage_joint_operations_and_only_auditors_and_admins_read_the_audit_log():
    assert [r for r in Role if allowed(r, "joint_operations_admin")] == [Role.ADMIN]
    assert [r for r in Role if allowed(r, "approve_saved_query")] == [Role.ADMIN]
    assert {r for r in Role if allowed(r, "audit_log")} == {Role.ADMIN, Role.AUDITOR}


def test_unknown_role_is_allowed_nothing_and_unknown_action_is_an_error():
    assert not allowed("superuser", "read")
    with pytest.raises(ValueError):
        allowed(Role.ADMIN, "delete_everything")


@pytest.mark.parametrize(("field", "action"), [
    ("entity", "read"), ("search", "read"), ("relationshipPaths", "read"), ("gangs", "read"),
    ("coTravel", "read"), ("timeline", "read"), ("savedQueries", "saved_queries"),
    ("runSavedQuery", "run_saved_query"), ("saveQuery", "save_query"),
    ("auditLog", "audit_log"), ("jointOperations", "joint_operations"),
    ("createJointOperation", "joint_operations_admin"),
    ("closeJointOperation", "joint_operations_admin"), ("someNewField", "read"),
    ("approveSavedQuery", "approve_saved_query"),
    ("revokeSavedQueryApproval", "approve_saved_query"),
])
def test_root_fields_map_to_actions(field, action):
    assert action_for_field(field) == action


def test_data_queries_need_a_purpose_and_administration_does_not():
    assert needs_purpose("read") and needs_purpose("run_saved_query")
    assert not any(needs_purpose(a) for a in
                   ("audit_log", "joint_operations_admin", "save_query", "saved_queries",
                    "approve_saved_query"))


def test_require_action_and_require_role_raise_forbidden():
    operator = Caller("olga", Role.OPERATOR, frozenset({"north"}))
    require_action(operator, "run_saved_query")
    with pytest.raises(Forbidden):
        require_action(operator, "read")
    require_role(operator, Role.ADMIN, Role.OPERATOR)
    with pytest.raises(Forbidden):
        require_role(operator, Role.ADMIN)


NORTH_SOUTH = Caller("alice", Role.ANALYST, frozenset({"north", "south"}))


def test_scope_defaults_to_the_home_regions():
    assert scope(NORTH_SOUTH) == {"north", "south"}


@pytest.mark.parametrize("subset", [["north"], ["south"], ["north", "south"], ["south", "south"]])
def test_scope_may_be_any_subset_of_the_home_regions(subset):
    assert scope(NORTH_SOUTH, subset) == set(subset)


@pytest.mark.parametrize("beyond", [["east"], ["north", "east"]])
def test_scope_beyond_the_home_regions_is_forbidden(beyond):
    with pytest.raises(Forbidden, match="east"):
        scope(NORTH_SOUTH, beyond)


def test_admins_too_are_held_to_their_home_regions():
    admin = Caller("root", Role.ADMIN, frozenset({"north"}))
    with pytest.raises(Forbidden):
        scope(admin, ["south"])


@pytest.mark.parametrize("regions", [[], [""]])
def test_empty_scope_is_bad_input(regions):
    with pytest.raises(BadInput):
        scope(NORTH_SOUTH, regions)


# -- the operators' document rule: which root fields a document has ---------------------------

def roots(document: str) -> set[str]:
    return set(root_fields(parse_bounded(document, 4000)))


@pytest.mark.parametrize(("document", "fields"), [
    ("{ savedQueries { name } }", {"savedQueries"}),
    ('{ __typename a: runSavedQuery(name: "x") b: savedQueries { name } }',
     {"__typename", "runSavedQuery", "savedQueries"}),
    ("query { ...F } fragment F on Query { entity(ref: $r) { key } }", {"entity"}),
    ("query { ... on Query { ... @include(if: true) { gangs { id } } } }", {"gangs"}),
    ("query { ...G } fragment G on Query { ...H } fragment H on Query { timeline { at } }",
     {"timeline"}),
    ("query A { savedQueries { name } } query B { search(text: \"x\") { key } }",
     {"savedQueries", "search"}),
    ("{ savedQueries { name } } fragment Unused on Query { entity { key } }", {"savedQueries"}),
    ("query { ...Missing }", {"...Missing"}),
    ("mutation { __typename }", {"mutation", "__typename"}),
    ("subscription { __typename }", {"subscription", "__typename"}),
    ("query { ...C } fragment C on Query { savedQueries { name } ...C }", {"savedQueries"}),
])
def test_root_fields_follow_fragments_and_name_non_queries(document, fields):
    assert roots(document) == fields


def test_nested_fields_are_not_root_fields():
    assert roots("{ savedQueries { name entity: document } }") == {"savedQueries"}


def test_a_fragment_bomb_is_read_in_linear_time():
    levels = 40  # 2**40 expanded root fields if spreads were expanded
    bomb = "query { ...F0 } " + " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    ) + f" fragment F{levels} on Query {{ entity {{ key }} }}"
    start = time.perf_counter()
    fields = roots(bomb)
    assert time.perf_counter() - start < 0.05
    assert fields == {"entity"}


def test_documents_are_parsed_with_the_token_limit():
    long = "{ " + " ".join(f"a{i}: savedQueries {{ name }}" for i in range(2000)) + " }"
    start = time.perf_counter()
    with pytest.raises(TooComplex):
        parse_bounded(long, 4000)
    assert time.perf_counter() - start < 0.5
    with pytest.raises(BadInput):
        parse_bounded("{ savedQueries { name }", 4000)
