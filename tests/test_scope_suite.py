"""The scope suite (issue #13): for every operation whose answer carries relationship properties
or regions lists, a region-A caller's answer equals what region A's data alone gives.

The expectations are built from region A's raw files (tests.scope_truth: calls, sightings, the
co-travel meeting rule by brute force), never from the service or the graph. Regions lists are
checked everywhere they appear: everything an A-only caller sees came from A's records, so each
list is exactly ``[A]``. Figures that need the whole community detection (gang link counts)
are left to tests/test_analyses_scenario.py; here gangs are checked for their regions.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.scope_truth import (
    called_figures,
    meeting_figures,
    region_calls,
    region_sightings,
    seen_at_figures,
)

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

A = "330100"
SCOPE = (A,)
ENTITY = "kind key regions"
REL = f"type from {{ {ENTITY} }} to {{ {ENTITY} }} properties"
CO_FIGURES = ("meetings", "distinct_sensors", "first_at", "last_at")


@pytest.fixture(scope="module")
def co_traveled(api, driver):
    """CO_TRAVELED materialized over all regions' sightings for this module, removed after."""
    from fusion.services.materialize import delete_co_traveled, materialize_co_travel

    db = api.settings.neo4j_database
    materialize_co_travel(driver, db, api.settings.home)
    yield
    delete_co_traveled(driver, db)


@pytest.fixture(scope="module")
def calls(api, scenario_dir):
    return region_calls(scenario_dir, api.truth, A)


@pytest.fixture(scope="module")
def sightings(api, scenario_dir):
    return region_sightings(scenario_dir, api.truth, A)


@pytest.fixture(scope="module")
def phones(calls, cypher) -> list[str]:
    """A's phones with the most calls, those whose CALLED also holds other regions first."""
    shared = {r["a"] for r in cypher("MATCH (a:Phone)-[r:CALLED]->() WHERE $a IN r.regions "
                                     "AND size(r.regions) > 1 RETURN a.key AS a", a=A)}
    counts: dict[str, int] = {}
    for c in calls:
        counts[c["caller"]] = counts.get(c["caller"], 0) + 1
    return sorted(counts, key=lambda p: (p not in shared, -counts[p], p))[:8]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _entities(value) -> Iterator[dict]:
    """Every object with ``kind``, ``key`` and ``regions`` anywhere in an answer."""
    if isinstance(value, dict):
        if {"kind", "key", "regions"} <= value.keys():
            yield value
        for v in value.values():
            yield from _entities(v)
    elif isinstance(value, list):
        for v in value:
            yield from _entities(v)


def _assert_regions_are_a(data) -> None:
    entities = list(_entities(data))
    assert all(e["regions"] == [A] for e in entities), \
        [e for e in entities if e["regions"] != [A]][:3]


def _check_rel(rel: dict, called, seen, sightings, checked: dict) -> None:
    """One relationship's aggregates and regions against region A's data."""
    props, kind = rel["properties"], rel["type"]
    src, dst = rel["from"], rel["to"]
    if kind == "CALLED":
        expected = called[(src["key"], dst["key"])]
    elif kind == "SEEN_AT":
        expected = seen[(src["kind"], src["key"], dst["key"])]
    elif kind == "CO_TRAVELED":
        expected = meeting_figures(sightings, (src["kind"], src["key"]),
                                   (dst["kind"], dst["key"]), props["window_s"])
    else:
        assert props.get("regions", [A]) == [A]
        return
    got = {k: _time(props[k]) if k.endswith("_at") else props[k] for k in expected}
    assert got == expected, (kind, src["key"], dst["key"])
    assert props["regions"] == [A]
    checked[kind] = checked.get(kind, 0) + 1


@pytest.fixture(scope="module")
def check(calls, sightings):
    called, seen = called_figures(calls), seen_at_figures(sightings)

    def run(rels: list[dict], checked: dict) -> None:
        for rel in rels:
            _check_rel(rel, called, seen, sightings, checked)
    return run


def test_entity(api, phones):
    for key in phones:
        data = api.gql("query($k: String!) { entity(ref: {kind: PHONE, key: $k}) "
                       "{ kind key regions ... on Phone { users { kind key regions } } } }",
                       {"k": key}, regions=SCOPE)
        assert data["entity"]["regions"] == [A]
        _assert_regions_are_a(data)


def test_search(api, calls):
    name = api.gql("query($k: String!) { entity(ref: {kind: PHONE, key: $k}) "
                   "{ ... on Phone { users { label } } } }", {"k": calls[0]["caller"]},
                   regions=SCOPE)
    terms = [u["label"] for u in name["entity"]["users"] if u["label"]] or [calls[0]["caller"]]
    data = api.gql("query($q: String!) { search(text: $q, limit: 50) { kind key regions } }",
                   {"q": terms[0]}, regions=SCOPE)
    assert data["search"]
    _assert_regions_are_a(data)


def test_neighborhood(api, phones, calls, check, co_traveled):
    checked: dict[str, int] = {}
    for key in phones:
        data = api.gql(f"""query($k: String!) {{ neighborhood(ref: {{kind: PHONE, key: $k}},
            hops: 2, limit: 400) {{ nodes {{ {ENTITY} }} rels {{ {REL} }} }} }}""",
                       {"k": key}, regions=SCOPE)["neighborhood"]
        _assert_regions_are_a(data)
        check(data["rels"], checked)
        mine = {(c["caller"], c["callee"]) for c in calls if key in (c["caller"], c["callee"])}
        shown = {(r["from"]["key"], r["to"]["key"]) for r in data["rels"]
                 if r["type"] == "CALLED" and key in (r["from"]["key"], r["to"]["key"])}
        assert shown == mine
    assert checked.get("CALLED") and checked.get("SEEN_AT")


def test_neighborhood_of_a_co_travelling_vehicle(api, check, co_traveled):
    a = api.truth["cross_region_pair"]["members"][0]
    checked: dict[str, int] = {}
    data = api.gql(f"""query($ref: EntityRef!) {{ neighborhood(ref: $ref, limit: 400)
        {{ nodes {{ {ENTITY} }} rels {{ {REL} }} }} }}""", {"ref": a},
                   regions=SCOPE)["neighborhood"]
    _assert_regions_are_a(data)
    check(data["rels"], checked)
    assert checked.get("CO_TRAVELED") and checked.get("SEEN_AT")


def _path_ends(calls, phones) -> list[tuple[str, str]]:
    """Pairs of A phones two calls apart (a path of length 2 at least)."""
    direct = {(c["caller"], c["callee"]) for c in calls}
    out = []
    for a in phones[:4]:
        for (x, y) in sorted(direct):
            if x == a and y != a:
                for (p, q) in sorted(direct):
                    if p == y and q not in (a, y) and (a, q) not in direct:
                        out.append((a, q))
                        break
            if len(out) and out[-1][0] == a:
                break
    return out


def test_relationship_paths(api, calls, phones, check, co_traveled):
    checked: dict[str, int] = {}
    ends = _path_ends(calls, phones)
    assert ends
    for a, b in ends:
        data = api.gql(f"""query($a: String!, $b: String!) {{ relationshipPaths(
            from: {{kind: PHONE, key: $a}}, to: {{kind: PHONE, key: $b}}, limit: 5)
            {{ nodes {{ {ENTITY} }} rels {{ {REL} }} }} }}""", {"a": a, "b": b},
                       regions=SCOPE)["relationshipPaths"]
        assert data
        _assert_regions_are_a(data)
        check([r for p in data for r in p["rels"]], checked)
    assert checked.get("CALLED")


def _csv(files: list[dict], part: str) -> list[dict]:
    text = next(f["content"] for f in files if f["name"].endswith(part))
    return list(csv.DictReader(io.StringIO(text)))


def test_export_paths(api, calls, phones, co_traveled):
    called = called_figures(calls)
    a, b = _path_ends(calls, phones)[0]
    files = api.gql("""query($a: String!, $b: String!) { exportPaths(format: CSV,
        from: {kind: PHONE, key: $a}, to: {kind: PHONE, key: $b}, limit: 5)
        { files { name content } } }""", {"a": a, "b": b}, regions=SCOPE)["exportPaths"]["files"]
    nodes, rels = _csv(files, "nodes.csv"), _csv(files, "rels.csv")
    assert nodes and all(json.loads(n["regions"]) == [A] for n in nodes)
    shown = [r for r in rels if r["type"] == "CALLED"]
    assert shown
    for r in shown:
        expected = called[(r["from_key"], r["to_key"])]
        assert int(r["count"]) == expected["count"]
        assert int(r["total_duration_s"]) == expected["total_duration_s"]
        assert _time(r["first_at"]) == expected["first_at"]
        assert _time(r["last_at"]) == expected["last_at"]
        assert json.loads(r["prop_regions"]) == [A]


def test_neighborhood_export(api, phones, calls):
    called = called_figures(calls)
    files = api.gql("""query($k: String!) { neighborhood(ref: {kind: PHONE, key: $k},
        relTypes: [CALLED]) { export(format: CSV) { files { name content } } } }""",
                    {"k": phones[0]}, regions=SCOPE)["neighborhood"]["export"]["files"]
    assert all(json.loads(n["regions"]) == [A] for n in _csv(files, "nodes.csv"))
    rels = _csv(files, "rels.csv")
    assert rels and all(int(r["count"]) == called[(r["from_key"], r["to_key"])]["count"]
                        for r in rels)


def test_gangs_and_gang_of(api):
    gangs = api.gql("""{ gangs(minSize: 2) { id regions
        members { person { kind key regions } } } }""", regions=SCOPE)["gangs"]
    assert gangs
    assert all(g["regions"] == [A] for g in gangs)
    _assert_regions_are_a(gangs)
    key = gangs[0]["members"][0]["person"]["key"]
    gang = api.gql("""query($k: String!) { gangOf(person: {kind: PERSON, key: $k}, minSize: 2)
        { id regions members { person { kind key regions } } } }""", {"k": key},
                   regions=SCOPE)["gangOf"]
    assert gang["id"] == gangs[0]["id"] and gang["regions"] == [A]


def test_co_travel_of_the_cross_region_pair(api, sightings):
    pair = api.truth["cross_region_pair"]
    a, b = pair["members"]
    got = api.gql("""query($s: EntityRef!) { coTravel(subject: $s, minMeetings: 1,
        minDistinctSensors: 1) { a { kind key regions } b { kind key regions }
        meetings distinctSensors firstAt lastAt } }""", {"s": a}, regions=SCOPE)["coTravel"]
    row = next(p for p in got if p["b"]["key"] == b["key"])
    expected = meeting_figures(sightings, (a["kind"], a["key"]), (b["kind"], b["key"]))
    assert {"meetings": row["meetings"], "distinct_sensors": row["distinctSensors"],
            "first_at": _time(row["firstAt"]), "last_at": _time(row["lastAt"])} == expected
    _assert_regions_are_a(got)


def test_co_travel_groups(api, sightings):
    groups = api.gql("""{ coTravelGroups { members { kind key regions } meetings
        distinctSensors } }""", regions=SCOPE)["coTravelGroups"]
    assert groups
    _assert_regions_are_a(groups)
    for g in groups:
        members = [(m["kind"], m["key"]) for m in g["members"]]
        figures = [meeting_figures(sightings, x, y) for i, x in enumerate(members)
                   for y in members[i + 1:]]
        assert g["meetings"] == min(f["meetings"] for f in figures)
        assert g["distinctSensors"] == min(f["distinct_sensors"] for f in figures)


def _timeline(api, key: str) -> list[dict]:
    return api.gql("""query($k: String!) { timeline(ref: {kind: PHONE, key: $k}, limit: 1000)
        { type regions entities { kind key regions } } }""", {"k": key},
                   regions=SCOPE)["timeline"]


def test_timeline(api, phones, calls):
    key = phones[0]
    events = _timeline(api, key)
    mine = [c for c in calls if key in (c["caller"], c["callee"])]
    assert sum(e["type"] in ("CALL", "SMS") for e in events) == len(mine)
    _assert_regions_are_a([e["entities"] for e in events])


def test_timeline_event_regions(api, phones):
    events = [e for key in phones for e in _timeline(api, key)]
    assert all(e["regions"] == [A] for e in events)


def test_run_saved_neighborhood(api, phones, check, co_traveled):
    checked: dict[str, int] = {}
    data = api.gql("""query($v: JSON) { runSavedQuery(name: "Neighborhood", variables: $v) }""",
                   {"v": {"ref": {"kind": "PHONE", "key": phones[0]}, "hops": 1}},
                   regions=SCOPE)["runSavedQuery"]["neighborhood"]
    _assert_regions_are_a(data["nodes"])
    check(data["rels"], checked)
    assert checked.get("CALLED")


def test_run_saved_entity(api, phones):
    data = api.gql("""query($v: JSON) { runSavedQuery(name: "Entity", variables: $v) }""",
                   {"v": {"ref": {"kind": "PHONE", "key": phones[0]}}},
                   regions=SCOPE)["runSavedQuery"]
    assert data["entity"]["regions"] == [A]
