"""Gangs: quality on planted communities, key players, stable ids, projection of links."""

from __future__ import annotations

import doctest
import math
import random

import networkx as nx
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms import community, gangs
from algorithms.community import communities, normalized_mutual_information
from algorithms.gangs import (
    LINK_KINDS,
    LinkWeights,
    detect_gangs,
    gang_of,
    gangs_from_links,
    person_graph,
    person_links,
)


def lfr_graph() -> nx.Graph:
    """networkx's LFR benchmark graph with mu = 0.3 (parameters that generate reliably)."""
    return nx.LFR_benchmark_graph(1000, 3, 1.5, 0.3, average_degree=15, min_community=20,
                                  max_community=100, seed=2)


def planted_labels(G: nx.Graph) -> dict:
    return {v: min(G.nodes[v]["community"]) for v in G}


def found_labels(found: list[gangs.Community]) -> dict:
    return {m.key: g.id for g in found for m in g.members}


def random_links(seed: int, n_people: int = 30, n_links: int = 80) -> pl.DataFrame:
    rng = random.Random(seed)
    rows = []
    for _ in range(n_links):
        a, b = rng.sample(range(n_people), 2)
        rows.append((f"P{a:03d}", f"P{b:03d}", rng.choice(LINK_KINDS), rng.randint(1, 20)))
    return pl.DataFrame(rows, schema=["a", "b", "kind", "count"], orient="row")


def described(found: list[gangs.Community]) -> list[tuple]:
    return [(g.id, g.members, g.cohesion, dict(g.links), g.regions) for g in found]


# ---------------------------------------------------------------------------------------------
# Quality


# LFR edges all weigh 1: the constant Potts model's resolution is then a plain edge density,
# set below the planted communities' internal densities (0.1 to 0.55) and above the density
# between two of them (under 0.01). Modularity takes its usual resolution, 1.
LFR_SETTINGS = [("leiden", None, 0.05), ("leiden", "modularity", 1.0), ("louvain", None, 1.0)]


@pytest.mark.parametrize(("algorithm", "objective", "resolution"), LFR_SETTINGS)
def test_planted_lfr_communities_are_recovered(algorithm: str, objective: str | None,
                                               resolution: float) -> None:
    G = lfr_graph()
    G = nx.relabel_nodes(G, {v: f"P{v:04d}" for v in G})
    found = detect_gangs(G, algorithm=algorithm, min_size=1, seed=42, objective=objective,
                         resolution=resolution)
    planted, labels = planted_labels(G), found_labels(found)
    nmi = normalized_mutual_information([planted[v] for v in G], [labels[v] for v in G])
    assert nmi >= 0.9


def test_nmi_equals_the_entropy_formula_on_a_contingency_table() -> None:
    rng = random.Random(3)
    a = [rng.randrange(4) for _ in range(200)]
    b = [x if rng.random() < 0.6 else rng.randrange(5) for x in a]
    table = np.zeros((4, 5))
    for x, y in zip(a, b, strict=True):
        table[x, y] += 1
    p = table / table.sum()
    pa, pb = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mutual = (p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])).sum()
    entropy = -(pa[pa > 0] * np.log(pa[pa > 0])).sum() - (pb[pb > 0] * np.log(pb[pb > 0])).sum()
    assert normalized_mutual_information(a, b) == pytest.approx(2 * mutual / entropy)
    assert normalized_mutual_information(a, [f"x{v}" for v in a]) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Key players


def test_the_bridge_between_two_cells_ranks_first() -> None:
    # Two tight triangles joined only through X, all in one gang (strong links).
    G = nx.Graph()
    for u, v in [("A", "B"), ("B", "C"), ("A", "C"), ("D", "E"), ("E", "F"), ("D", "F")]:
        G.add_edge(u, v, weight=3.0)
    for v in "ABCDEF":
        G.add_edge("X", v, weight=3.0)
    (gang,) = detect_gangs(G, resolution=0.5)
    assert gang.members[0].key == "X"
    assert [m.rank for m in gang.members] == list(range(1, 8))


def test_scores_are_networkx_betweenness_within_the_gang() -> None:
    found = gangs_from_links(random_links(5, n_people=40, n_links=160), min_size=3)
    G = person_graph(random_links(5, n_people=40, n_links=160))
    assert found
    for gang in found:
        sub = G.subgraph(gang.keys)
        expected = nx.betweenness_centrality(sub, weight="distance")
        for member in gang.members:
            assert member.score == pytest.approx(expected[member.key], abs=1e-9)
        strength = dict(sub.degree(weight="weight"))
        order = sorted(gang.keys, key=lambda k: (-round(expected[k], 9), -strength[k], k))
        assert [m.key for m in gang.members] == order


# ---------------------------------------------------------------------------------------------
# Determinism


def test_same_input_and_seed_give_identical_gangs_and_ids() -> None:
    links = random_links(8, n_people=60, n_links=200)
    assert described(gangs_from_links(links)) == described(gangs_from_links(links))


@pytest.mark.parametrize("seed", range(3))
def test_input_order_does_not_change_the_gangs(seed: int) -> None:
    links = random_links(10 + seed, n_people=60, n_links=200)
    shuffled = links.sample(fraction=1.0, shuffle=True, seed=seed)
    swapped = shuffled.select(pl.col("b").alias("a"), pl.col("a").alias("b"), "kind", "count")
    expected = described(gangs_from_links(links))
    assert described(gangs_from_links(shuffled)) == expected
    assert described(gangs_from_links(swapped)) == expected
    G = person_graph(links)
    H = nx.Graph()
    edges = list(G.edges(data=True))
    random.Random(seed).shuffle(edges)
    H.add_edges_from(edges)
    assert described(detect_gangs(H)) == described(detect_gangs(G))


def test_gang_id_is_the_hash_of_the_sorted_member_keys() -> None:
    import hashlib

    for gang in gangs_from_links(random_links(4, n_people=40, n_links=150)):
        text = "\n".join(sorted(gang.keys)).encode()
        assert gang.id == "G-" + hashlib.sha1(text).hexdigest()[:12]


def test_packed_and_argsorted_grouping_agree() -> None:
    from algorithms.links import _sum_by_pair_and_kind

    rng = np.random.default_rng(3)
    lo = rng.integers(0, 50, 400)
    hi = lo + rng.integers(1, 50, 400)
    kind = rng.integers(0, 4, 400)
    count = rng.integers(0, 2**20, 400)
    packed = _sum_by_pair_and_kind(lo, hi, kind, count, 100)  # fits in 64 bits
    argsorted = _sum_by_pair_and_kind(lo, hi, kind, count, 2**30)  # does not: argsort path
    pairs = {(int(a), int(b)): c.tolist() for (a, b), c in zip(*packed, strict=True)}
    assert pairs == {(int(a), int(b)): c.tolist() for (a, b), c in zip(*argsorted, strict=True)}
    expected: dict[tuple, list[int]] = {}
    for a, b, k, c in zip(lo, hi, kind, count, strict=True):
        expected.setdefault((int(a), int(b)), [0, 0, 0, 0])[k] += int(c)
    assert pairs == expected


def test_frame_fast_path_equals_the_networkx_path() -> None:
    links = random_links(6, n_people=50, n_links=180)
    weights = {"call": 0.5, "case": 4.0}
    assert described(gangs_from_links(links, weights)) == described(
        detect_gangs(person_graph(links, weights)))


# ---------------------------------------------------------------------------------------------
# Partition property


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 25), st.integers(0, 25), st.floats(0.1, 5.0)),
                max_size=80),
       st.sampled_from(["leiden", "louvain"]), st.integers(0, 1000),
       st.floats(0.2, 3.0))
def test_property_partition_covers_every_node_exactly_once(edges: list, algorithm: str,
                                                           seed: int, resolution: float) -> None:
    G = nx.Graph()
    G.add_nodes_from(f"P{k}" for k in range(26))
    G.add_weighted_edges_from((f"P{u}", f"P{v}", w) for u, v, w in edges if u != v)
    found = detect_gangs(G, algorithm=algorithm, seed=seed, resolution=resolution, min_size=1)
    keys = [m.key for g in found for m in g.members]
    assert sorted(keys) == sorted(G.nodes)
    assert len(found) == len({g.id for g in found})


def test_communities_rejects_an_unknown_algorithm_or_objective() -> None:
    with pytest.raises(ValueError):
        communities(3, np.array([[0, 1]]), np.ones(1), algorithm="girvan-newman")
    with pytest.raises(ValueError):
        communities(3, np.array([[0, 1]]), np.ones(1), objective="surprise")
    with pytest.raises(ValueError):
        communities(3, np.array([[0, 1]]), np.ones(1), algorithm="louvain", objective="cpm")


def dense_groups_in_background(n_background: int, seed: int = 1) -> pl.DataFrame:
    """Three dense groups (6 people, calls and shared cases) tied by single calls to a sparse
    random background of ``n_background`` people."""
    rng = random.Random(seed)
    rows = []
    for g in range(3):
        members = [f"G{g}-{k}" for k in range(6)]
        rows += [(a, b, "call", rng.randint(3, 9)) for k, a in enumerate(members)
                 for b in members[k + 1:] if rng.random() < 0.7]
        rows += [(members[k], members[(k + 1) % 6], "case", 1) for k in range(6)]
    people = [f"B{k:05d}" for k in range(n_background)]
    rows += [(a, b, "call", rng.randint(1, 2)) for a, b in
             (rng.sample(people, 2) for _ in range(int(1.5 * n_background)))]
    rows += [(f"G{g}-{k}", rng.choice(people), "call", 1) for g in range(3) for k in range(6)]
    return pl.DataFrame(rows, schema=["a", "b", "kind", "count"], orient="row")


def test_cpm_gangs_do_not_depend_on_how_much_background_surrounds_them() -> None:
    def planted(found):
        return sorted(sorted(g.keys) for g in found if any(k.startswith("G") for k in g.keys))

    small = gangs_from_links(dense_groups_in_background(200))
    large = gangs_from_links(dense_groups_in_background(5000))
    assert planted(small) == planted(large) == [
        [f"G{g}-{k}" for k in range(6)] for g in range(3)]


# ---------------------------------------------------------------------------------------------
# Projection and gang figures


def test_link_weight_is_the_sum_of_log_damped_evidence_per_kind() -> None:
    links = random_links(2, n_people=12, n_links=60)
    weights = LinkWeights(case=3.0, call=1.0, parcel=2.0, cotravel=0.0)
    totals: dict[tuple, dict[str, int]] = {}
    for a, b, kind, count in links.iter_rows():
        pair = tuple(sorted((a, b)))
        totals.setdefault(pair, dict.fromkeys(LINK_KINDS, 0))[kind] += count
    expected = {pair: sum(getattr(weights, k) * (1 + math.log(c)) for k, c in kinds.items() if c)
                for pair, kinds in totals.items()}
    table = person_links(links, weights)
    got = {(a, b): w for a, b, w in table.select("a", "b", "weight").rows()}
    assert got.keys() == {p for p, w in expected.items() if w > 0}
    for pair, w in got.items():
        assert w == pytest.approx(expected[pair])
        assert {k: table.filter((pl.col("a") == pair[0]) & (pl.col("b") == pair[1]))[k].item()
                for k in LINK_KINDS} == totals[pair]


def test_self_links_and_unknown_kinds() -> None:
    links = pl.DataFrame({"a": ["P1", "P1"], "b": ["P1", "P2"], "kind": ["call", "call"],
                          "count": [5, 1]})
    assert person_links(links).select("a", "b").rows() == [("P1", "P2")]
    bad = links.with_columns(pl.lit("religion").alias("kind"))
    with pytest.raises(ValueError):
        person_links(bad)
    with pytest.raises(ValueError):
        LinkWeights.of({"ethnicity": 1.0})


def test_cohesion_links_and_regions_are_computed_from_the_members() -> None:
    links = random_links(9, n_people=40, n_links=150)
    G = person_graph(links)
    regions = {key: [f"R{int(key[1:]) % 3}"] for key in G}
    found = gangs_from_links(links, regions=regions)
    assert found
    for gang in found:
        inside = G.subgraph(gang.keys)
        total = sum(w for _, w in G.degree(gang.keys, weight="weight"))
        assert gang.cohesion == pytest.approx(2 * inside.size(weight="weight") / total)
        evidence = {k: sum(d[k] for *_, d in inside.edges(data=True)) for k in LINK_KINDS}
        assert dict(gang.links) == {k: c for k, c in evidence.items() if c}
        assert gang.regions == tuple(sorted({regions[k][0] for k in gang.keys}))
        assert gang.size >= 3


def test_gang_of_finds_the_members_gang_or_none() -> None:
    found = gangs_from_links(random_links(3, n_people=40, n_links=150))
    for gang in found:
        for member in gang.members:
            assert gang_of(found, member.key) is gang
    assert gang_of(found, "nobody") is None


def test_docstring_examples_run() -> None:
    from algorithms import links

    for module in (gangs, community, links):
        assert doctest.testmod(module, raise_on_error=False).failed == 0


def test_no_algorithm_module_imports_neo4j_or_does_io() -> None:
    import pathlib

    root = pathlib.Path(gangs.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "neo4j" not in text.replace("Neo4j", "")
        assert "open(" not in text and "read_parquet" not in text and "scan_parquet" not in text


def test_owner_links_sum_every_pair_of_different_owners() -> None:
    from algorithms.links import owner_links

    rng = random.Random(12)
    things = [f"T{k}" for k in range(15)]
    pairs = [(rng.choice(things), rng.choice(things), rng.randint(1, 9)) for _ in range(60)]
    owners = {(f"P{rng.randrange(10)}", t) for t in things for _ in range(rng.randint(0, 2))}
    expected: dict[tuple, int] = {}
    for x, y, c in pairs:
        for p, tx in owners:
            for q, ty in owners:
                if tx == x and ty == y and x != y and p != q:
                    key = (min(p, q), max(p, q))
                    expected[key] = expected.get(key, 0) + c
    got = owner_links(pl.DataFrame(pairs, schema=["x", "y", "count"], orient="row"),
                      pl.DataFrame(sorted(owners), schema=["person", "thing"], orient="row"),
                      "call")
    assert {(a, b): c for a, b, _k, c in got.rows()} == expected
    assert set(got["kind"]) == {"call"}
