"""The GraphQL fields the workbench needs (timePaths, workspaces, viewer), through real HTTP
against the fixture scenario in a real Neo4j. The independent side: the event store read by the
analyses' own contact reader, the truth file, and what the graph holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from algorithms.utc import utc
from fusion.services.contacts import contacts, entity_id
from queries.cotravel import VISIBLE_CO_TRAVELED

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

ALL = ("330100", "440300", "510100")
TIME_PATHS = """query($from: EntityRef!, $to: EntityRef!, $maxHops: Int! = 4, $types: [RelType!],
                      $scope: ScopeInput) {
  timePaths(from: $from, to: $to, maxHops: $maxHops, relTypes: $types, scope: $scope) {
    length arrival nodes { kind key label } hops { type at from { kind key } to { kind key } }
  }
}"""
SAVE = """mutation($name: String!, $chart: JSON!, $scope: ScopeInput) {
  saveWorkspace(name: $name, chart: $chart, scope: $scope) {
    id name regions nodes createdBy createdAt updatedBy updatedAt chart
  }
}"""
LIST = "query($scope: ScopeInput) { workspaces(scope: $scope) { id name regions createdBy } }"
OPEN = "query($id: ID!, $scope: ScopeInput) { workspace(id: $id, scope: $scope) { name chart } }"
DELETE = "mutation($id: ID!, $scope: ScopeInput) { deleteWorkspace(id: $id, scope: $scope) { id } }"
VIEWER = "{ viewer { user role regions jointOperations { id name regions } } }"


def _phone_pair(api) -> tuple[dict, dict]:
    chain = api.truth["fraud_chain"]
    return ({"kind": "PHONE", "key": chain["victim_phone"]},
            {"kind": "PHONE", "key": chain["gang_member_phone"]})


def _chart(*keys: str) -> dict:
    nodes = [{"kind": "PERSON", "key": k, "x": i * 10, "y": 0} for i, k in enumerate(keys)]
    return {"nodes": nodes, "edges": [], "layout": "fcose"}


def test_time_paths_are_time_ordered_walks_over_real_events(api, driver):
    a, b = _phone_pair(api)
    paths = api.gql(TIME_PATHS, {"from": a, "to": b})["timePaths"]
    assert paths, "the fraud chain's phones are linked by calls in time order"
    co_traveled, _, _ = driver.execute_query(VISIBLE_CO_TRAVELED, scope=sorted(ALL),
                                             database_=api.settings.neo4j_database)
    frame = contacts(api.settings.home, ("CALLED", "SENT", "RECEIVED", "CO_TRAVELED"),
                     frozenset(ALL), co_traveled=co_traveled)
    events = {(r["type"], r["u"], r["v"], utc(r["at"])) for r in frame.iter_rows(named=True)}
    for p in paths:
        nodes = [(n["kind"], n["key"]) for n in p["nodes"]]
        assert nodes[0] == (a["kind"], a["key"]) and nodes[-1] == (b["kind"], b["key"])
        times = [datetime.fromisoformat(h["at"]) for h in p["hops"]]
        assert times == sorted(times) and p["arrival"] == p["hops"][-1]["at"]
        assert p["length"] == len(p["hops"]) == len(nodes) - 1
        for h, at in zip(p["hops"], times, strict=True):
            u = entity_id(h["from"]["kind"], h["from"]["key"])
            v = entity_id(h["to"]["kind"], h["to"]["key"])
            assert (h["type"], u, v, at) in events or (h["type"], v, u, at) in events, h


def test_time_paths_respect_the_hop_bound(api):
    a, b = _phone_pair(api)
    shortest = api.gql(TIME_PATHS, {"from": a, "to": b})["timePaths"][0]["length"]
    assert shortest > 1  # the two phones never called each other directly
    assert api.gql(TIME_PATHS, {"from": a, "to": b, "maxHops": shortest - 1})["timePaths"] == []
    code, _ = api.error(TIME_PATHS, {"from": a, "to": b, "maxHops": 99})
    assert code == "BAD_INPUT"


def test_time_paths_refuse_non_event_relationship_types(api):
    a, b = _phone_pair(api)
    code, error = api.error(TIME_PATHS, {"from": a, "to": b, "types": ["LIVES_AT"]})
    assert code == "BAD_INPUT" and "LIVES_AT" in error["message"]


def test_time_paths_end_outside_scope_is_not_found(api):
    chain = api.truth["fraud_chain"]
    a, b = _phone_pair(api)
    outside = next(r for r in ALL if r not in {chain["victim_region"], chain["gang_member_region"]})
    code, _ = api.error(TIME_PATHS, {"from": a, "to": b}, regions=(outside,))
    assert code == "NOT_FOUND"


def test_time_paths_need_a_purpose_and_are_closed_to_operators(api):
    a, b = _phone_pair(api)
    assert api.error(TIME_PATHS, {"from": a, "to": b}, purpose=None)[0] == "PURPOSE_REQUIRED"
    response = api.post(TIME_PATHS, {"from": a, "to": b}, role="operator")
    assert response.status_code == 403


def test_workspace_saves_lists_opens_and_records_who_and_when(api):
    people = api.truth["gangs"][0]["members"][:3]
    before = datetime.now(UTC) - timedelta(seconds=1)
    saved = api.gql(SAVE, {"name": "ws-roundtrip", "chart": _chart(*people)},
                    user="ana")["saveWorkspace"]
    assert saved["createdBy"] == saved["updatedBy"] == "ana" and saved["nodes"] == 3
    assert datetime.fromisoformat(saved["createdAt"]) >= before
    assert saved["regions"] == sorted(ALL)
    listed = api.gql(LIST, user="ben")["workspaces"]
    assert {"id": saved["id"], "name": "ws-roundtrip", "regions": sorted(ALL),
            "createdBy": "ana"} in listed
    opened = api.gql(OPEN, {"id": saved["id"]}, user="ben")["workspace"]
    assert opened["chart"] == _chart(*people)


def test_saving_again_under_a_name_replaces_the_chart_and_keeps_the_id(api):
    people = api.truth["gangs"][0]["members"]
    first = api.gql(SAVE, {"name": "ws-again", "chart": _chart(people[0])}, user="cai")
    second = api.gql(SAVE, {"name": "ws-again", "chart": _chart(*people[:2])}, user="cai")
    assert first["saveWorkspace"]["id"] == second["saveWorkspace"]["id"]
    assert second["saveWorkspace"]["nodes"] == 2
    assert first["saveWorkspace"]["createdAt"] == second["saveWorkspace"]["createdAt"]


def test_a_workspace_is_hidden_from_scopes_that_do_not_cover_its_regions(api):
    two = ("330100", "440300")
    saved = api.gql(SAVE, {"name": "ws-two-regions", "chart": _chart("x1")},
                    regions=two, user="dai")["saveWorkspace"]
    assert saved["regions"] == list(two)
    narrow = api.gql(LIST, regions=("330100",), user="dai")["workspaces"]
    assert saved["id"] not in {w["id"] for w in narrow}
    code, _ = api.error(OPEN, {"id": saved["id"]}, regions=("330100",), user="dai")
    assert code == "NOT_FOUND"
    assert api.gql(OPEN, {"id": saved["id"]}, regions=two, user="eve")["workspace"]


def test_only_the_creator_or_an_admin_deletes_a_workspace(api):
    saved = api.gql(SAVE, {"name": "ws-delete", "chart": _chart("x2")}, user="fan")
    wid = saved["saveWorkspace"]["id"]
    assert api.error(DELETE, {"id": wid}, user="gao")[0] == "NOT_FOUND"
    assert api.gql(DELETE, {"id": wid}, user="fan")["deleteWorkspace"]["id"] == wid
    assert api.error(OPEN, {"id": wid})[0] == "NOT_FOUND"
    other = api.gql(SAVE, {"name": "ws-delete", "chart": _chart("x2")}, user="fan")
    oid = other["saveWorkspace"]["id"]
    assert api.gql(DELETE, {"id": oid}, role="admin", user="root")["deleteWorkspace"]["id"] == oid


@pytest.mark.parametrize("chart", [[], {"edges": []}, {"nodes": [{"kind": "CAT", "key": "1"}]},
                                   {"nodes": [{"kind": "PERSON"}]}, {"nodes": [], "edges": 3}])
def test_a_malformed_chart_is_bad_input(api, chart):
    code, _ = api.error(SAVE, {"name": "ws-bad", "chart": chart})
    assert code == "BAD_INPUT"


def test_a_blank_workspace_name_is_bad_input(api):
    assert api.error(SAVE, {"name": "  ", "chart": _chart("x3")})[0] == "BAD_INPUT"


def test_workspace_requests_are_audited_with_their_operation(api):
    api.gql("mutation Keep($c: JSON!) { saveWorkspace(name: \"ws-audit\", chart: $c) { id } }",
            {"c": _chart("x4")}, user="hu", operation_name="Keep")
    records = api.gql('{ auditLog(user: "hu", limit: 5) { operationName outcome purpose } }',
                      role="auditor")["auditLog"]
    assert {"operationName": "Keep", "outcome": "allowed", "purpose": "test case 1"} in records


def test_viewer_names_the_caller_and_their_open_joint_operations(api):
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = api.gql("""mutation($u: DateTime!) { createJointOperation(name: "JO viewer",
        regions: ["510100"], members: ["ivy"], validUntil: $u) { id } }""", {"u": until},
                      role="admin", user="root")["createJointOperation"]
    viewer = api.gql(VIEWER, regions=("330100",), user="ivy", purpose=None)["viewer"]
    assert viewer["user"] == "ivy" and viewer["role"] == "analyst"
    assert viewer["regions"] == ["330100"]
    assert {"id": created["id"], "name": "JO viewer", "regions": ["510100"]} in \
        viewer["jointOperations"]
    other = api.gql(VIEWER, user="jin", purpose=None)["viewer"]
    assert created["id"] not in {j["id"] for j in other["jointOperations"]}
