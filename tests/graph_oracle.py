"""The fixture graph read straight from Neo4j into networkx: the independent side of the
neighbourhood and path tests."""

from __future__ import annotations

import networkx as nx

ALL_ELEMENTS = """
MATCH (a)-[r]->(b)
WHERE NOT a:SavedQuery AND NOT a:JointOperation AND NOT a:LoadRecord
RETURN labels(a)[0] AS al, a.key AS a, a.regions AS ar, labels(b)[0] AS bl, b.key AS b,
       b.regions AS br, type(r) AS type, r.regions AS rr
"""
KINDS = {"Person": "PERSON", "Phone": "PHONE", "Vehicle": "VEHICLE", "Case": "CASE",
         "Parcel": "PARCEL", "Sensor": "SENSOR", "Address": "ADDRESS"}


def visible_graph(rows: list[dict], scope: set[str], types: set[str]) -> nx.MultiGraph:
    """Undirected multigraph of the elements visible in ``scope`` with a type in ``types``;
    nodes are (kind, key), edges carry ``type``."""
    G = nx.MultiGraph()
    for r in rows:
        a, b = (KINDS[r["al"]], r["a"]), (KINDS[r["bl"]], r["b"])
        if set(r["ar"]) & scope:
            G.add_node(a)
        if set(r["br"]) & scope:
            G.add_node(b)
        if r["type"] in types and set(r["rr"]) & scope and set(r["ar"]) & scope \
                and set(r["br"]) & scope:
            G.add_edge(a, b, type=r["type"], direction=(a, b))
    return G
