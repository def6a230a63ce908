"""neighborhood through real HTTP, against a breadth-first search in networkx over the same
graph read by Cypher: node sets, relationships, the hard cap and an exact `truncated`."""

from __future__ import annotations

import networkx as nx
import pytest

from tests.graph_oracle import ALL_ELEMENTS, visible_graph

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

REL_TYPES = {"INVOLVED_IN", "USES", "OWNS", "LIVES_AT", "OCCURRED_AT", "CALLED", "SENT",
             "RECEIVED", "FROM_ADDRESS", "TO_ADDRESS", "SEEN_AT", "CO_TRAVELED"}
ALL = ("330100", "440300", "510100")
QUERY = """query($ref: EntityRef!, $hops: Int, $relTypes: [RelType!], $limit: Int,
                 $scope: ScopeInput) {
  neighborhood(ref: $ref, hops: $hops, relTypes: $relTypes, limit: $limit, scope: $scope) {
    nodes { kind key regions }
    rels { type from { kind key } to { kind key } }
    truncated
  }
}"""


@pytest.fixture(scope="module")
def rows(api, cypher):
    return cypher(ALL_ELEMENTS)


def _within(G: nx.MultiGraph, centre, hops: int) -> set:
    return set(nx.single_source_shortest_path_length(G, centre, cutoff=hops))


def _ask(api, centre, hops=1, limit=1000, rel_types=None, regions=ALL):
    data = api.gql(QUERY, {"ref": {"kind": centre[0], "key": centre[1]}, "hops": hops,
                           "limit": limit, "relTypes": rel_types}, regions=regions)
    return data["neighborhood"]


def _keys(result) -> list[tuple[str, str]]:
    return [(n["kind"], n["key"]) for n in result["nodes"]]


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_nodes_are_everything_within_hops(api, rows, hops):
    G = visible_graph(rows, set(ALL), REL_TYPES - {"SEEN_AT"})
    centre = ("PERSON", api.truth["fraud_chain"]["gang_member"])
    got = _ask(api, centre, hops, rel_types=sorted(REL_TYPES - {"SEEN_AT"}))
    assert _keys(got)[0] == centre
    assert set(_keys(got)) == _within(G, centre, hops)
    assert len(_keys(got)) == len(set(_keys(got)))
    assert got["truncated"] is False


def test_relationships_are_those_leaving_the_inner_nodes(api, rows):
    G = visible_graph(rows, set(ALL), REL_TYPES)
    centre = ("PHONE", api.truth["fraud_chain"]["victim_phone"])
    got = _ask(api, centre, hops=2)
    dist = nx.single_source_shortest_path_length(G, centre, cutoff=2)
    expected = sorted((d["type"], *d["direction"]) for a, b, d in G.edges(data=True)
                      if a in dist and b in dist and min(dist[a], dist[b]) < 2)
    have = sorted((r["type"], (r["from"]["kind"], r["from"]["key"]),
                   (r["to"]["kind"], r["to"]["key"])) for r in got["rels"])
    assert have == expected


def test_truncated_is_exact_at_the_limit(api, rows):
    G = visible_graph(rows, set(ALL), REL_TYPES)
    centre = ("PERSON", api.truth["fraud_chain"]["gang_member"])
    n = len(_within(G, centre, 2)) - 1
    exact = _ask(api, centre, hops=2, limit=n)
    assert exact["truncated"] is False and len(exact["nodes"]) == n + 1
    cut = _ask(api, centre, hops=2, limit=n - 1)
    assert cut["truncated"] is True and len(cut["nodes"]) == n
    assert set(_keys(cut)) < _within(G, centre, 2)


def test_a_hub_is_cut_at_the_limit(api, rows):
    G = visible_graph(rows, set(ALL), REL_TYPES)
    hub = max((n for n in G if n[0] == "SENSOR"), key=G.degree)
    got = _ask(api, hub, hops=2, limit=5)
    assert got["truncated"] is True and len(got["nodes"]) == 6
    assert set(_keys(got)) <= _within(G, hub, 2)


def test_relationship_type_filter(api, rows):
    G = visible_graph(rows, set(ALL), {"USES", "CALLED"})
    centre = ("PHONE", api.truth["fraud_chain"]["mule_phone"])
    got = _ask(api, centre, hops=2, rel_types=["USES", "CALLED"])
    assert {r["type"] for r in got["rels"]} <= {"USES", "CALLED"}
    assert set(_keys(got)) == _within(G, centre, 2)


def test_only_elements_in_scope_are_visited(api, rows):
    region = api.truth["fraud_chain"]["victim_region"]
    G = visible_graph(rows, {region}, REL_TYPES)
    centre = ("PERSON", api.truth["fraud_chain"]["victim"])
    got = _ask(api, centre, hops=3, regions=(region,))
    assert set(_keys(got)) == _within(G, centre, 3)
    assert all(region in n["regions"] for n in got["nodes"])


def test_hops_beyond_the_cap_are_bad_input(api):
    centre = {"kind": "PERSON", "key": api.truth["fraud_chain"]["victim"]}
    code, _ = api.error(QUERY, {"ref": centre, "hops": api.settings.api_max_hops + 1})
    assert code == "BAD_INPUT"
    code, _ = api.error(QUERY, {"ref": centre, "limit": api.settings.api_max_results + 1})
    assert code == "BAD_INPUT"
