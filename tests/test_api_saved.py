"""The saved queries written for operations units, run by name, answer what the underlying
fields answer; saving validates; operators and the audit log see saved queries as such."""

from __future__ import annotations

import json

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
