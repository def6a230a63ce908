"""Subgraph exports through the API: the files hold exactly the subgraph the query returned."""

from __future__ import annotations

import csv
import io

import networkx as nx
import pytest

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]


def _ids(nodes) -> set[str]:
    return {f"{n['kind']}:{n['key']}" for n in nodes}


def _neighborhood(api, fmt: str) -> dict:
    phone = api.truth["fraud_chain"]["victim_phone"]
    return api.gql("""query($ref: EntityRef!, $format: ExportFormat!) {
      neighborhood(ref: $ref, hops: 2) {
        nodes { kind key } rels { type }
        export(format: $format) { format files { name mediaType content } } } }""",
                   {"ref": {"kind": "PHONE", "key": phone}, "format": fmt})["neighborhood"]


def test_neighborhood_as_graphml_has_its_nodes_and_relationships(api):
    got = _neighborhood(api, "GRAPHML")
    (file,) = got["export"]["files"]
    assert file["name"].endswith(".graphml") and file["mediaType"] == "application/graphml+xml"
    G = nx.read_graphml(io.StringIO(file["content"]))
    assert set(G.nodes) == _ids(got["nodes"])
    assert G.number_of_edges() == len(got["rels"])


def test_neighborhood_as_gexf(api):
    got = _neighborhood(api, "GEXF")
    (file,) = got["export"]["files"]
    G = nx.read_gexf(io.StringIO(file["content"]))
    assert set(G.nodes) == _ids(got["nodes"])


def test_neighborhood_as_csv(api):
    got = _neighborhood(api, "CSV")
    files = {f["name"].rsplit("-", 1)[-1]: f["content"] for f in got["export"]["files"]}
    nodes = list(csv.DictReader(io.StringIO(files["nodes.csv"])))
    rels = list(csv.DictReader(io.StringIO(files["rels.csv"])))
    assert {r["id"] for r in nodes} == _ids(got["nodes"])
    assert sorted(r["type"] for r in rels) == sorted(r["type"] for r in got["rels"])


def test_gang_export_has_its_members(api):
    person = api.truth["gangs"][0]["members"][0]
    got = api.gql("""query($p: EntityRef!) { gangOf(person: $p) {
        members { person { key } } export(format: GRAPHML) { files { content } } } }""",
                  {"p": {"kind": "PERSON", "key": person}})["gangOf"]
    G = nx.read_graphml(io.StringIO(got["export"]["files"][0]["content"]))
    assert set(G.nodes) == {f"PERSON:{m['person']['key']}" for m in got["members"]}
    assert G.number_of_edges() > 0 and nx.is_connected(G.to_undirected())


def test_paths_export_is_the_union_of_the_paths(api):
    chain = api.truth["fraud_chain"]
    args = {"a": {"kind": "PERSON", "key": chain["victim"]},
            "b": {"kind": "PERSON", "key": chain["gang_member"]}}
    data = api.gql("""query($a: EntityRef!, $b: EntityRef!) {
      relationshipPaths(from: $a, to: $b) { nodes { kind key } }
      exportPaths(format: GRAPHML, from: $a, to: $b) { files { content } } }""", args)
    G = nx.read_graphml(io.StringIO(data["exportPaths"]["files"][0]["content"]))
    assert set(G.nodes) == {f"{n['kind']}:{n['key']}" for p in data["relationshipPaths"]
                            for n in p["nodes"]}
