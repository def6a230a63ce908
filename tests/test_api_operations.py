"""Every operation of the contract's operations.graphql, sent as written (the whole file with
an operationName) to the running service, answers correctly on the fixture scenario.

Expected values come from elsewhere: truth.json (planted gangs, the exact co-travel pairs),
direct Cypher, the raw event store, networkx.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import polars as pl
import pytest

from loaders.eventstore import scan_events
from tests.graph_oracle import ALL_ELEMENTS, visible_graph

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

CONTRACT = (Path(__file__).resolve().parents[2] / "shared" / "contract"
            / "operations.graphql").read_text()
PATH_TYPES = {"INVOLVED_IN", "USES", "OWNS", "LIVES_AT", "OCCURRED_AT", "CALLED", "SENT",
              "RECEIVED", "FROM_ADDRESS", "TO_ADDRESS", "CO_TRAVELED"}


def run(api, name: str, variables: dict | None = None, **kw) -> dict:
    return api.gql(CONTRACT, variables, operation_name=name, **kw)


def _pair_key(a: dict, b: dict) -> frozenset:
    return frozenset({(a["kind"], a["key"]), (b["kind"], b["key"])})


def test_entity(api, cypher):
    key = api.truth["fraud_chain"]["case_id"]
    (row,) = cypher("MATCH (c:Case {key: $k}) RETURN c.label AS label, c.regions AS regions, "
                    "c.case_type AS t", k=key)
    got = run(api, "Entity", {"ref": {"kind": "CASE", "key": key}})["entity"]
    assert (got["kind"], got["key"], got["label"], got["regions"]) == (
        "CASE", key, row["label"], row["regions"])
    assert got["properties"]["case_type"] == row["t"]


def test_search(api):
    waybill = api.truth["fraud_chain"]["waybill_no"]
    got = run(api, "Search", {"text": waybill, "kinds": ["PARCEL"]})["search"]
    assert got[0]["key"] == waybill


def test_neighborhood(api, cypher):
    phone = api.truth["fraud_chain"]["mule_phone"]
    expected = {(r["kind"], r["key"]) for r in cypher(
        "MATCH (:Phone {key: $k})--(n) RETURN DISTINCT n.key AS key, "
        "toUpper(labels(n)[0]) AS kind", k=phone)} | {("PHONE", phone)}
    got = run(api, "Neighborhood", {"ref": {"kind": "PHONE", "key": phone}})["neighborhood"]
    assert {(n["kind"], n["key"]) for n in got["nodes"]} == expected
    assert got["truncated"] is False
    assert all(("PHONE", phone) in {(r["from"]["kind"], r["from"]["key"]),
                                    (r["to"]["kind"], r["to"]["key"])} for r in got["rels"])


def test_relationship_paths(api, cypher):
    chain = api.truth["fraud_chain"]
    G = visible_graph(cypher(ALL_ELEMENTS), {"330100", "440300", "510100"}, PATH_TYPES)
    a, b = ("PERSON", chain["victim"]), ("PERSON", chain["gang_member"])
    got = run(api, "RelationshipPaths", {"from": {"kind": a[0], "key": a[1]},
                                         "to": {"kind": b[0], "key": b[1]}})
    paths = got["relationshipPaths"]
    assert 1 <= len(paths) <= 3
    assert paths[0]["length"] == nx.shortest_path_length(G, a, b)


@pytest.fixture(scope="module")
def gangs(api):
    return run(api, "Gangs", {"minSize": 3})["gangs"]


def test_gangs_recover_every_planted_gang(api, gangs):
    found = {frozenset(m["person"]["key"] for m in g["members"]) for g in gangs}
    for planted in api.truth["gangs"]:
        assert frozenset(planted["members"]) in found, planted["id"]
    for g in gangs:
        assert g["size"] == len(g["members"]) >= 3
        assert sorted(m["rank"] for m in g["members"]) == list(range(1, g["size"] + 1))
        assert 0 <= g["cohesion"] <= 1
        assert set(g["regions"]) == {r for m in g["members"] for r in m["person"]["regions"]}


def test_gang_of_is_the_persons_gang_in_gangs(api, gangs):
    person = api.truth["gangs"][0]["members"][0]
    got = run(api, "GangOf", {"person": {"kind": "PERSON", "key": person}})["gangOf"]
    expected = next(g for g in gangs if person in {m["person"]["key"] for m in g["members"]})
    assert got["id"] == expected["id"] and got["size"] == expected["size"]
    assert [m["person"]["key"] for m in got["members"]] == [
        m["person"]["key"] for m in expected["members"]]


def _truth_pairs(api) -> dict[frozenset, tuple[int, int]]:
    return {_pair_key(p["a"], p["b"]): (p["meetings"], p["distinct_sensors"])
            for p in api.truth["cotravel_pairs"]}


def test_co_travel_of_all_pairs_equals_the_truth(api):
    window = api.truth["cotravel_defaults"]["window_s"]
    got = run(api, "CoTravel", {"windowSeconds": window, "limit": 1000})["coTravel"]
    assert {_pair_key(p["a"], p["b"]): (p["meetings"], p["distinctSensors"])
            for p in got} == _truth_pairs(api)


def test_co_travel_of_a_subject_with_evidence(api):
    window = api.truth["cotravel_defaults"]["window_s"]
    group = api.truth["cotravel_groups"][0]
    subject = group["members"][0]
    expected = {k: v for k, v in _truth_pairs(api).items()
                if (subject["kind"], subject["key"]) in k}
    got = run(api, "CoTravel", {"subject": subject, "windowSeconds": window})["coTravel"]
    assert {_pair_key(p["a"], p["b"]): (p["meetings"], p["distinctSensors"])
            for p in got} == expected
    sightings = scan_events(api.settings.home, "sightings").collect()
    for pair in got:
        assert pair["a"] == {"kind": subject["kind"], "key": subject["key"]}
        assert 0 < len(pair["evidence"]) <= 20
        for meeting in pair["evidence"]:
            a_at, b_at = (datetime.fromisoformat(meeting[k]) for k in ("aAt", "bAt"))
            assert abs((a_at - b_at).total_seconds()) <= window
            for side, at in ((pair["a"], a_at), (pair["b"], b_at)):
                seen = sightings.filter(
                    (pl.col("subject") == side["key"])
                    & (pl.col("sensor_id") == meeting["sensor"]["key"])
                    & (pl.col("seen_at") == at))
                assert seen.height == 1


def test_co_travel_groups_are_the_maximal_cliques_of_the_truth_pairs(api):
    window = api.truth["cotravel_defaults"]["window_s"]
    G = nx.Graph()
    G.add_edges_from(tuple(k) for k in _truth_pairs(api))
    expected = {frozenset(c) for c in nx.find_cliques(G) if len(c) >= 3}
    got = run(api, "CoTravelGroups", {"windowSeconds": window})["coTravelGroups"]
    assert {frozenset((m["kind"], m["key"]) for m in g["members"]) for g in got} == expected


def test_timeline_of_a_person_is_every_event_of_their_phones_and_cases(api, cypher):
    chain = api.truth["fraud_chain"]
    person = chain["victim"]
    phones = [r["k"] for r in cypher("MATCH (:Person {key: $p})-[:USES]->(f) RETURN f.key AS k",
                                     p=person)]
    plates = [r["k"] for r in cypher("MATCH (:Person {key: $p})-[:OWNS]->(v) RETURN v.key AS k",
                                     p=person)]
    home = api.settings.home
    calls = scan_events(home, "calls").filter(
        pl.col("caller").is_in(phones) | pl.col("callee").is_in(phones)).collect()
    parcels = scan_events(home, "waybills").filter(
        pl.col("sender_phone").is_in(phones) | pl.col("receiver_phone").is_in(phones)).collect()
    seen = scan_events(home, "sightings").filter(pl.col("subject").is_in(phones + plates)
                                                 ).collect()
    cases = cypher("MATCH (:Person {key: $p})-[:INVOLVED_IN]->(c) RETURN c.reported_at AS at",
                   p=person)
    expected = sorted(
        [(t, "SMS" if k == "sms" else "CALL") for t, k in calls.select("start_time",
                                                                       "call_type").rows()]
        + [(t, "PARCEL") for t in parcels["shipped_at"]]
        + [(t, "SIGHTING") for t in seen["seen_at"]]
        + [(c["at"].to_native(), "CASE") for c in cases])
    got = run(api, "Timeline", {"ref": {"kind": "PERSON", "key": person},
                                "limit": 1000})["timeline"]
    assert [(datetime.fromisoformat(e["at"]), e["type"]) for e in got] == expected
    assert any(e["type"] == "PARCEL" and {"kind": "PARCEL", "key": chain["waybill_no"]}
               in e["entities"] for e in got)


def test_timeline_limit_and_range(api):
    phone = api.truth["fraud_chain"]["victim_phone"]
    ref = {"kind": "PHONE", "key": phone}
    every = run(api, "Timeline", {"ref": ref, "limit": 1000})["timeline"]
    assert len(every) >= 3
    first = run(api, "Timeline", {"ref": ref, "limit": 2})["timeline"]
    assert first == every[:2]
    since = every[1]["at"]
    later = run(api, "Timeline", {"ref": ref, "since": since, "limit": 1000})["timeline"]
    assert later == [e for e in every if e["at"] >= since]


def test_saved_queries_and_run_saved_query(api):
    names = {q["name"] for q in run(api, "SavedQueries", purpose=None)["savedQueries"]}
    assert {"Entity", "CoTravel", "AuditLog", "CaseNetwork", "PersonPath"} <= names
    key = api.truth["fraud_chain"]["victim"]
    variables = {"ref": {"kind": "PERSON", "key": key}}
    got = run(api, "RunSavedQuery", {"name": "Entity", "variables": variables})
    assert got["runSavedQuery"] == run(api, "Entity", variables)


def test_save_query_then_run_it(api):
    document = "query MyCase($id: String!) { entity(ref: {kind: CASE, key: $id}) { key } }"
    saved = run(api, "SaveQuery", {"name": "MyCase", "description": "One case by id.",
                                   "document": document}, purpose=None)
    assert saved == {"saveQuery": {"name": "MyCase"}}
    case = api.truth["fraud_chain"]["case_id"]
    got = run(api, "RunSavedQuery", {"name": "MyCase", "variables": {"id": case}})
    assert got == {"runSavedQuery": {"entity": {"key": case}}}


def test_joint_operation_lifecycle(api):
    chain = api.truth["fraud_chain"]
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = run(api, "CreateJointOperation", {
        "name": "Op Gold", "regions": [chain["victim_region"], chain["gang_member_region"]],
        "members": ["analyst-zj"], "validUntil": until}, role="admin", purpose=None)
    op = created["createJointOperation"]
    assert op["open"] is True and op["members"] == ["analyst-zj"]
    listed = run(api, "JointOperations", role="admin", purpose=None)["jointOperations"]
    assert op["id"] in {o["id"] for o in listed}
    entity = {"ref": {"kind": "PERSON", "key": chain["gang_member"]},
              "scope": {"jointOperation": op["id"]}}
    seen = run(api, "Entity", entity, regions=(chain["victim_region"],), user="analyst-zj")
    assert seen["entity"]["key"] == chain["gang_member"]
    closed = run(api, "CloseJointOperation", {"id": op["id"]}, role="admin", purpose=None)
    assert closed == {"closeJointOperation": {"id": op["id"], "open": False}}
    code, _ = api.error(CONTRACT, entity, operation_name="Entity",
                        regions=(chain["victim_region"],), user="analyst-zj")
    assert code == "FORBIDDEN"


def test_audit_log_holds_the_requests(api):
    key = api.truth["fraud_chain"]["victim"]
    run(api, "Entity", {"ref": {"kind": "PERSON", "key": key}}, user="audited-analyst",
        purpose="case A-17 audit test")
    got = run(api, "AuditLog", {"user": "audited-analyst", "limit": 5}, role="auditor",
              purpose=None)["auditLog"]
    record = got[0]
    assert record["operationName"] == "Entity" and record["purpose"] == "case A-17 audit test"
    assert record["outcome"] == "allowed" and record["resultCount"] == 1
    assert record["role"] == "analyst" and record["scope"] == ["330100", "440300", "510100"]
    assert len(record["hash"]) == 64
