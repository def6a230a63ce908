"""relationshipPaths through real HTTP, against networkx shortest paths on the same graph."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from tests.graph_oracle import ALL_ELEMENTS, visible_graph

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

DEFAULT_TYPES = {"INVOLVED_IN", "USES", "OWNS", "LIVES_AT", "OCCURRED_AT", "CALLED", "SENT",
                 "RECEIVED", "FROM_ADDRESS", "TO_ADDRESS", "CO_TRAVELED"}
ALL = ("330100", "440300", "510100")
QUERY = """query($from: EntityRef!, $to: EntityRef!, $maxHops: Int, $limit: Int,
                 $scope: ScopeInput) {
  relationshipPaths(from: $from, to: $to, maxHops: $maxHops, limit: $limit, scope: $scope) {
    length
    nodes { kind key }
    rels { type from { kind key } to { kind key } }
  }
}"""


@pytest.fixture(scope="module")
def rows(api, cypher):
    return cypher(ALL_ELEMENTS)


def _ref(node) -> dict:
    return {"kind": node[0], "key": node[1]}


def _paths(api, a, b, max_hops=6, limit=3, regions=ALL):
    return api.gql(QUERY, {"from": _ref(a), "to": _ref(b), "maxHops": max_hops,
                           "limit": limit}, regions=regions)["relationshipPaths"]


def _assert_walks(G: nx.MultiGraph, path: dict, a, b) -> None:
    nodes = [(n["kind"], n["key"]) for n in path["nodes"]]
    assert nodes[0] == a and nodes[-1] == b and path["length"] == len(path["rels"])
    assert len(nodes) == len(set(nodes)) == path["length"] + 1
    for (x, y), rel in zip(zip(nodes, nodes[1:], strict=False), path["rels"], strict=True):
        ends = {(rel["from"]["kind"], rel["from"]["key"]), (rel["to"]["kind"], rel["to"]["key"])}
        assert ends == {x, y}
        assert rel["type"] in {d["type"] for d in G.get_edge_data(x, y).values()}


def test_paths_are_shortest_first_and_real(api, rows):
    G = visible_graph(rows, set(ALL), DEFAULT_TYPES)
    persons = sorted(n for n in G if n[0] == "PERSON")
    rng, checked = random.Random(3), 0
    while checked < 8:
        a, b = rng.sample(persons, 2)
        try:
            length = nx.shortest_path_length(G, a, b)
        except nx.NetworkXNoPath:
            assert _paths(api, a, b) == []
            continue
        if length > api.settings.api_max_hops:
            continue
        got = _paths(api, a, b, max_hops=length, limit=3)
        assert got and got[0]["length"] == length
        assert [p["length"] for p in got] == sorted(p["length"] for p in got)
        for path in got:
            _assert_walks(G, path, a, b)
        checked += 1


def test_no_path_longer_than_max_hops(api, rows):
    G = visible_graph(rows, set(ALL), DEFAULT_TYPES)
    a = ("PERSON", api.truth["fraud_chain"]["victim"])
    b = ("PERSON", api.truth["fraud_chain"]["gang_member"])
    length = nx.shortest_path_length(G, a, b)
    assert _paths(api, a, b, max_hops=length - 1) == []
    assert _paths(api, a, b, max_hops=length)[0]["length"] == length


def test_paths_never_leave_scope(api, rows):
    chain = api.truth["fraud_chain"]
    region = chain["victim_region"]
    G = visible_graph(rows, {region}, DEFAULT_TYPES)
    a = ("PERSON", chain["victim"])
    others = sorted(n for n in nx.node_connected_component(G, a) if n[0] == "PERSON" and n != a)
    b = others[len(others) // 2]
    got = _paths(api, a, b, max_hops=8, regions=(region,))
    assert got[0]["length"] == nx.shortest_path_length(G, a, b)
    for path in got:
        _assert_walks(G, path, a, b)


def test_an_end_outside_scope_is_not_found(api):
    chain = api.truth["fraud_chain"]
    code, _ = api.error(QUERY, {"from": {"kind": "PERSON", "key": chain["victim"]},
                                "to": {"kind": "PERSON", "key": chain["gang_member"]}},
                        regions=(chain["victim_region"],))
    assert code == "NOT_FOUND"
