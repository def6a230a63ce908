"""The analyses on the generator's scenario, against truth.json and independent evaluations.

One module-scoped load of the whole scenario into the real Neo4j and a fresh event store,
then CO_TRAVELED materialized once (gangs read it as evidence).
"""

from __future__ import annotations

import random
from datetime import timedelta
from itertools import combinations

import networkx as nx
import polars as pl
import pytest

from algorithms.cotravel import co_travel_pairs as algo_pairs
from fusion.errors import BadInput
from fusion.services import cotravel, gangs
from fusion.services.blocking import blocking_calls
from fusion.services.entities import EntityRef
from fusion.services.materialize import materialize_co_travel
from fusion.services.temporal import time_respecting_paths
from loaders.eventstore import scan_events
from queries.model import SUBJECT_TYPES
from tests.analyses_scenario import (
    brute_force_pairs,
    event_contacts,
    fewest_hop_routes,
    load_scenario,
    subject,
    truth_pairs,
)

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def world(scenario_dir, driver, neo4j_settings, tmp_path_factory):
    db = neo4j_settings.neo4j_database
    home = tmp_path_factory.mktemp("analyses-home")
    truth = load_scenario(driver, db, scenario_dir, home)
    materialize_co_travel(driver, db, home)
    return truth, home, db


@pytest.fixture(scope="module")
def call(world, neo4j_settings):
    """Runs a service call over the world's graph and event store."""
    with blocking_calls(neo4j_settings, home=world[1]) as run:
        yield run


@pytest.fixture(scope="module")
def time_paths(world, neo4j_settings):
    """time_respecting_paths(source, target, **options) over the world's graph and events."""
    with blocking_calls(neo4j_settings, home=world[1]) as call:
        yield lambda *args, **kwargs: call(time_respecting_paths, *args, **kwargs)


def _as_set(pairs: list[cotravel.CoTravelPair]) -> set[tuple]:
    return {(*sorted([(p.a.kind, p.a.key), (p.b.kind, p.b.key)]), p.meetings,
             p.distinct_sensors) for p in pairs}


def _regions(truth: dict) -> list[str]:
    return [r["code"] for r in truth["regions"]]


# ---------------------------------------------------------------------------------------------
# Co-travel


def test_all_pairs_equal_the_truth_exactly(world, call) -> None:
    truth, home, _ = world
    got = call(cotravel.co_travel_pairs, scope=None, limit=None)
    assert _as_set(got) == truth_pairs(truth)
    order = [(-p.significance, -p.distinct_sensors, -p.meetings) for p in got]
    assert order == sorted(order)


def test_each_regions_pairs_equal_a_self_join_over_that_regions_sightings(world, call) -> None:
    truth, home, _ = world
    for scope in [{r} for r in _regions(truth)] + [set(_regions(truth)[:2])]:
        got = call(cotravel.co_travel_pairs, scope=frozenset(scope), limit=None)
        assert _as_set(got) == brute_force_pairs(home, scope), scope


def test_a_scopes_significance_is_computed_from_that_scopes_sightings_alone(world, call) -> None:
    """The null model (habits, traffic, period, reads) sees only the scope's sightings: each
    scoped pair scores as the algorithm scores it over those sightings and nothing else."""
    truth, home, _ = world
    rows = scan_events(home, "sightings").collect()
    everything = {(p.a, p.b): p.significance
                  for p in call(cotravel.co_travel_pairs, scope=None, limit=None)}
    for region in _regions(truth):
        keep = pl.Series([region in r for r in rows["regions"].to_list()], dtype=pl.Boolean)
        alone = algo_pairs(rows.filter(keep).select(
            "subject_type", "subject", "sensor_id", "seen_at"))
        expected = {(r["a_type"], r["a"], r["b_type"], r["b"]): r for r in
                    alone.iter_rows(named=True)}
        got = call(cotravel.co_travel_pairs, scope=frozenset({region}), limit=None)
        assert len(got) == len(expected) > 0
        for p in got:
            row = expected[(SUBJECT_TYPES[p.a.kind], p.a.key, SUBJECT_TYPES[p.b.kind], p.b.key)]
            assert p.significance == pytest.approx(row["significance"], rel=1e-9)
            assert (p.a_reads, p.b_reads) == (row["a_reads"], row["b_reads"])
        differs = [p for p in got if (p.a, p.b) in everything
                   and p.significance != pytest.approx(everything[(p.a, p.b)], rel=1e-9)]
        assert differs, region  # the whole data's traffic and habits are not the scope's


def test_the_cross_region_pair_needs_both_regions(world, call) -> None:
    truth, home, _ = world
    pair = truth["cross_region_pair"]
    a, b = (EntityRef(*subject(m)) for m in pair["members"])

    def figures(scope, **thresholds):
        found = call(cotravel.co_travel_pairs, scope=scope, subject=a, limit=None, **thresholds)
        return next(((p.meetings, p.distinct_sensors) for p in found if p.b == b), None)

    assert figures(frozenset(pair["regions"])) == (pair["meetings_total"],
                                                   pair["distinct_sensors_total"])
    for region in pair["regions"]:
        alone = pair["meetings_per_region"][region]
        assert figures(frozenset({region})) is None
        assert figures(frozenset({region}), min_meetings=1, min_distinct_sensors=1) == (
            alone["meetings"], alone["distinct_sensors"])


def test_one_subjects_pairs_are_its_rows_of_all_pairs(world, call) -> None:
    truth, home, _ = world
    everyone = _as_set(call(cotravel.co_travel_pairs, scope=None, limit=None))
    for group in truth["cotravel_groups"][:3]:
        ref = EntityRef(*subject(group["members"][0]))
        mine = call(cotravel.co_travel_pairs, scope=None, subject=ref, limit=None)
        assert mine and all(p.a == ref for p in mine)
        assert _as_set(mine) == {p for p in everyone if (ref.kind, ref.key) in p[:2]}


def test_evidence_lists_the_meetings_at_shared_sensors_within_the_window(world, call) -> None:
    truth, home, _ = world
    sightings = scan_events(home, "sightings").collect()
    for p in call(cotravel.co_travel_pairs, scope=None, limit=5):
        (meetings,) = call(cotravel.co_travel_evidence, [cotravel.MeetingsOf(p.a, p.b)])
        assert len({m.sensor for m in meetings}) == p.distinct_sensors
        for m in meetings:
            assert abs(m.a_at - m.b_at) <= timedelta(seconds=120)
            for ref, at in ((p.a, m.a_at), (p.b, m.b_at)):
                assert sightings.filter((pl.col("subject") == ref.key)
                                        & (pl.col("sensor_id") == m.sensor)
                                        & (pl.col("seen_at") == at)).height == 1
        (first,) = call(cotravel.co_travel_evidence, [cotravel.MeetingsOf(p.a, p.b)], limit=2)
        assert first == meetings[:2]


def test_evidence_of_many_pairs_at_once_is_each_pairs_own(world, call) -> None:
    truth, _, _ = world
    region = frozenset({_regions(truth)[0]})
    pairs = call(cotravel.co_travel_pairs, scope=None, limit=6)
    asked = [cotravel.MeetingsOf(x, y, window=w, scope=s) for p in pairs
             for x, y in ((p.a, p.b), (p.b, p.a)) for w, s in ((120, None), (30, region))]
    together = call(cotravel.co_travel_evidence, asked)
    assert together == [call(cotravel.co_travel_evidence, [one])[0] for one in asked]
    assert all(together[::4]) and any(not m for m in together)
    for meetings, reverse in zip(together[::4], together[2::4], strict=True):
        assert sorted((m.sensor, m.b_at, m.a_at) for m in meetings) == sorted(
            (m.sensor, m.a_at, m.b_at) for m in reverse)


def test_groups_are_the_maximal_cliques_of_the_truths_pairs(world, call) -> None:
    truth, home, _ = world
    G = nx.Graph()
    G.add_edges_from((a, b) for a, b, _m, _d in truth_pairs(truth))
    want = {frozenset(c) for c in nx.find_cliques(G) if len(c) >= 3}
    got = call(cotravel.co_travel_groups, scope=None)
    assert {frozenset((m.kind, m.key) for m in g.members) for g in got} == want
    planted = [frozenset(subject(m) for m in g["members"]) for g in truth["cotravel_groups"]
               if len(g["members"]) >= 3]
    assert planted and all(any(p <= c for c in want) for p in planted)


def test_bad_co_travel_arguments_are_bad_input(world, call) -> None:
    _, home, _ = world
    with pytest.raises(BadInput):
        call(cotravel.co_travel_pairs, scope=None, subject=EntityRef("PERSON", "x"))
    with pytest.raises(BadInput):
        call(cotravel.co_travel_pairs, scope=None, window=-1)
    with pytest.raises(BadInput):
        call(cotravel.co_travel_pairs, scope=None, limit=0)
    with pytest.raises(BadInput):
        call(cotravel.co_travel_groups, scope=None, window=cotravel.MAX_WINDOW + 1)
    with pytest.raises(BadInput):
        call(cotravel.co_travel_evidence, [cotravel.MeetingsOf(EntityRef("PERSON", "x"),
                                                               EntityRef("PHONE", "y"))])


# ---------------------------------------------------------------------------------------------
# Materialized CO_TRAVELED


def _materialized(driver, db) -> dict:
    records, _, _ = driver.execute_query(
        "MATCH (a)-[r:CO_TRAVELED]->(b) RETURN labels(a)[0] AS la, a.key AS a, "
        "labels(b)[0] AS lb, b.key AS b, r {.*} AS r", database_=db)
    kind = {"Vehicle": "VEHICLE", "Phone": "PHONE"}
    return {((kind[x["la"]], x["a"]), (kind[x["lb"]], x["b"])): x["r"] for x in records}


def test_materialized_relationships_are_the_reported_pairs(world, call, driver) -> None:
    truth, home, db = world
    got = _materialized(driver, db)
    assert {(*sorted(k), r["meetings"], r["distinct_sensors"]) for k, r in got.items()} == (
        truth_pairs(truth))
    assert all(a < b for a, b in got)  # from the smaller (type, key) to the larger
    for p in call(cotravel.co_travel_pairs, scope=None, limit=None):
        r = got[tuple(sorted([(p.a.kind, p.a.key), (p.b.kind, p.b.key)]))]
        assert (r["first_at"].to_native(), r["last_at"].to_native()) == (p.first_at, p.last_at)
        assert (r["window_s"], r["min_meetings"], r["min_distinct_sensors"]) == (120.0, 3, 3)


def test_materialized_regions_are_those_of_the_meeting_sightings(world, driver) -> None:
    truth, home, db = world
    got = _materialized(driver, db)
    sightings = scan_events(home, "sightings").collect()
    kind = {"plate": "VEHICLE", "phone": "PHONE"}
    by_subject: dict[tuple, list] = {}
    for t, key, sensor, at, regions in sightings.select(
            "subject_type", "subject", "sensor_id", "seen_at", "regions").iter_rows():
        by_subject.setdefault((kind[t], key), []).append((sensor, at, regions))
    window = timedelta(seconds=120)
    for (a, b), r in got.items():
        expected = {g for sa, ta, ra in by_subject[a] for sb, tb, rb in by_subject[b]
                    if sa == sb and abs(ta - tb) <= window for g in (*ra, *rb)}
        assert r["regions"] == sorted(expected), (a, b)
    cross = truth["cross_region_pair"]
    assert got[tuple(sorted(subject(m) for m in cross["members"]))]["regions"] == sorted(
        cross["regions"])


def test_rerunning_replaces_the_relationships(world, driver) -> None:
    truth, home, db = world
    strict = materialize_co_travel(driver, db, home, min_meetings=10, min_distinct_sensors=10)
    assert strict.deleted == len(truth["cotravel_pairs"])
    assert strict.created == strict.pairs == len(_materialized(driver, db))
    assert all(r["meetings"] >= 10 for r in _materialized(driver, db).values())
    again = materialize_co_travel(driver, db, home)
    assert (again.deleted, again.created) == (strict.created, len(truth["cotravel_pairs"]))


# ---------------------------------------------------------------------------------------------
# Gangs


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def test_every_planted_gang_is_recovered(world, call, driver) -> None:
    truth, home, db = world
    found = call(gangs.gangs, scope=None)
    for planted in truth["gangs"]:
        members = set(planted["members"])
        best = max(found, key=lambda g: _jaccard(g.keys, members))
        assert _jaccard(best.keys, members) >= 0.8, planted["id"]


def test_gangs_are_reproducible_with_names_and_ranks(world, call, driver) -> None:
    _, home, db = world
    first = call(gangs.gangs, scope=None)
    assert first == call(gangs.gangs, scope=None)
    for g in first:
        assert [m.rank for m in g.members] == list(range(1, g.size + 1))
        assert all(m.person.label and m.person.regions for m in g.members)
        assert g.regions == tuple(sorted({r for m in g.members for r in m.person.regions}))


def test_a_scoped_run_sees_only_people_visible_in_scope(world, call, driver) -> None:
    truth, home, db = world
    region = truth["regions"][0]["code"]
    found = call(gangs.gangs, scope=frozenset({region}))
    assert all(region in m.person.regions for g in found for m in g.members)
    for planted in truth["gangs"]:
        if planted["regions"] == [region] == planted["operates_in"]:
            members = set(planted["members"])
            assert max(_jaccard(g.keys, members) for g in found) >= 0.8, planted["id"]


def test_links_of_a_scope_come_from_visible_elements_only(world, call, driver) -> None:
    truth, home, db = world
    region = truth["regions"][1]["code"]
    links = call(gangs.gang_links, scope=frozenset({region}))
    people = set(links["a"]) | set(links["b"])
    records, _, _ = driver.execute_query(
        "UNWIND $keys AS k MATCH (p:Person {key: k}) RETURN p.regions AS r", keys=list(people),
        database_=db)
    assert len(records) == len(people) and all(region in r["r"] for r in records)
    everything = call(gangs.gang_links, scope=None)
    assert links.height < everything.height


def test_scoped_call_evidence_counts_only_visible_calls(world, call, driver) -> None:
    truth, home, db = world
    for region in _regions(truth):
        scope = frozenset({region})
        owners: dict[str, set[str]] = {}
        records, _, _ = driver.execute_query(
            "MATCH (p:Person)-[u:USES]->(f:Phone) WHERE $r IN p.regions AND $r IN u.regions "
            "AND $r IN f.regions RETURN p.key AS p, f.key AS f", r=region, database_=db)
        for r in records:
            owners.setdefault(r["f"], set()).add(r["p"])
        expected: dict[tuple, int] = {}
        calls = scan_events(home, "calls").collect()
        for caller, callee, regions in calls.select("caller", "callee", "regions").iter_rows():
            if region not in regions or caller == callee:
                continue
            for a in owners.get(caller, ()):
                for b in owners.get(callee, ()):
                    if a != b:
                        pair = (min(a, b), max(a, b))
                        expected[pair] = expected.get(pair, 0) + 1
        links = call(gangs.gang_links, scope=scope, kinds=("call",))
        assert dict(zip(zip(links["a"], links["b"], strict=True), links["count"],
                        strict=True)) == expected


def test_gang_of_finds_a_members_gang(world, call, driver) -> None:
    truth, home, db = world
    planted = truth["gangs"][0]
    person = EntityRef("PERSON", planted["members"][0])
    gang = call(gangs.gang_of, person, scope=None)
    assert gang is not None and person.key in gang.keys
    assert gang in call(gangs.gangs, scope=None)
    with pytest.raises(BadInput):
        call(gangs.gang_of, EntityRef("PHONE", "+8613800000000"), scope=None)


def test_bad_gang_arguments_are_bad_input(world, call, driver) -> None:
    _, home, db = world
    for kwargs in ({"algorithm": "girvan"}, {"weights": {"religion": 1.0}},
                   {"weights": {"call": -1.0}}, {"min_size": 0}, {"resolution": 0}):
        with pytest.raises(BadInput):
            call(gangs.gangs, scope=None, **kwargs)


def test_only_suspects_of_one_case_are_linked_by_it(world, call, driver) -> None:
    _, home, db = world
    links = call(gangs.gang_links, scope=None, kinds=("case",))
    cases = scan_events(home, "cases").filter(pl.col("id_no").is_not_null()).collect()
    suspects = cases.filter(pl.col("role") == "suspect")
    expected = set()
    for _case, group in suspects.group_by("case_id"):
        people = sorted(set(group["id_no"]))
        expected |= set(combinations(people, 2))
    assert set(zip(links["a"], links["b"], strict=True)) == expected


# ---------------------------------------------------------------------------------------------
# Time-respecting paths


def _route(path) -> tuple:
    out = [(path.nodes[0].kind, path.nodes[0].key)]
    for hop, node in zip(path.hops, path.nodes[1:], strict=True):
        out += [hop.type, (node.kind, node.key)]
    return tuple(out)


# (maximum gap, scope: index of the region or None for all)
TIME_CASES = [(None, None), (timedelta(days=1), None), (timedelta(days=2), 0), (None, 1)]


def _walk_end(contacts: list[tuple], source, hops: int, gap, rng: random.Random):
    """Where a random time-respecting walk of up to ``hops`` hops from ``source`` ends."""
    node, last = source, None
    for _ in range(hops):
        options = [(k, c) for k, c in enumerate(contacts) if node in (c[1], c[2])
                   and (last is None or (k != last[0] and last[1] <= c[3]
                                         and (gap is None or c[3] <= last[1] + gap)))]
        if not options:
            break
        k, (_t, u, v, at) = rng.choice(options)
        node, last = (v if node == u else u), (k, at)
    return node


@pytest.mark.parametrize(("gap", "region"), TIME_CASES)
def test_time_respecting_paths_equal_an_enumeration_of_every_walk(world, time_paths, gap,
                                                                  region) -> None:
    truth, home, db = world
    scope = None if region is None else frozenset({_regions(truth)[region]})
    contacts = event_contacts(home, scope)
    phones = sorted({c[1] for c in contacts})
    rng = random.Random(region or 7)
    checked = 0
    for _ in range(30):
        source = rng.choice(phones)
        target = _walk_end(contacts, source, 3, gap, rng)
        if target == source or any({source, target} == {u, v} for _t, u, v, _a in contacts):
            continue
        want = fewest_hop_routes(contacts, source, target, 3, gap)
        got = time_paths(EntityRef(*source), EntityRef(*target), scope=scope,
                         rel_types=["CALLED", "SENT", "RECEIVED"], max_hops=3, max_gap=gap,
                         limit=1000)
        assert {_route(p): p.arrival for p in got} == want, (source, target)
        checked += len(want) > 0 and len(next(iter(want))) > 3  # at least two hops
    assert checked >= 3


def test_the_fraud_chain_as_time_respecting_paths(world, time_paths, driver) -> None:
    truth, home, db = world
    chain = truth["fraud_chain"]
    victim = EntityRef("PHONE", chain["victim_phone"])
    mule = EntityRef("PHONE", chain["mule_phone"])
    (parcel,) = time_paths(victim, mule, scope=None)
    assert [h.type for h in parcel.hops] == ["SENT", "RECEIVED"]
    assert parcel.nodes[1].key == chain["waybill_no"]
    # Delivered two days after shipping: with a one-day gap the parcel route is out.
    by_calls = time_paths(victim, mule, scope=None, max_gap=timedelta(days=1))
    assert by_calls
    for p in by_calls:
        assert p.length > 2
        gaps = [b.at - a.at for a, b in zip(p.hops[:-1], p.hops[1:], strict=True)]
        assert all(timedelta(0) <= g <= timedelta(days=1) for g in gaps)
    # Within the victim's region alone the calls that bridge the chain are not visible.
    assert time_paths(victim, mule, scope=frozenset({chain["victim_region"]}),
                      max_gap=timedelta(days=1)) == []


def _sightings_of(home) -> dict:
    kind = {"plate": "VEHICLE", "phone": "PHONE"}
    out: dict[tuple, list] = {}
    for t, key, sensor, at in scan_events(home, "sightings").select(
            "subject_type", "subject", "sensor_id", "seen_at").collect().iter_rows():
        out.setdefault((kind[t], key), []).append((sensor, at))
    return out


def test_a_co_travel_hop_arrives_at_the_pairs_first_meeting(world, time_paths) -> None:
    truth, home, db = world
    seen = _sightings_of(home)
    for a, b, _m, _d in sorted(truth_pairs(truth))[:6]:
        first = min(max(ta, tb) for sa, ta in seen[a] for sb, tb in seen[b]
                    if sa == sb and abs(ta - tb) <= timedelta(seconds=120))
        (path,) = time_paths(EntityRef(*a), EntityRef(*b), scope=None,
                             rel_types=["CO_TRAVELED"], limit=5)
        assert path.length == 1 and path.arrival == first
        assert (path.hops[0].source, path.hops[0].target) == (EntityRef(*a), EntityRef(*b))


def test_a_sensor_hop_pair_follows_the_order_of_the_sightings(world, time_paths) -> None:
    truth, home, db = world
    seen = _sightings_of(home)
    window = timedelta(seconds=120)
    for group in truth["cotravel_groups"][:3]:
        a, b = (subject(m) for m in group["members"][:2])
        arrivals = [tb for sa, ta in seen[a] for sb, tb in seen[b]
                    if sa == sb and ta <= tb <= ta + window]
        got = time_paths(EntityRef(*a), EntityRef(*b), scope=None, rel_types=["SEEN_AT"],
                         max_hops=2, max_gap=window, limit=1000)
        assert [p.arrival for p in got][:1] == ([min(arrivals)] if arrivals else [])
        assert all(p.length == 2 and p.nodes[1].kind == "SENSOR" for p in got)


def test_bad_time_path_arguments_are_bad_input(world, time_paths, driver) -> None:
    _, home, db = world
    a, b = EntityRef("PHONE", "+8613800000001"), EntityRef("PHONE", "+8613800000002")
    for kwargs in ({"rel_types": ["USES"]}, {"max_hops": 0}, {"max_hops": 7}, {"limit": 0},
                   {"max_gap": -5}):
        with pytest.raises(BadInput):
            time_paths(a, b, scope=None, **kwargs)
    with pytest.raises(BadInput):
        time_paths(a, a, scope=None)
