"""Issue #13 item 1, through the running service: a region-A analyst sees aggregates and regions
lists of A's own data only, where the graph's relationship also holds region-B events.

Expectations come from region A's raw files (tests.scope_truth), never from the service.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.scope_truth import called_figures, meeting_figures, region_calls, region_sightings

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

A, B = "330100", "440300"
NEIGHBORHOOD = """query($ref: EntityRef!, $types: [RelType!]) {
  neighborhood(ref: $ref, relTypes: $types, limit: 1000) {
    nodes { kind key regions }
    rels { type from { kind key regions } to { kind key } properties }
  }
}"""
PATHS = """query($from: EntityRef!, $to: EntityRef!, $types: [RelType!]) {
  relationshipPaths(from: $from, to: $to, relTypes: $types, maxHops: 1, limit: 1) {
    nodes { regions }
    rels { type from { key } to { key } properties }
  }
}"""
FIGURES = ("count", "total_duration_s", "first_at", "last_at")


@pytest.fixture(scope="module")
def co_traveled(api, driver):
    """CO_TRAVELED materialized over all regions' sightings for this module, removed after."""
    from fusion.services.materialize import delete_co_traveled, materialize_co_travel

    db = api.settings.neo4j_database
    materialize_co_travel(driver, db, api.settings.home)
    yield
    delete_co_traveled(driver, db)


@pytest.fixture(scope="module")
def shared_calls(api, cypher):
    """CALLED pairs region A and another region both reported calls of."""
    rows = cypher("MATCH (a:Phone)-[r:CALLED]->(b:Phone) WHERE $a IN r.regions "
                  "AND size(r.regions) > 1 RETURN a.key AS a, b.key AS b, r.count AS count "
                  "ORDER BY a, b", a=A)
    assert rows, "the scenario has no CALLED shared by two regions"
    return rows


def _figures(props: dict, names=FIGURES) -> dict:
    return {k: datetime.fromisoformat(props[k]) if k.endswith("_at") else props[k]
            for k in names}


def test_neighborhood_called_counts_only_region_a_calls(api, scenario_dir, shared_calls):
    truth = called_figures(region_calls(scenario_dir, api.truth, A))
    shown = 0
    for row in shared_calls[:5]:
        data = api.gql(NEIGHBORHOOD, {"ref": {"kind": "PHONE", "key": row["a"]},
                                      "types": ["CALLED"]}, regions=(A,))
        for rel in data["neighborhood"]["rels"]:
            pair = (rel["from"]["key"], rel["to"]["key"])
            assert _figures(rel["properties"]) == truth[pair]
            assert rel["properties"]["regions"] == [A]
            shown += 1
    assert shown


def test_some_shared_call_count_differs_from_the_stored_one(api, scenario_dir, shared_calls):
    """The regression case itself: without the recount, A would see B's calls."""
    truth = called_figures(region_calls(scenario_dir, api.truth, A))
    assert any(truth[(r["a"], r["b"])]["count"] != r["count"] for r in shared_calls)


def test_paths_called_counts_only_region_a_calls(api, scenario_dir, shared_calls):
    truth = called_figures(region_calls(scenario_dir, api.truth, A))
    for row in shared_calls[:5]:
        paths = api.gql(PATHS, {"from": {"kind": "PHONE", "key": row["a"]},
                                "to": {"kind": "PHONE", "key": row["b"]},
                                "types": ["CALLED"]}, regions=(A,))["relationshipPaths"]
        rels = [r for p in paths for r in p["rels"]]
        assert rels and all(_figures(r["properties"]) == truth[(r["from"]["key"],
                                                                  r["to"]["key"])]
                            for r in rels)
        assert all(n["regions"] == [A] for p in paths for n in p["nodes"])


def test_cross_region_co_travel_shows_region_a_meetings(api, scenario_dir, co_traveled):
    pair = api.truth["cross_region_pair"]
    a, b = ((m["kind"], m["key"]) for m in pair["members"])
    expected = meeting_figures(region_sightings(scenario_dir, api.truth, A), a, b)
    assert expected["meetings"] == pair["meetings_per_region"][A]["meetings"]
    data = api.gql(NEIGHBORHOOD, {"ref": {"kind": a[0], "key": a[1]},
                                  "types": ["CO_TRAVELED"]}, regions=(A,))
    rels = [r for r in data["neighborhood"]["rels"]
            if {r["from"]["key"], r["to"]["key"]} == {a[1], b[1]}]
    assert len(rels) == 1
    names = ("meetings", "distinct_sensors", "first_at", "last_at")
    assert _figures(rels[0]["properties"], names) == expected
    assert rels[0]["properties"]["regions"] == [A]


def test_both_regions_see_the_stored_co_travel_figures(api, co_traveled):
    pair = api.truth["cross_region_pair"]
    a = pair["members"][0]
    data = api.gql(NEIGHBORHOOD, {"ref": a, "types": ["CO_TRAVELED"]}, regions=(A, B))
    rel = next(r for r in data["neighborhood"]["rels"]
               if pair["members"][1]["key"] in (r["from"]["key"], r["to"]["key"]))
    assert rel["properties"]["meetings"] == pair["meetings_total"]
    assert rel["properties"]["distinct_sensors"] == pair["distinct_sensors_total"]
    assert rel["properties"]["regions"] == sorted(pair["regions"])


def test_entity_regions_list_only_the_scope(api, cypher):
    key = cypher("MATCH (p:Phone) WHERE $a IN p.regions AND size(p.regions) > 1 "
                 "RETURN p.key AS key LIMIT 1", a=A)[0]["key"]
    data = api.gql("query($k: String!) { entity(ref: {kind: PHONE, key: $k}) { regions } }",
                   {"k": key}, regions=(A,))
    assert data["entity"]["regions"] == [A]
