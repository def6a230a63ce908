"""The saved-query service without GraphQL (fusion.services.saved): a toy document check as
its hook, neutral viewers, and who sees what checked against the documented visibility rule
written out independently here."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from fusion.errors import BadInput, Forbidden, NotFound
from fusion.services import saved
from fusion.services.blocking import blocking_calls
from fusion.services.saved import CheckedDocument, Viewer

pytestmark = pytest.mark.neo4j


def toy_check(document: str) -> CheckedDocument:
    """A document is ``op NAME [VAR ...]`` after ``#`` comment lines: its operation name and
    variables (not GraphQL)."""
    words = " ".join(x for x in document.splitlines() if not x.startswith("#")).split()
    if len(words) < 2 or words[0] != "op":
        raise BadInput("not a toy document")
    variables = [{"name": v, "type": "String", "default": None} for v in words[2:]]
    return CheckedDocument(words[1], variables, hashlib.sha256(document.encode()).hexdigest())


def visible(viewer: Viewer, query: dict) -> bool:
    """The rule as the module's docstring states it, over what the test saved."""
    if viewer.admin or query["approved"]:
        return True
    if viewer.approved_only:
        return False
    return query["owner"] == viewer.user or bool(set(query["regions"]) & viewer.regions)


ALICE = Viewer("alice", frozenset({"r1"}))
BOB = Viewer("bob", frozenset({"r1", "r2"}))
CAROL = Viewer("carol", frozenset({"r3"}))
ADMIN = Viewer("root", frozenset({"r9"}), admin=True)
OPERATOR = Viewer("op", frozenset({"r1"}), approved_only=True)
VIEWERS = (ALICE, BOB, CAROL, ADMIN, OPERATOR)


@pytest.fixture(scope="module")
def call(neo4j_settings):
    with blocking_calls(neo4j_settings) as run:
        yield run


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    (tmp_path / "Shipped.graphql").write_text("# Shipped with it.\n# Two lines.\nop Shipped x\n")
    return tmp_path


def test_builtin_rows_take_their_name_description_and_variables_from_the_hook(shipped):
    [row] = saved.builtin_rows(toy_check, shipped)
    text = (shipped / "Shipped.graphql").read_text()
    assert row == {"name": "Shipped", "description": "Shipped with it. Two lines.",
                   "document": text, "document_hash": toy_check(text).hash,
                   "variables": '[{"name": "x", "type": "String", "default": null}]'}


def test_builtin_rows_refuse_a_misnamed_or_unchecked_document(tmp_path):
    (tmp_path / "Other.graphql").write_text("op Shipped\n")
    with pytest.raises(ValueError, match="Other.graphql: its operation must be named Other"):
        saved.builtin_rows(toy_check, tmp_path)
    (tmp_path / "Other.graphql").write_text("query { x }\n")
    with pytest.raises(ValueError, match="Other.graphql: not a toy document"):
        saved.builtin_rows(toy_check, tmp_path)


def test_who_sees_what_follows_the_rule_through_save_approve_and_revoke(
        call, empty_graph, shipped):
    call(saved.install_builtin_queries, saved.builtin_rows(toy_check, shipped))
    made = {"Shipped": {"owner": "fusion", "regions": [], "approved": True}}
    for viewer, name in ((ALICE, "Mine"), (CAROL, "Far"), (ADMIN, "Admins")):
        q = call(saved.save_query, viewer, name, " what it answers ", f"op {name}",
                 check=toy_check)
        assert (q.created_by, q.regions, q.description, q.approved) == (
            viewer.user, tuple(sorted(viewer.regions)), "what it answers", False)
        made[name] = {"owner": viewer.user, "regions": sorted(viewer.regions),
                      "approved": False}
    _check_visibility(call, made)
    mine = call(saved.get_saved_query, ADMIN, "Mine")
    with pytest.raises(BadInput, match="changed since you read it"):
        call(saved.approve_saved_query, ADMIN, "Mine", "0" * 64)
    approved = call(saved.approve_saved_query, ADMIN, "Mine", mine.document_hash)
    assert approved.approved and approved.approved_by == "root"
    assert call(saved.is_approved_document, mine.document_hash)
    made["Mine"]["approved"] = True
    _check_visibility(call, made)
    call(saved.revoke_saved_query_approval, ADMIN, "Mine")
    assert not call(saved.is_approved_document, mine.document_hash)
    made["Mine"]["approved"] = False
    _check_visibility(call, made)


def _check_visibility(call, made: dict) -> None:
    for viewer, name in itertools.product(VIEWERS, made):
        expected = visible(viewer, made[name])
        listed = {q.name for q in call(saved.list_saved_queries, viewer)}
        assert (name in listed) == expected, (viewer.user, name)
        if expected:
            assert call(saved.get_saved_query, viewer, name).name == name
        else:
            with pytest.raises(NotFound):
                call(saved.get_saved_query, viewer, name)


def test_a_bad_save_is_refused_and_stores_nothing(call, empty_graph, shipped):
    call(saved.install_builtin_queries, saved.builtin_rows(toy_check, shipped))
    call(saved.save_query, ALICE, "Mine", "mine", "op Mine", check=toy_check)
    refusals = [
        (BadInput, dict(name="1bad", document="op Bad")),
        (BadInput, dict(name="Bad", description=" ")),
        (BadInput, dict(name="Bad", document="query { x }")),  # the hook refuses it
        (Forbidden, dict(name="Mine", document="op Mine", viewer=BOB)),  # alice's
        (Forbidden, dict(name="Shipped", document="op Shipped", viewer=ADMIN)),  # shipped
    ]
    for error, args in refusals:
        args = {"viewer": ALICE, "description": "d", "document": "op X", **args}
        with pytest.raises(error):
            call(saved.save_query, args.pop("viewer"), args.pop("name"),
                 args.pop("description"), args.pop("document"), check=toy_check)
    stored = {q.name: q.document for q in call(saved.list_saved_queries, ADMIN)}
    assert stored == {"Mine": "op Mine", "Shipped": (shipped / "Shipped.graphql").read_text()}
