"""Relationship paths against the real Neo4j, checked against networkx on the same small graph."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from fusion.errors import BadInput
from fusion.services.blocking import blocking_calls
from fusion.services.paths import EntityRef, connecting_network, relationship_paths
from queries.paths import paths_statement

pytestmark = pytest.mark.neo4j

KINDS = ["PERSON", "PHONE", "VEHICLE", "CASE"]
LABEL = {"PERSON": "Person", "PHONE": "Phone", "VEHICLE": "Vehicle", "CASE": "Case"}
TYPES = ["USES", "CALLED", "OWNS", "INVOLVED_IN", "SEEN_AT"]
REGIONS = [["r1"], ["r2"], ["r1", "r2"], ["r3"]]


def _random_graph(seed: int, n: int = 50, m: int = 170):
    rng = random.Random(seed)
    nodes = [(f"{kind[:2]}{i}", kind, rng.choice(REGIONS))
             for i, kind in enumerate(rng.choice(KINDS) for _ in range(n))]
    edges = set()
    while len(edges) < m:
        a, b = rng.sample(range(n), 2)
        edges.add((nodes[a][0], nodes[b][0], rng.choice(TYPES), tuple(rng.choice(REGIONS))))
    return nodes, sorted(edges)


def _load(driver, db, nodes, edges) -> None:
    for kind in KINDS:
        rows = [{"key": k, "regions": r} for k, kd, r in nodes if kd == kind]
        driver.execute_query(f"UNWIND $rows AS row CREATE (n:{LABEL[kind]}) SET n = row",
                             rows=rows, database_=db)
    for rel_type in TYPES:
        rows = [{"a": a, "b": b, "regions": list(r)} for a, b, t, r in edges if t == rel_type]
        driver.execute_query(
            f"UNWIND $rows AS row MATCH (a {{key: row.a}}), (b {{key: row.b}}) "
            f"CREATE (a)-[:{rel_type} {{regions: row.regions}}]->(b)", rows=rows, database_=db)


def _expected(nodes, edges, src, dst, types, scope, max_hops):
    """Brute force: all shortest paths (as key sequences) in the visible multigraph."""
    visible = {k for k, _, r in nodes if scope is None or set(r) & scope}
    G = nx.Graph()
    G.add_nodes_from(visible)
    for a, b, t, r in edges:
        if t in types and a in visible and b in visible and (scope is None or set(r) & scope):
            G.add_edge(a, b)
    if src not in G or dst not in G or not nx.has_path(G, src, dst):
        return set(), None
    length = nx.shortest_path_length(G, src, dst)
    if length > max_hops:
        return set(), None
    return {tuple(p) for p in nx.all_shortest_paths(G, src, dst)}, length


@pytest.fixture(scope="module")
def call(neo4j_settings):
    """Runs a service call against the session's Neo4j."""
    with blocking_calls(neo4j_settings) as run:
        yield run


@pytest.fixture(scope="module")
def graph(driver, neo4j_settings):
    db = neo4j_settings.neo4j_database
    with driver.session(database=db) as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS").consume()
    nodes, edges = _random_graph(seed=11)
    _load(driver, db, nodes, edges)
    return nodes, edges


DEFAULT = ["USES", "CALLED", "OWNS", "INVOLVED_IN"]


@pytest.mark.parametrize("scope", [None, frozenset({"r1"}), frozenset({"r2", "r3"})])
def test_all_shortest_paths_equal_brute_force(call, driver, neo4j_settings, graph, scope) -> None:
    nodes, edges = graph
    kinds = {k: kd for k, kd, _ in nodes}
    rng = random.Random(5)
    candidates = sorted(k for k, _, r in nodes if scope is None or set(r) & scope)
    checked = 0
    for _ in range(40):
        src, dst = rng.sample(candidates, 2)
        want, length = _expected(nodes, edges, src, dst, DEFAULT, scope, 6)
        got = call(relationship_paths, EntityRef(kinds[src], src), EntityRef(kinds[dst], dst),
                   max_hops=6, limit=1000, scope=scope, all_shortest=True)
        assert {tuple(n.key for n in p.nodes) for p in got} == want
        assert all(p.length == length for p in got)
        checked += bool(want)
    assert checked >= 5, "too few connected pairs to mean anything"


def test_paths_are_shortest_first_and_limited(call, driver, neo4j_settings, graph) -> None:
    nodes, edges = graph
    kinds = {k: kd for k, kd, _ in nodes}
    for src, dst in [(a, b) for a in sorted(kinds)[:8] for b in sorted(kinds)[-8:]]:
        got = call(relationship_paths, EntityRef(kinds[src], src), EntityRef(kinds[dst], dst),
                   limit=3, scope=None)
        assert len(got) <= 3
        assert [p.length for p in got] == sorted(p.length for p in got)
        _, shortest = _expected(nodes, edges, src, dst, DEFAULT, None, 6)
        assert (got[0].length if got else None) == shortest


def test_no_path_goes_through_anything_outside_scope(call, driver, neo4j_settings, graph) -> None:
    nodes, _ = graph
    kinds = {k: kd for k, kd, _ in nodes}
    scope = frozenset({"r1"})
    for src in sorted(kinds)[:10]:
        for dst in sorted(kinds)[-10:]:
            for p in call(relationship_paths, EntityRef(kinds[src], src),
                          EntityRef(kinds[dst], dst), limit=5, scope=scope):
                assert all(set(n.regions) & scope for n in p.nodes)
                assert all(set(r.properties["regions"]) & scope for r in p.rels)


def test_max_hops_bounds_the_search(call, driver, neo4j_settings, graph) -> None:
    nodes, edges = graph
    kinds = {k: kd for k, kd, _ in nodes}
    for src in sorted(kinds)[:15]:
        for dst in sorted(kinds)[-15:]:
            _, length = _expected(nodes, edges, src, dst, DEFAULT, None, 6)
            if length and length >= 2:
                got = call(relationship_paths, EntityRef(kinds[src], src),
                           EntityRef(kinds[dst], dst), max_hops=length - 1, scope=None)
                assert got == []
                return
    pytest.fail("no pair at distance >= 2 in the test graph")


def test_raw_phone_keys_resolve_and_direction_is_ignored(call, empty_graph, neo4j_settings) -> None:
    db = neo4j_settings.neo4j_database
    empty_graph.execute_query(
        "CREATE (:Person {key: '11010519491231002X', regions: ['r1']})-[:USES {regions: ['r1']}]->"
        "(:Phone {key: '+8613812345678', regions: ['r1']})", database_=db)
    got = call(relationship_paths, EntityRef.parse("PHONE", "138-1234-5678"),
               EntityRef.parse("PERSON", "110105491231002"), scope=None)
    assert [(n.kind, n.key) for n in got[0].nodes] == [
        ("PHONE", "+8613812345678"), ("PERSON", "11010519491231002X")]
    assert got[0].rels[0].source == EntityRef("PERSON", "11010519491231002X")


def test_connecting_network_joins_every_pair(call, empty_graph, neo4j_settings) -> None:
    db = neo4j_settings.neo4j_database
    empty_graph.execute_query(
        "CREATE (a:Phone {key: 'a', regions: ['r']})-[:CALLED {regions: ['r']}]->"
        "(b:Phone {key: 'b', regions: ['r']})-[:CALLED {regions: ['r']}]->"
        "(c:Phone {key: 'c', regions: ['r']})", database_=db)
    refs = [EntityRef("PHONE", k) for k in "abc"]
    got = call(connecting_network, refs, scope=frozenset({"r"}))
    assert sorted((p.nodes[0].key, p.nodes[-1].key, p.length) for p in got) == [
        ("a", "b", 1), ("a", "c", 2), ("b", "c", 1)]


def test_scoped_search_is_the_bidirectional_shortest_path(driver, neo4j_settings) -> None:
    plan = driver.execute_query(
        "EXPLAIN " + paths_statement("PERSON", "PHONE", 6, 3, scoped=True),
        from_key="x", to_key="y", types=DEFAULT, scope=["r1"], limit=3,
        database_=neo4j_settings.neo4j_database).summary.plan
    operators = []
    stack = [plan]
    while stack:
        op = stack.pop()
        operators.append(op["operatorType"].split("@")[0])
        stack.extend(op.get("children", []))
    assert "StatefulShortestPath(Into)" in operators
    assert operators.count("NodeUniqueIndexSeek") == 2
    assert not any("AllNodesScan" in o or "Expand(All)" in o for o in operators)


def test_bad_arguments_are_bad_input(call) -> None:
    a, b = EntityRef("PHONE", "a"), EntityRef("PHONE", "b")
    with pytest.raises(BadInput):
        call(relationship_paths, a, b, max_hops=0, scope=None)
    with pytest.raises(BadInput):
        call(relationship_paths, a, b, rel_types=["KNOWS"], scope=None)
    with pytest.raises(BadInput):
        EntityRef.parse("PHONE", "12345")
