"""Subgraph exports an analyst opens elsewhere: GraphML (yEd, Cytoscape), GEXF (Gephi), CSV.

Input is the API's own subgraph shape (a neighbourhood, a path set, a gang)::

    node: {"kind", "key", "label", "regions", "properties"}
    rel:  {"type", "from": {"kind", "key"}, "to": {"kind", "key"}, "properties"}

Every format carries the same flat attributes, because GraphML and GEXF attributes are scalars:

* node id ``KIND:key``; node attributes ``kind``, ``key`` (``entity_key`` in GEXF, where networkx
  reserves ``key``), ``label``, ``regions`` and each property;
* edge attributes ``rel_type`` (also the GEXF edge label) and each property; edges are keyed
  ``e0``, ``e1``, ... in input order (two entities can be linked by several relationships);
* lists and maps (``regions`` included) are JSON text, dates ISO 8601 text, ``None`` is left out;
* an attribute whose values mix types across elements is written as text (ints and floats mix
  to float), so each attribute has one declared type;
* a property whose name clashes with one of the names above or a GEXF reserved name is
  renamed ``prop_<name>``;
* characters XML cannot carry (control characters) are dropped from GraphML and GEXF.

CSV is ``nodes.csv`` and ``rels.csv`` (text, see :func:`subgraph_to_csv`). :func:`export_files`
gives the files of one format with their names and media types; the GraphQL ``ExportDocument``
(:mod:`fusion.api.types.graph`) adapts them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from fusion.errors import BadInput

Scalar = str | int | float | bool

RESERVED = frozenset({
    "id", "label", "kind", "key", "entity_key", "regions", "rel_type", "type", "weight",
    "start", "end", "viz", "pid", "networkx_key", "from_id", "to_id", "from_kind", "from_key",
    "to_kind", "to_key",
})
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 .,()/-]*")

# Format (the GraphQL ExportFormat's value) -> the media type of its files.
MEDIA_TYPES = {
    "GRAPHML": "application/graphml+xml",
    "GEXF": "application/gexf+xml",
    "CSV": "text/csv",
}


def node_id(kind: str, key: str) -> str:
    """The exported id of an entity."""
    return f"{kind}:{key}"


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def flatten_value(value: Any) -> Scalar | None:
    """A property value as a scalar GraphML/GEXF accept: JSON text for lists and maps."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset | dict):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return json.dumps(items, ensure_ascii=False, sort_keys=True, default=_text)
    return _text(value)


def _property_name(name: str) -> str:
    return f"prop_{name}" if name in RESERVED else name


def _flat_properties(properties: dict[str, Any] | None) -> dict[str, Scalar]:
    flat = {}
    for name, value in (properties or {}).items():
        scalar = flatten_value(value)
        if scalar is not None:
            flat[_property_name(str(name))] = scalar
    return flat


def node_attributes(node: dict) -> dict[str, Scalar]:
    """The flat attributes of one exported node."""
    attrs: dict[str, Scalar] = {"kind": str(node["kind"]), "key": str(node["key"])}
    if node.get("label") is not None:
        attrs["label"] = str(node["label"])
    attrs["regions"] = flatten_value(list(node.get("regions") or []))
    attrs.update(_flat_properties(node.get("properties")))
    return attrs


def rel_attributes(rel: dict) -> dict[str, Scalar]:
    """The flat attributes of one exported relationship."""
    return {"rel_type": str(rel["type"]), **_flat_properties(rel.get("properties"))}


def _endpoint(ref: dict) -> str:
    return node_id(str(ref["kind"]), str(ref["key"]))


def build_graph(nodes: list[dict], rels: list[dict]) -> nx.MultiDiGraph:
    """The subgraph as a networkx multigraph with flat, type-consistent attributes."""
    G = nx.MultiDiGraph()
    for node in nodes:
        G.add_node(node_id(str(node["kind"]), str(node["key"])), **node_attributes(node))
    for i, rel in enumerate(rels):
        for ref in (rel["from"], rel["to"]):
            if _endpoint(ref) not in G:
                G.add_node(_endpoint(ref), kind=str(ref["kind"]), key=str(ref["key"]))
        G.add_edge(_endpoint(rel["from"]), _endpoint(rel["to"]), key=f"e{i}",
                   **rel_attributes(rel))
    _unify_types(attrs for _, attrs in G.nodes(data=True))
    _unify_types(attrs for _, _, attrs in G.edges(data=True))
    return G


def _kind_of(value: Scalar) -> type:
    return bool if isinstance(value, bool) else type(value)


def _unify_types(elements: Iterable[dict[str, Scalar]]) -> None:
    """Make every attribute one type across elements: int+float -> float, other mixes -> str."""
    elements = list(elements)
    kinds: dict[str, set[type]] = {}
    for attrs in elements:
        for name, value in attrs.items():
            kinds.setdefault(name, set()).add(_kind_of(value))
    target = {name: float if k == {int, float} else str
              for name, k in kinds.items() if len(k) > 1}
    for attrs in elements:
        for name, cast in target.items():
            if name in attrs:
                value = attrs[name]
                attrs[name] = float(value) if cast is float else _scalar_text(value)


def _scalar_text(value: Scalar) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _xml_safe(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose string ids and attributes hold only characters XML 1.0 allows."""
    clean = nx.MultiDiGraph()
    strip = _strip_illegal
    clean.add_nodes_from((strip(n), {k: strip(v) for k, v in d.items()})
                         for n, d in G.nodes(data=True))
    clean.add_edges_from((strip(u), strip(v), key, {k: strip(x) for k, x in d.items()})
                         for u, v, key, d in G.edges(keys=True, data=True))
    return clean


def _strip_illegal(value: Any) -> Any:
    return _XML_ILLEGAL.sub("", value) if isinstance(value, str) else value


def subgraph_to_graphml(nodes: list[dict], rels: list[dict]) -> str:
    """The subgraph as a GraphML document."""
    return "\n".join(nx.generate_graphml(_xml_safe(build_graph(nodes, rels)))) + "\n"


def subgraph_to_gexf(nodes: list[dict], rels: list[dict]) -> str:
    """The subgraph as a GEXF 1.2 document.

    networkx reserves ``key`` in GEXF, so the entity key is ``entity_key`` there; edge ids are
    the edge keys and edge labels the relationship types.
    """
    G = _xml_safe(build_graph(nodes, rels))
    for _, attrs in G.nodes(data=True):
        attrs["entity_key"] = attrs.pop("key")
    for _, _, key, attrs in G.edges(keys=True, data=True):
        attrs["id"] = key
        attrs["label"] = attrs["rel_type"]
    return "\n".join(nx.generate_gexf(G, version="1.2draft")) + "\n"


def _guard(value: Any, guard_formulas: bool) -> Any:
    if (guard_formulas and isinstance(value, str) and value.startswith(_FORMULA_START)
            and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return "" if value is None else value


def _write_csv(header: list[str], rows: list[dict], guard_formulas: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_guard(row.get(col), guard_formulas) for col in header])
    return out.getvalue()


def _columns(fixed: list[str], rows: list[dict]) -> list[str]:
    extra = sorted({name for row in rows for name in row} - set(fixed))
    return fixed + extra


def subgraph_to_csv(nodes: list[dict], rels: list[dict], *,
                    guard_formulas: bool = False) -> dict[str, str]:
    """``{"nodes.csv": text, "rels.csv": text}``: one row per node / relationship.

    Columns: nodes ``id, kind, key, label, regions`` then each property (sorted); rels ``type,
    from_id, from_kind, from_key, to_id, to_kind, to_key`` then each property. Values are
    flattened as in GraphML. ``guard_formulas`` prefixes ``'`` to cells that start with
    ``= + - @`` (or a tab or carriage return) and are not plain numbers, so a spreadsheet does
    not evaluate them as formulas; ``+86 138...`` phone numbers stay as they are.
    """
    node_rows = [{"id": node_id(str(n["kind"]), str(n["key"])), **node_attributes(n)}
                 for n in nodes]
    rel_rows = [_rel_row(r) for r in rels]
    node_cols = _columns(["id", "kind", "key", "label", "regions"], node_rows)
    rel_cols = _columns(["type", "from_id", "from_kind", "from_key", "to_id", "to_kind",
                         "to_key"], rel_rows)
    return {"nodes.csv": _write_csv(node_cols, node_rows, guard_formulas),
            "rels.csv": _write_csv(rel_cols, rel_rows, guard_formulas)}


def _rel_row(rel: dict) -> dict[str, Scalar]:
    src, dst = rel["from"], rel["to"]
    return {
        "type": str(rel["type"]),
        "from_id": _endpoint(src), "from_kind": str(src["kind"]), "from_key": str(src["key"]),
        "to_id": _endpoint(dst), "to_kind": str(dst["kind"]), "to_key": str(dst["key"]),
        **_flat_properties(rel.get("properties")),
    }


@dataclass(frozen=True)
class ExportedFile:
    """One file of an export: its suggested name, media type and text."""

    name: str
    media_type: str
    content: str


def _plain(items: Iterable) -> list[dict]:
    """Nodes and Rels as their export dicts; dicts as they are."""
    return [x.as_export() if hasattr(x, "as_export") else x for x in items]


def export_files(fmt: str, nodes: Iterable, rels: Iterable, name: str) -> list[ExportedFile]:
    """The subgraph (Nodes/Rels or their export dicts) in format GRAPHML, GEXF or CSV, its files
    named after ``name``: one GraphML or GEXF document, or nodes and relationships as CSV."""
    if fmt not in MEDIA_TYPES:
        raise BadInput(f"unknown export format {fmt!r}; expected one of {sorted(MEDIA_TYPES)}")
    node_dicts, rel_dicts = _plain(nodes), _plain(rels)
    if fmt == "CSV":
        texts = subgraph_to_csv(node_dicts, rel_dicts, guard_formulas=True)
        return [ExportedFile(f"{name}-{part}", MEDIA_TYPES[fmt], text)
                for part, text in sorted(texts.items())]
    write = subgraph_to_graphml if fmt == "GRAPHML" else subgraph_to_gexf
    return [ExportedFile(f"{name}.{fmt.lower()}", MEDIA_TYPES[fmt], write(node_dicts, rel_dicts))]
