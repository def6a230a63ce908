"""Subgraph exports: GraphML and GEXF read back by networkx, CSV parsed by csv, unicode kept."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime

import networkx as nx
import pytest

from fusion.api.export import (
    export_files,
    subgraph_to_csv,
    subgraph_to_gexf,
    subgraph_to_graphml,
)
from fusion.errors import BadInput

OPENED = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)


def _ref(kind: str, key: str) -> dict:
    return {"kind": kind, "key": key}


@pytest.fixture
def subgraph() -> tuple[list[dict], list[dict]]:
    person = {"kind": "PERSON", "key": "11010119900307663X", "label": "张伟",
              "regions": ["north", "south"],
              "properties": {"name": "张伟", "dob": "1990-03-07", "aliases": ["伟哥", "Zhang Wei"],
                             "risk": 7, "flagged": True, "note": None}}
    phone = {"kind": "PHONE", "key": "+8613800138000", "label": "+8613800138000",
             "regions": ["north"], "properties": {"carrier": "中国移动"}}
    phone2 = {"kind": "PHONE", "key": "+8613900139000", "label": "+8613900139000",
              "regions": ["south"], "properties": {}}
    case = {"kind": "CASE", "key": "C-2024-001", "label": "诈骗案 C-2024-001",
            "regions": ["north"], "properties": {"opened_at": OPENED, "loss": 12500.5}}
    rels = [
        {"type": "USES", "from": _ref("PERSON", person["key"]), "to": _ref("PHONE", phone["key"]),
         "properties": {}},
        {"type": "CALLED", "from": _ref("PHONE", phone["key"]), "to": _ref("PHONE", phone2["key"]),
         "properties": {"count": 3, "total_duration_s": 2**33, "first_at": "2024-03-01T08:00:00Z"}},
        {"type": "CALLED", "from": _ref("PHONE", phone2["key"]), "to": _ref("PHONE", phone["key"]),
         "properties": {"count": 1, "total_duration_s": 40, "first_at": "2024-03-02T09:00:00Z"}},
        {"type": "CO_TRAVELED", "from": _ref("PHONE", phone["key"]),
         "to": _ref("PHONE", phone2["key"]),
         "properties": {"meetings": 4, "distinct_sensors": 3}},
        {"type": "INVOLVED_IN", "from": _ref("PERSON", person["key"]),
         "to": _ref("CASE", case["key"]), "properties": {"role": "嫌疑人"}},
    ]
    return [person, phone, phone2, case], rels


def _expected_value(value: object) -> object:
    if isinstance(value, list):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _decoded(value: object) -> object:
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def _id(ref: dict) -> str:
    return f"{ref['kind']}:{ref['key']}"


def _check_round_trip(G: nx.MultiDiGraph, nodes: list[dict], rels: list[dict],
                      key_attr: str = "key") -> None:
    assert set(G.nodes) == {_id(n) for n in nodes}
    for n in nodes:
        attrs = G.nodes[_id(n)]
        assert attrs["kind"] == n["kind"] and attrs[key_attr] == n["key"]
        assert attrs["label"] == n["label"]
        assert json.loads(attrs["regions"]) == n["regions"]
        for name, value in n["properties"].items():
            if value is None:
                assert name not in attrs
            else:
                assert _decoded(attrs[name]) == _expected_value(value), name
    got = Counter((u, v, d["rel_type"]) for u, v, d in G.edges(data=True))
    want = Counter((_id(r["from"]), _id(r["to"]), r["type"]) for r in rels)
    assert got == want
    for r in rels:
        u, v = _id(r["from"]), _id(r["to"])
        matches = [d for d in G.get_edge_data(u, v).values() if d["rel_type"] == r["type"]]
        assert len(matches) == 1
        for name, value in r["properties"].items():
            assert matches[0][name] == value, name


def test_graphml_reads_back_with_nodes_edges_and_attributes(subgraph) -> None:
    nodes, rels = subgraph
    G = nx.read_graphml(io.StringIO(subgraph_to_graphml(nodes, rels)), force_multigraph=True)
    _check_round_trip(G, nodes, rels)


def test_gexf_reads_back_with_nodes_edges_and_attributes(subgraph) -> None:
    nodes, rels = subgraph
    G = nx.read_gexf(io.StringIO(subgraph_to_gexf(nodes, rels)))
    _check_round_trip(nx.MultiDiGraph(G), nodes, rels, key_attr="entity_key")


def test_gexf_edge_labels_are_relationship_types(subgraph) -> None:
    nodes, rels = subgraph
    G = nx.read_gexf(io.StringIO(subgraph_to_gexf(nodes, rels)))
    assert sorted(d["label"] for _, _, d in G.edges(data=True)) == sorted(r["type"] for r in rels)


def test_graphml_declares_big_counts_as_long(subgraph) -> None:
    nodes, rels = subgraph
    text = subgraph_to_graphml(nodes, rels)
    assert 'attr.name="total_duration_s" attr.type="long"' in text


def test_chinese_text_survives_every_format(subgraph) -> None:
    nodes, rels = subgraph
    for G in (nx.read_graphml(io.StringIO(subgraph_to_graphml(nodes, rels))),
              nx.read_gexf(io.StringIO(subgraph_to_gexf(nodes, rels)))):
        assert G.nodes["PERSON:11010119900307663X"]["name"] == "张伟"
    files = subgraph_to_csv(nodes, rels)
    rows = list(csv.DictReader(io.StringIO(files["nodes.csv"])))
    assert rows[0]["name"] == "张伟" and json.loads(rows[0]["aliases"]) == ["伟哥", "Zhang Wei"]


def test_attribute_of_mixed_types_gets_one_type() -> None:
    nodes = [{"kind": "PERSON", "key": str(i), "label": str(i), "regions": ["r"],
              "properties": {"score": score, "code": code}}
             for i, (score, code) in enumerate([(1, 5), (1.5, "x"), (2, True)])]
    for text, reader in ((subgraph_to_graphml(nodes, []), nx.read_graphml),
                         (subgraph_to_gexf(nodes, []), nx.read_gexf)):
        G = reader(io.StringIO(text))
        attrs = [G.nodes[f"PERSON:{i}"] for i in range(3)]
        assert [a["score"] for a in attrs] == [1.0, 1.5, 2.0]
        assert all(isinstance(a["score"], float) for a in attrs)
        assert [a["code"] for a in attrs] == ["5", "x", "true"]


def test_property_clashing_with_an_export_name_is_renamed() -> None:
    nodes = [{"kind": "CASE", "key": "c1", "label": "Case 1", "regions": ["r"],
              "properties": {"label": "internal", "weight": 3}}]
    G = nx.read_graphml(io.StringIO(subgraph_to_graphml(nodes, [])))
    attrs = G.nodes["CASE:c1"]
    assert attrs["label"] == "Case 1"
    assert attrs["prop_label"] == "internal" and attrs["prop_weight"] == 3


def test_control_characters_do_not_break_the_xml() -> None:
    nodes = [{"kind": "PERSON", "key": "p\x01", "label": "bad\x00name\x1f", "regions": ["r"],
              "properties": {"note": "tab\tand\nnewline kept"}}]
    for text, reader in ((subgraph_to_graphml(nodes, []), nx.read_graphml),
                         (subgraph_to_gexf(nodes, []), nx.read_gexf)):
        G = reader(io.StringIO(text))
        assert G.nodes["PERSON:p"]["label"] == "badname"
        assert G.nodes["PERSON:p"]["note"] == "tab\tand\nnewline kept"


def test_relationship_to_an_unlisted_node_adds_that_node() -> None:
    rels = [{"type": "OWNS", "from": _ref("PERSON", "p1"), "to": _ref("VEHICLE", "京A12345"),
             "properties": {}}]
    G = nx.read_graphml(io.StringIO(subgraph_to_graphml([], rels)))
    assert G.nodes["VEHICLE:京A12345"] == {"kind": "VEHICLE", "key": "京A12345"}
    assert list(G.edges) == [("PERSON:p1", "VEHICLE:京A12345")]


def test_csv_has_one_row_per_node_and_relationship(subgraph) -> None:
    nodes, rels = subgraph
    files = subgraph_to_csv(nodes, rels)
    node_rows = list(csv.DictReader(io.StringIO(files["nodes.csv"])))
    rel_rows = list(csv.DictReader(io.StringIO(files["rels.csv"])))
    assert [(r["kind"], r["key"]) for r in node_rows] == [(n["kind"], n["key"]) for n in nodes]
    assert [(r["type"], r["from_key"], r["to_key"]) for r in rel_rows] == [
        (r["type"], r["from"]["key"], r["to"]["key"]) for r in rels]
    assert list(csv.reader(io.StringIO(files["nodes.csv"])))[0][:5] == [
        "id", "kind", "key", "label", "regions"]


def test_csv_cells_carry_the_property_values(subgraph) -> None:
    nodes, rels = subgraph
    files = subgraph_to_csv(nodes, rels)
    by_id = {r["id"]: r for r in csv.DictReader(io.StringIO(files["nodes.csv"]))}
    case = by_id["CASE:C-2024-001"]
    assert case["opened_at"] == OPENED.isoformat() and float(case["loss"]) == 12500.5
    assert case["name"] == ""
    called = [r for r in csv.DictReader(io.StringIO(files["rels.csv"])) if r["type"] == "CALLED"]
    assert sorted(int(r["count"]) for r in called) == [1, 3]
    assert {int(r["total_duration_s"]) for r in called} == {2**33, 40}


def test_formula_guard_quotes_formulas_but_not_phone_numbers() -> None:
    nodes = [{"kind": "PERSON", "key": "p1", "label": '=HYPERLINK("x","y")', "regions": ["r"],
              "properties": {"phone": "+86 138 0013 8000", "cmd": "-2+3+cmd|' /C calc'!A0"}}]
    guarded = next(csv.DictReader(io.StringIO(
        subgraph_to_csv(nodes, [], guard_formulas=True)["nodes.csv"])))
    assert guarded["label"] == '\'=HYPERLINK("x","y")'
    assert guarded["cmd"].startswith("'-2+3")
    assert guarded["phone"] == "+86 138 0013 8000"
    plain = next(csv.DictReader(io.StringIO(subgraph_to_csv(nodes, [])["nodes.csv"])))
    assert plain["label"] == '=HYPERLINK("x","y")'


@pytest.mark.parametrize(("fmt", "names", "media"), [
    ("GRAPHML", ["g.graphml"], "application/graphml+xml"),
    ("GEXF", ["g.gexf"], "application/gexf+xml"),
    ("CSV", ["g-nodes.csv", "g-rels.csv"], "text/csv"),
])
def test_export_files_name_their_files_and_media_type(subgraph, fmt, names, media) -> None:
    files = export_files(fmt, *subgraph, "g")
    assert [f.name for f in files] == names
    assert {f.media_type for f in files} == {media}


def test_export_files_hold_the_writers_text_with_formulas_guarded(subgraph) -> None:
    nodes, rels = subgraph
    (graphml,) = export_files("GRAPHML", nodes, rels, "g")
    assert graphml.content == subgraph_to_graphml(nodes, rels)
    csv_files = {f.name: f.content for f in export_files("CSV", nodes, rels, "g")}
    guarded = subgraph_to_csv(nodes, rels, guard_formulas=True)
    assert csv_files == {f"g-{part}": text for part, text in guarded.items()}


def test_export_files_rejects_an_unknown_format(subgraph) -> None:
    with pytest.raises(BadInput, match="xlsx"):
        export_files("xlsx", *subgraph, "g")
