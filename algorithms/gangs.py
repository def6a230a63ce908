"""Gangs: communities of the weighted person-person link graph, with their key players.

Two people are linked by evidence of four kinds: a shared case (``case``), calls between their
phones (``call``), parcels between their phones (``parcel``) and co-travel of their vehicles
or phones (``cotravel``). Each kind's evidence count ``c`` adds ``w_kind * (1 + ln c)`` to the
link's weight: more evidence weighs more, with diminishing returns, so a thousand calls do not
drown one shared case. Communities come from :mod:`algorithms.community` (Leiden by default);
within each gang, members are ranked as key players by betweenness centrality.

Input frames of links have columns ``a``, ``b`` (person keys), ``kind`` and ``count``; several
rows for one pair and kind add up, direction is ignored, self-links are dropped. The graph holds
no sensitive personal attributes, and none is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import igraph as ig
import networkx as nx
import numpy as np
import polars as pl

from algorithms.community import communities

__all__ = [
    "DEFAULT_WEIGHTS", "LINK_KINDS", "Gang", "GangMember", "LinkWeights", "detect_gangs",
    "gang_of", "gangs_from_links", "person_graph", "person_links",
]

LINK_KINDS = ("case", "call", "parcel", "cotravel")


@dataclass(frozen=True)
class LinkWeights:
    """Weight of one unit of each kind of evidence (the GraphQL ``LinkWeightsInput``).

    A shared case is the strongest tie an investigation records; a parcel or a co-travel is
    a deliberate contact; a single call the weakest. A weight of 0 ignores that kind.
    """

    case: float = 3.0
    call: float = 1.0
    parcel: float = 2.0
    cotravel: float = 2.0

    def __post_init__(self) -> None:
        for kind in LINK_KINDS:
            if getattr(self, kind) < 0:
                raise ValueError(f"link weight {kind} must be >= 0")

    @classmethod
    def of(cls, weights: LinkWeights | Mapping[str, float | None] | None) -> LinkWeights:
        """Weights from a mapping (missing or None entries take the defaults)."""
        if weights is None or isinstance(weights, LinkWeights):
            return weights or cls()
        unknown = set(weights) - set(LINK_KINDS)
        if unknown:
            raise ValueError(f"unknown link kinds: {sorted(unknown)}")
        return cls(**{k: v for k, v in weights.items() if v is not None})


DEFAULT_WEIGHTS = LinkWeights()


@dataclass(frozen=True)
class GangMember:
    """A member, with key-player ``score`` (betweenness within the gang) and 1-based ``rank``."""

    key: str
    score: float
    rank: int


@dataclass(frozen=True)
class Gang:
    """One gang. ``links`` holds the evidence counts per kind on links inside the gang."""

    id: str
    members: tuple[GangMember, ...]
    cohesion: float
    links: Mapping[str, int]
    regions: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)

    @property
    def keys(self) -> frozenset[str]:
        """Member keys."""
        return frozenset(m.key for m in self.members)


# ---------------------------------------------------------------------------------------------
# Projection: links -> weighted person graph


def person_links(
    links: pl.DataFrame | pl.LazyFrame, weights: LinkWeights | Mapping | None = None
) -> pl.DataFrame:
    """One row per linked pair of people: evidence counts per kind and the link weight.

    Parameters
    ----------
    links : polars DataFrame or LazyFrame
        Columns ``a``, ``b``, ``kind`` (one of ``LINK_KINDS``), ``count``.
    weights : LinkWeights or mapping, optional
        Per-kind weights; defaults to ``DEFAULT_WEIGHTS``.

    Returns
    -------
    polars.DataFrame
        Columns ``a, b, case, call, parcel, cotravel, weight`` with ``a < b``, sorted by
        ``(a, b)``; ``weight = sum_k w_k * (1 + ln count_k)`` over kinds with evidence.
        Pairs of weight 0 (only zero-weighted kinds) are left out.

    Notes
    -----
    A hash aggregation: ``O(m)`` for ``m`` input rows, then a sort of the pairs.

    Examples
    --------
    >>> links = pl.DataFrame({"a": ["P1", "P2"], "b": ["P2", "P1"], "kind": ["call", "case"],
    ...                       "count": [4, 1]})
    >>> person_links(links).select("a", "b", "call", "case").rows()
    [('P1', 'P2', 4, 1)]
    """
    w = LinkWeights.of(weights)
    lf = links.lazy().select("a", "b", "kind", pl.col("count").cast(pl.Int64))
    _check_kinds(lf)
    pairs = (
        lf.filter(pl.col("a") != pl.col("b"))
        .select(
            pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b"),
            "kind", "count",
        )
        .group_by("a", "b")
        .agg(*(pl.col("count").filter(pl.col("kind") == k).sum().alias(k) for k in LINK_KINDS))
    )
    weight = pl.sum_horizontal(
        pl.when(pl.col(k) > 0).then(getattr(w, k) * (1 + pl.col(k).log())).otherwise(0.0)
        for k in LINK_KINDS
    )
    return pairs.with_columns(weight.alias("weight")).filter(pl.col("weight") > 0).sort(
        "a", "b"
    ).collect()


def _check_kinds(lf: pl.LazyFrame) -> None:
    """Reject link kinds outside ``LINK_KINDS``."""
    kinds = lf.select(pl.col("kind").unique()).collect().to_series().to_list()
    unknown = sorted(set(kinds) - set(LINK_KINDS), key=str)
    if unknown:
        raise ValueError(f"unknown link kinds: {unknown}")


def person_graph(
    links: pl.DataFrame | pl.LazyFrame, weights: LinkWeights | Mapping | None = None
) -> nx.Graph:
    """The weighted person graph as networkx (for small graphs, drawing, inspection).

    Parameters
    ----------
    links : polars DataFrame or LazyFrame
        As for :func:`person_links`.
    weights : LinkWeights or mapping, optional
        Per-kind weights.

    Returns
    -------
    networkx.Graph
        Person keys as nodes; each edge has ``weight``, ``distance = 1 / weight`` and the
        evidence counts ``case``, ``call``, ``parcel``, ``cotravel``.

    Notes
    -----
    ``O(m)`` after :func:`person_links`.

    Examples
    --------
    >>> links = pl.DataFrame({"a": ["P1"], "b": ["P2"], "kind": ["case"], "count": [1]})
    >>> person_graph(links).edges["P1", "P2"]["weight"]
    3.0
    """
    G = nx.Graph()
    for row in person_links(links, weights).iter_rows(named=True):
        a, b = row.pop("a"), row.pop("b")
        G.add_edge(a, b, distance=1.0 / row["weight"], **row)
    return G


# ---------------------------------------------------------------------------------------------
# Detection


@dataclass(frozen=True)
class _Links:
    """A person graph as arrays: sorted keys, edges (i < j, sorted), weights, counts per kind."""

    keys: list[str]
    edges: np.ndarray
    weight: np.ndarray
    counts: dict[str, np.ndarray]

    @classmethod
    def from_table(cls, table: pl.DataFrame) -> _Links:
        """From :func:`person_links` output."""
        keys = pl.concat([table["a"], table["b"]]).unique().sort()
        index = {"old": keys, "new": pl.int_range(len(keys), eager=True)}
        a = table["a"].replace_strict(index["old"], index["new"]).to_numpy()
        b = table["b"].replace_strict(index["old"], index["new"]).to_numpy()
        return cls(keys.to_list(), np.column_stack([a, b]), table["weight"].to_numpy(),
                   {k: table[k].to_numpy() for k in LINK_KINDS})

    @classmethod
    def from_graph(cls, G: nx.Graph, weight: str) -> _Links:
        """From a networkx graph; missing weights count 1, missing evidence counts 0."""
        keys = sorted(G.nodes, key=str)
        index = {key: k for k, key in enumerate(keys)}
        rows = sorted(
            (min(index[u], index[v]), max(index[u], index[v]), d)
            for u, v, d in G.edges(data=True) if u != v
        )
        edges = np.array([(i, j) for i, j, _ in rows], dtype=np.int64).reshape(-1, 2)
        return cls(keys, edges, np.array([d.get(weight, 1.0) for *_, d in rows], dtype=float),
                   {k: np.array([d.get(k, 0) for *_, d in rows], dtype=np.int64)
                    for k in LINK_KINDS})


def detect_gangs(
    G: nx.Graph,
    algorithm: str = "leiden",
    resolution: float = 1.0,
    seed: int = 42,
    min_size: int = 3,
    regions: Mapping[str, Iterable[str]] | None = None,
    weight: str = "weight",
) -> list[Gang]:
    """Gangs of a weighted person graph, members ranked as key players.

    Parameters
    ----------
    G : networkx.Graph
        Undirected person graph, e.g. from :func:`person_graph`; edge attribute ``weight``
        (default 1) and optional evidence counts per kind.
    algorithm : {"leiden", "louvain"}, default "leiden"
        Community detection, see :func:`algorithms.community.communities`.
    resolution : float, default 1.0
        Modularity resolution; higher gives smaller gangs.
    seed : int, default 42
        Random seed: the same graph and seed give the same gangs and ids, whatever the order
        nodes and edges were added in.
    min_size : int, default 3
        Smaller communities are not gangs.
    regions : mapping of person key to regions, optional
        A gang's ``regions`` is the sorted union of its members' regions.
    weight : str, default "weight"
        Edge attribute holding the link weight.

    Returns
    -------
    list of Gang
        Largest first, then by id. ``Gang.id`` is ``"G-"`` and the first 12 hex digits of the
        SHA-1 of the sorted member keys joined by newlines: stable while membership is.
        ``cohesion`` is the share of the members' total link weight on links inside the gang
        (1.0: no link leaves it). Members are ranked by betweenness centrality within the
        gang's own subgraph (shortest paths with ``distance = 1 / weight``, normalized as
        networkx does), ties broken by weighted degree within the gang (higher first), then key.

    Notes
    -----
    Community detection is about ``O(m)`` per iteration; ranking runs Brandes' betweenness
    (Brandes 2001, "A faster algorithm for betweenness centrality", J. Math. Sociol. 25(2))
    within each gang: ``O(n_g m_g + n_g^2 log n_g)`` for a gang of ``n_g`` members and
    ``m_g`` internal links.

    Examples
    --------
    >>> G = nx.barbell_graph(4, 1)  # two 4-cliques joined through node 4
    >>> G = nx.relabel_nodes(G, {k: f"P{k}" for k in G})
    >>> gangs = detect_gangs(G, seed=1)
    >>> [sorted(g.keys) for g in gangs]
    [['P0', 'P1', 'P2', 'P3', 'P4'], ['P5', 'P6', 'P7', 'P8']]
    >>> gangs[0].members[0].key  # the only way in to P4
    'P3'
    """
    return _detect(_Links.from_graph(G, weight), algorithm, resolution, seed, min_size, regions)


def gangs_from_links(
    links: pl.DataFrame | pl.LazyFrame,
    weights: LinkWeights | Mapping | None = None,
    algorithm: str = "leiden",
    resolution: float = 1.0,
    seed: int = 42,
    min_size: int = 3,
    regions: Mapping[str, Iterable[str]] | None = None,
) -> list[Gang]:
    """:func:`detect_gangs` straight from a links frame, without building a networkx graph.

    Same answer as ``detect_gangs(person_graph(links, weights), ...)``; the fast path for
    large graphs (a million links). Parameters as for :func:`person_links` and
    :func:`detect_gangs`.

    Examples
    --------
    >>> links = pl.DataFrame({"a": ["A", "A", "B", "D"], "b": ["B", "C", "C", "E"],
    ...                       "kind": ["call", "call", "case", "parcel"], "count": [2, 1, 1, 1]})
    >>> [(sorted(g.keys), dict(g.links)) for g in gangs_from_links(links)]
    [(['A', 'B', 'C'], {'case': 1, 'call': 3})]
    """
    table = person_links(links, weights)
    return _detect(_Links.from_table(table), algorithm, resolution, seed, min_size, regions)


def gang_of(gangs: Iterable[Gang], person_key: str) -> Gang | None:
    """The gang with ``person_key`` as a member, or None.

    Examples
    --------
    >>> g = Gang("G-1", (GangMember("P1", 0.0, 1),), 1.0, {})
    >>> gang_of([g], "P1").id, gang_of([g], "P2")
    ('G-1', None)
    """
    return next((g for g in gangs if person_key in g.keys), None)


def _detect(
    links: _Links, algorithm: str, resolution: float, seed: int, min_size: int,
    regions: Mapping[str, Iterable[str]] | None,
) -> list[Gang]:
    """Partition, keep communities of ``min_size`` or more, describe each."""
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, got {min_size}")
    n = len(links.keys)
    groups = communities(n, links.edges, links.weight, algorithm, resolution, seed) if n else []
    strength = np.zeros(n)
    np.add.at(strength, links.edges.ravel(), np.repeat(links.weight, 2))
    internal = _internal_edges(links, groups, n)
    gangs = [
        _gang(links, members, strength, internal[k], regions)
        for k, members in enumerate(groups) if len(members) >= min_size
    ]
    return sorted(gangs, key=lambda g: (-g.size, g.id))


def _internal_edges(links: _Links, groups: list[list[int]], n: int) -> list[np.ndarray]:
    """Indices of the edges inside each community, one array per community."""
    label = np.full(n, -1, dtype=np.int64)
    for k, members in enumerate(groups):
        label[members] = k
    first = label[links.edges[:, 0]]
    inside = np.flatnonzero(first == label[links.edges[:, 1]])
    inside = inside[np.argsort(first[inside], kind="stable")]
    bounds = np.searchsorted(first[inside], np.arange(len(groups) + 1))
    return [inside[bounds[k]:bounds[k + 1]] for k in range(len(groups))]


def _gang(
    links: _Links, members: list[int], strength: np.ndarray, internal: np.ndarray,
    regions: Mapping[str, Iterable[str]] | None,
) -> Gang:
    """One gang: id, ranked members, cohesion, evidence counts, regions."""
    keys = [links.keys[v] for v in members]
    total = float(strength[members].sum())
    evidence = {k: int(links.counts[k][internal].sum()) for k in LINK_KINDS}
    local = np.searchsorted(np.asarray(members), links.edges[internal])  # members are sorted
    return Gang(
        id=gang_id(keys),
        members=_ranked(keys, local, links.weight[internal]),
        cohesion=2 * float(links.weight[internal].sum()) / total if total else 0.0,
        links={k: c for k, c in evidence.items() if c},
        regions=tuple(sorted({r for key in keys for r in (regions or {}).get(key, ())})),
    )


def gang_id(keys: Iterable[str]) -> str:
    """``"G-"`` + 12 hex digits of the SHA-1 of the sorted keys joined by newlines."""
    digest = hashlib.sha1("\n".join(sorted(keys)).encode(), usedforsecurity=False)
    return "G-" + digest.hexdigest()[:12]


def _ranked(keys: list[str], edges: np.ndarray, weight: np.ndarray) -> tuple[GangMember, ...]:
    """Members by betweenness (distance 1/weight), weighted degree, then key."""
    n = len(keys)
    sub = ig.Graph(n=n, edges=edges.reshape(-1, 2))
    between = np.asarray(sub.betweenness(weights=(1.0 / weight).tolist()), dtype=float)
    if n > 2:
        between *= 2.0 / ((n - 1) * (n - 2))  # networkx's normalization, undirected
    degree = np.zeros(n)
    np.add.at(degree, edges.ravel(), np.repeat(weight, 2))
    order = sorted(range(n), key=lambda v: (-between[v], -degree[v], keys[v]))
    return tuple(GangMember(keys[v], float(between[v]), r) for r, v in enumerate(order, 1))
