"""The saved queries written for operations units, run by name, answer what the underlying
fields answer; saving validates; operators and the audit log see saved queries as such; a saved
query is its owner's and their regions', and operators run it only once an admin approved it."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fusion.auth.audit import audit_path

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

RUN = ("query Run($name: String!, $variables: JSON) "
       "{ runSavedQuery(name: $name, variables: $variables) }")


def _run(api, name: str, variables: dict, **kw) -> dict:
    return api.gql(RUN, {"name": name, "variables": variables}, **kw)["runSavedQuery"]


def test_person_path_is_relationship_paths(api):
    chain = api.truth["fraud_chain"]
    got = _run(api, "PersonPath", {"from": chain["victim"], "to": chain["gang_member"]})
    direct = api.gql("""query($a: EntityRef!, $b: EntityRef!) {
      relationshipPaths(from: $a, to: $b) { length nodes { key } } }""",
                     {"a": {"kind": "PERSON", "key": chain["victim"]},
                      "b": {"kind": "PERSON", "key": chain["gang_member"]}})
    assert [[n["key"] for n in p["nodes"]] for p in got["relationshipPaths"]] == [
        [n["key"] for n in p["nodes"]] for p in direct["relationshipPaths"]]


def test_plate_co_travellers_are_the_plates_pairs(api):
    group = next(g for g in api.truth["cotravel_groups"]
                 if g["members"][0]["kind"] == "VEHICLE")
    plate = group["members"][0]["key"]
    got = _run(api, "PlateCoTravellers", {"plate": plate})["coTravel"]
    expected = {tuple(sorted(((p["a"]["kind"], p["a"]["key"]), (p["b"]["kind"], p["b"]["key"]))))
                for p in api.truth["cotravel_pairs"]
                if ("VEHICLE", plate) in ((p["a"]["kind"], p["a"]["key"]),
                                          (p["b"]["kind"], p["b"]["key"]))}
    assert {tuple(sorted((("VEHICLE", plate), (p["b"]["kind"], p["b"]["key"])))) for p in got
            } == expected
    assert all(p["evidence"] for p in got)


def test_person_gang_is_gang_of(api):
    person = api.truth["gangs"][0]["members"][0]
    got = _run(api, "PersonGang", {"person": person})["gangOf"]
    assert set(api.truth["gangs"][0]["members"]) == {m["person"]["key"] for m in got["members"]}


def test_case_network_holds_the_case_people(api, cypher):
    case = api.truth["fraud_chain"]["case_id"]
    people = {r["k"] for r in cypher(
        "MATCH (p:Person)-[:INVOLVED_IN]->(:Case {key: $c}) RETURN p.key AS k", c=case)}
    got = _run(api, "CaseNetwork", {"case": case})
    assert {p["key"] for p in got["case"]["people"]} == people
    assert people <= {n["key"] for n in got["network"]["nodes"]}


def test_phone_contacts_are_the_phones_timeline_in_the_period(api):
    phone = api.truth["fraud_chain"]["victim_phone"]
    ref = {"kind": "PHONE", "key": phone}
    every = api.gql("query($r: EntityRef!) { timeline(ref: $r, limit: 1000) { at type } }",
                    {"r": ref})["timeline"]
    since, until = every[0]["at"], every[-1]["at"]
    got = _run(api, "PhoneContacts", {"phone": phone.removeprefix("+86"), "since": since,
                                      "until": until})
    assert got["phone"]["key"] == phone
    assert [(e["at"], e["type"]) for e in got["events"]] == [(e["at"], e["type"])
                                                             for e in every]


def test_parcels_between_circles_use_calls_and_parcels_only(api):
    chain = api.truth["fraud_chain"]
    got = _run(api, "ParcelsBetweenCircles", {"phoneA": chain["victim_phone"],
                                              "phoneB": chain["mule_phone"]})
    paths = got["relationshipPaths"]
    assert paths and all(r["type"] in {"CALLED", "SENT", "RECEIVED"}
                         for p in paths for r in p["rels"])
    assert any(n["key"] == chain["waybill_no"] for p in paths for n in p["nodes"])


def test_run_saved_query_counts_the_saved_querys_items_in_the_audit(api):
    group = api.truth["cotravel_groups"][0]
    got = _run(api, "CoTravel", {"subject": group["members"][0]}, user="counting-analyst")
    record = json.loads(audit_path(api.settings.home).read_text().splitlines()[-1])
    assert record["user"] == "counting-analyst" and record["operation_name"] == "Run"
    assert record["result_count"] == len(got["coTravel"]) > 0


def test_a_saved_query_that_pages_counts_its_page_and_leaves_the_requests_own_page(api):
    """A page counts its items; run through runSavedQuery beside a page of the request's own
    (the same response key inside and out), each is counted once, as itself."""
    user = f"pager-{uuid.uuid4().hex[:8]}"
    name = f"Pairs{uuid.uuid4().hex[:8]}"
    inner = "query Pairs { coTravelPage(windowSeconds: 120, first: 3) { items { meetings } } }"
    api.gql(shipped("SaveQuery"), {"name": name, "description": "pages", "document": inner},
            user=user, purpose=None)
    got = api.gql("query Both($name: String!) { coTravelPage(windowSeconds: 120, first: 5) "
                  "{ items { meetings } } runSavedQuery(name: $name) }", {"name": name},
                  user=user)
    outer_items = len(got["coTravelPage"]["items"])
    inner_items = len(got["runSavedQuery"]["coTravelPage"]["items"])
    assert (outer_items, inner_items) == (5, 3)
    record = json.loads(audit_path(api.settings.home).read_text().splitlines()[-1])
    assert record["user"] == user and record["operation_name"] == "Both"
    assert record["result_count"] == outer_items + inner_items


def test_run_saved_query_refuses_mutations_and_bad_variables(api):
    code, _ = api.error(RUN, {"name": "CloseJointOperation", "variables": {"id": "x"}})
    assert code == "BAD_INPUT"
    code, _ = api.error(RUN, {"name": "Entity", "variables": {"ref": {"kind": "NOPE"}}})
    assert code == "BAD_INPUT"


def test_saved_query_errors_keep_their_code(api):
    code, _ = api.error(RUN, {"name": "Entity",
                              "variables": {"ref": {"kind": "CASE", "key": "NO-SUCH-CASE"}}})
    assert code == "NOT_FOUND"


def test_operator_needs_purpose_for_saved_data_queries(api):
    queries = api.gql("{ savedQueries { name document } }")["savedQueries"]
    run = next(q["document"] for q in queries if q["name"] == "RunSavedQuery")
    chain = api.truth["fraud_chain"]
    variables = {"name": "PersonPath",
                 "variables": {"from": chain["victim"], "to": chain["gang_member"]}}
    code, _ = api.error(run, variables, role="operator", purpose=None)
    assert code == "PURPOSE_REQUIRED"
    assert api.gql(run, variables, role="operator")["runSavedQuery"]["relationshipPaths"]


def test_saved_query_lists_its_variables(api):
    queries = api.gql("{ savedQueries { name variables builtin } }")["savedQueries"]
    path = next(q for q in queries if q["name"] == "PersonPath")
    assert path["builtin"] is True
    assert {v["name"]: v["type"] for v in path["variables"]} == {
        "from": "String!", "to": "String!", "maxHops": "Int", "limit": "Int",
        "scope": "ScopeInput"}
    assert next(v for v in path["variables"] if v["name"] == "maxHops")["default"] == 6


# -- who may see and run a saved query: owner, region, approval --------------------------------

A, B, C = "330100", "440300", "510100"
SHIPPED = Path(__file__).resolve().parents[1] / "queries" / "saved"
LIST = "{ savedQueries { name builtin createdBy createdAt approved approvedBy approvedAt } }"


def shipped(name: str) -> str:
    return (SHIPPED / f"{name}.graphql").read_text("utf-8")


def listed(api, **kw) -> dict[str, dict]:
    return {q["name"]: q for q in api.gql(LIST, purpose=None, **kw)["savedQueries"]}


def save(api, name: str, document: str, *, user: str = "owner-a", regions=(A,)) -> dict:
    return api.gql(shipped("SaveQuery"), {"name": name, "description": "test query",
                                          "document": document},
                   user=user, regions=regions, purpose=None)["saveQuery"]


def approve(api, name: str, mutation: str = "ApproveSavedQuery") -> dict:
    data = api.gql(shipped(mutation), {"name": name}, role="admin", purpose=None)
    return next(iter(data.values()))


def label_query(prefix: str) -> tuple[str, str]:
    """A fresh name and a document of that name (its text, so its hash, new to the graph)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return name, f"query {name}($ref: EntityRef!) {{ entity(ref: $ref) {{ key label }} }}"


def victim(api) -> dict:
    return {"ref": {"kind": "PERSON", "key": api.truth["fraud_chain"]["victim"]}}


def last_record(api) -> dict:
    return json.loads(audit_path(api.settings.home).read_text("utf-8").splitlines()[-1])


def code_of(response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


def test_operators_run_an_analysts_query_only_once_an_admin_approves_it(api):
    name, document = label_query("VictimLabel")
    operator = {"role": "operator", "regions": (A,)}
    run = {"name": name, "variables": victim(api)}
    assert save(api, name, document)["name"] == name

    assert name not in listed(api, **operator)
    assert api.error(RUN, run, **operator)[0] == "NOT_FOUND"
    sent = api.post(document, victim(api), **operator)
    assert (sent.status_code, code_of(sent)) == (403, "FORBIDDEN")

    before = datetime.now(UTC)
    got = approve(api, name)
    assert (got["approved"], got["approvedBy"]) == (True, "admin-user")
    assert before - timedelta(seconds=5) <= datetime.fromisoformat(got["approvedAt"]) <= (
        datetime.now(UTC) + timedelta(seconds=5))
    record = last_record(api)
    assert (record["user"], record["role"], record["operation_name"], record["outcome"]) == (
        "admin-user", "admin", "ApproveSavedQuery", "allowed")
    assert record["variables"] == {"name": name}

    assert listed(api, **operator)[name]["approved"] is True
    key = victim(api)["ref"]["key"]
    assert _run(api, name, victim(api), **operator)["entity"]["key"] == key
    assert api.gql(document, victim(api), **operator)["entity"]["key"] == key

    assert approve(api, name, "RevokeSavedQueryApproval")["approved"] is False
    assert last_record(api)["operation_name"] == "RevokeSavedQueryApproval"
    assert name not in listed(api, **operator)
    assert api.error(RUN, run, **operator)[0] == "NOT_FOUND"
    assert code_of(api.post(document, victim(api), **operator)) == "FORBIDDEN"


def test_changing_an_approved_query_withdraws_its_approval(api):
    name, document = label_query("Swapped")
    save(api, name, document)
    read_hash = hashlib.sha256(document.encode()).hexdigest()
    got = api.gql(shipped("ApproveSavedQuery"), {"name": name, "documentHash": read_hash},
                  role="admin", purpose=None)["approveSavedQuery"]
    assert (got["approved"], got["documentHash"]) == (True, read_hash)
    changed = document.replace("key label", "key label kind")
    again = save(api, name, changed)
    assert again["name"] == name
    shown = listed(api, role="admin")[name]
    assert (shown["approved"], shown["approvedBy"], shown["approvedAt"]) == (False, None, None)
    operator = {"role": "operator", "regions": (A,)}
    assert api.error(RUN, {"name": name, "variables": victim(api)}, **operator)[0] == "NOT_FOUND"
    for text in (document, changed):  # neither the approved text nor the new one
        assert code_of(api.post(text, victim(api), **operator)) == "FORBIDDEN"
    # An admin who read the old text cannot approve the new one by mistake.
    code, _ = api.error(shipped("ApproveSavedQuery"), {"name": name, "documentHash": read_hash},
                        role="admin")
    assert code == "BAD_INPUT"
    assert listed(api, role="admin")[name]["approved"] is False


def test_a_saved_query_belongs_to_its_owner_and_the_owners_regions(api):
    name, document = label_query("Regional")
    before = datetime.now(UTC) - timedelta(seconds=5)
    save(api, name, document, user="owner-a", regions=(A,))
    mine = listed(api, user="owner-a", regions=(A,))[name]
    assert (mine["createdBy"], mine["builtin"], mine["approved"]) == ("owner-a", False, False)
    assert before <= datetime.fromisoformat(mine["createdAt"]) <= datetime.now(UTC)
    run = {"name": name, "variables": victim(api)}
    key = victim(api)["ref"]["key"]
    for who in ({"user": "owner-a", "regions": (A,)}, {"user": "colleague", "regions": (C, A)},
                {"role": "service", "regions": (A,)}):
        assert name in listed(api, **who), who
        assert _run(api, name, victim(api), **who)["entity"]["key"] == key, who
    for who in ({"user": "stranger", "regions": (B,)}, {"role": "service", "regions": (B, C)}):
        assert name not in listed(api, **who), who
        assert api.error(RUN, run, **who)[0] == "NOT_FOUND", who
    assert name in listed(api, role="admin", regions=(B,))
    code, _ = api.error(shipped("SaveQuery"), {"name": name, "description": "mine now",
                                               "document": document},
                        user="colleague", regions=(A,))
    assert code == "FORBIDDEN"  # seen and run by the region, changed only by its owner
    api.gql(shipped("SaveQuery"), {"name": name, "description": "fixed by an admin",
                                   "document": document}, role="admin", regions=(B,))
    fixed = api.gql("{ savedQueries { name createdBy updatedBy description } }",
                    user="owner-a", regions=(A,), purpose=None)["savedQueries"]
    assert {"name": name, "createdBy": "owner-a", "updatedBy": "admin-user",
            "description": "fixed by an admin"} in fixed


def test_operators_list_exactly_the_approved_queries(api):
    name, document = label_query("Pending")
    save(api, name, document)
    everything = listed(api, role="admin")
    approved = {n for n, q in everything.items() if q["approved"]}
    assert {p.stem for p in SHIPPED.glob("*.graphql")} <= approved
    assert name in everything and name not in approved
    assert set(listed(api, role="operator", regions=(A,))) == approved  # the owner's region


def test_only_admins_approve(api):
    name, document = label_query("SelfApproved")
    save(api, name, document)
    for role in ("analyst", "operator", "service", "auditor"):
        for mutation in ("ApproveSavedQuery", "RevokeSavedQueryApproval"):
            code, _ = api.error(shipped(mutation), {"name": name}, role=role, user="owner-a",
                                regions=(A,))
            assert code == "FORBIDDEN", (role, mutation)
            assert last_record(api)["outcome"] == "denied:FORBIDDEN"
    assert listed(api, role="admin")[name]["approved"] is False
    code, _ = api.error(shipped("ApproveSavedQuery"), {"name": "NoSuchQuery"}, role="admin")
    assert code == "NOT_FOUND"


def test_an_unapproved_twenty_analysis_query_cannot_be_run_by_an_operator(api):
    fields = ("gangs { id size }", "coTravelGroups { size }", "coTravel { meetings }",
              "gangs(algorithm: LOUVAIN) { id }")
    name = f"Heavy_{uuid.uuid4().hex[:8]}"
    body = " ".join(f"a{i}: {fields[i % len(fields)]}" for i in range(20))
    document = f"query {name} {{ {body} }}"
    save(api, name, document)
    operator = {"role": "operator", "regions": (A,)}
    assert api.error(RUN, {"name": name}, **operator)[0] == "NOT_FOUND"
    sent = api.post(document, {}, **operator)
    assert (sent.status_code, code_of(sent)) == (403, "FORBIDDEN")
    assert last_record(api)["result_count"] is None


def test_shipped_queries_stay_approved_by_the_product_unless_revoked(api, driver):
    from fusion.api.saved import builtin_rows
    from fusion.api.schema import build_schema
    from queries.saved_queries import INSTALL_BUILTIN_QUERIES

    shown = listed(api, role="admin")["PersonGang"]
    assert (shown["approved"], shown["approvedBy"]) == (True, "fusion")
    rows = builtin_rows(build_schema(api.settings)._schema, api.settings.api_max_tokens)

    def restart_install() -> None:
        driver.execute_query(INSTALL_BUILTIN_QUERIES, rows=rows, now=datetime.now(UTC),
                             database_=api.settings.neo4j_database)
    try:
        approve(api, "PersonGang", "RevokeSavedQueryApproval")
        restart_install()
        assert listed(api, role="admin")["PersonGang"]["approved"] is False
        assert "PersonGang" not in listed(api, role="operator")
        approve(api, "PersonGang")
        restart_install()
        assert listed(api, role="admin")["PersonGang"]["approvedBy"] == "admin-user"
    finally:
        approve(api, "PersonGang")


def test_saving_a_document_over_the_limits_is_refused_quickly(api):
    # A fragment bomb (each level spreads the next twice: 2^20 selections once expanded) and a
    # document nested past the depth limit: refused on save, not first when run.
    bomb = ("query Bomb { ...F0 } "
            + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20))
            + " fragment F20 on Query { savedQueries { name } }")
    depth = api.settings.api_max_depth + 2
    nested = "query Nested { " + "a { " * depth + "b" + " }" * depth + " }"
    for name, document in (("Bomb", bomb), ("Nested", nested)):
        response = api.post(shipped("SaveQuery"), {"name": f"{name}_{uuid.uuid4().hex[:6]}",
                                                   "description": "over the limits",
                                                   "document": document}, purpose=None)
        assert response.elapsed.total_seconds() < 5
        assert code_of(response) == "TOO_COMPLEX", response.text
