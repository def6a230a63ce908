"""Gangs: communities of the weighted person graph, with their key players.

The person graph comes from :mod:`algorithms.links` (evidence of four kinds, log-damped and
weighted per kind). Communities come from :mod:`algorithms.community`: Leiden on the constant
Potts model by default, so a gang is a group whose members share, on average, more than
``resolution`` of link weight per pair, judged on its own and not against the size of the
graph around it (modularity would merge small gangs into their surroundings as the scope
grows). Within each gang, members are ranked as key players by betweenness centrality.
A :class:`Community` is that pure result, person keys only; the service's gang shows it.
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
from algorithms.links import (
    DEFAULT_WEIGHTS,
    LINK_KINDS,
    LinkWeights,
    PersonGraph,
    person_graph,
    person_links,
    project,
)
from queries.model import GANG_MIN_SIZE

__all__ = [
    "DEFAULT_WEIGHTS", "LINK_KINDS", "Community", "LinkWeights", "Member", "detect_gangs",
    "gang_of", "gangs_from_links", "person_graph", "person_links",
]


@dataclass(frozen=True)
class Member:
    """A community's member (a person key), with key-player ``score`` (betweenness within the
    gang) and 1-based ``rank``."""

    key: str
    score: float
    rank: int


@dataclass(frozen=True)
class Community:
    """One gang as community detection finds it: member keys ranked as key players, cohesion,
    ``links`` (the evidence counts per kind on links inside the gang) and regions.

    The pure result; :class:`fusion.services.gangs.Gang` shows it (members as people with
    names and regions) to the API and the CLI.
    """

    id: str
    members: tuple[Member, ...]
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
# Detection


def detect_gangs(
    G: nx.Graph,
    algorithm: str = "leiden",
    resolution: float = 1.0,
    seed: int = 42,
    min_size: int = GANG_MIN_SIZE,
    regions: Mapping[str, Iterable[str]] | None = None,
    weight: str = "weight",
    objective: str | None = None,
) -> list[Community]:
    """Gangs of a weighted person graph, members ranked as key players.

    Parameters
    ----------
    G : networkx.Graph
        Undirected person graph, e.g. from :func:`person_graph`; edge attribute ``weight``
        (default 1) and optional evidence counts per kind.
    algorithm : {"leiden", "louvain"}, default "leiden"
        Community detection, see :func:`algorithms.community.communities`.
    resolution : float, default 1.0
        With Leiden's default objective (the constant Potts model), the link weight per pair
        of members a gang must exceed on average: 1.0 is one call's worth of evidence between
        every two members. With modularity (Louvain), the modularity resolution. Higher gives
        smaller gangs in both.
    seed : int, default 42
        Random seed: the same graph and seed give the same gangs and ids, whatever the order
        nodes and edges were added in.
    min_size : int, default 3
        Smaller communities are not gangs.
    regions : mapping of person key to regions, optional
        A gang's ``regions`` is the sorted union of its members' regions.
    weight : str, default "weight"
        Edge attribute holding the link weight.
    objective : {"cpm", "modularity"}, optional
        Leiden's objective (default ``"cpm"``); Louvain optimizes modularity only.

    Returns
    -------
    list of Community
        Largest first, then by id. ``Community.id`` is ``"G-"`` and the first 12 hex digits of
        the SHA-1 of the sorted member keys joined by newlines: stable while membership is.
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
    >>> G = nx.Graph()  # two cells, A-B-C and D-E-F, and X, who talks to all six
    >>> G.add_weighted_edges_from([(u, v, 3.0) for u, v in ["AB", "BC", "AC", "DE", "EF", "DF"]]
    ...                           + [("X", v, 3.0) for v in "ABCDEF"] + [("F", "Y", 3.0)])
    >>> [sorted(g.keys) for g in detect_gangs(G, seed=1)]  # at resolution 1 the split scores more
    [['A', 'B', 'C', 'X'], ['D', 'E', 'F']]
    >>> gangs = detect_gangs(G, resolution=0.5, seed=1)
    >>> [sorted(g.keys) for g in gangs]  # Y, tied to F alone, is too loosely tied to join
    [['A', 'B', 'C', 'D', 'E', 'F', 'X']]
    >>> gangs[0].members[0].key  # the one who joins the cells
    'X'
    """
    return _detect(PersonGraph.from_networkx(G, weight), algorithm, resolution, seed, min_size,
                   regions, objective)


def gangs_from_links(
    links: pl.DataFrame | pl.LazyFrame,
    weights: LinkWeights | Mapping | None = None,
    algorithm: str = "leiden",
    resolution: float = 1.0,
    seed: int = 42,
    min_size: int = GANG_MIN_SIZE,
    regions: Mapping[str, Iterable[str]] | None = None,
    objective: str | None = None,
) -> list[Community]:
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
    return _detect(project(links, weights), algorithm, resolution, seed, min_size, regions,
                   objective)


def gang_of(gangs: Iterable[Community], person_key: str) -> Community | None:
    """The gang with ``person_key`` as a member, or None.

    Examples
    --------
    >>> g = Community("G-1", (Member("P1", 0.0, 1),), 1.0, {})
    >>> gang_of([g], "P1").id, gang_of([g], "P2")
    ('G-1', None)
    """
    return next((g for g in gangs if person_key in g.keys), None)


def _detect(
    links: PersonGraph, algorithm: str, resolution: float, seed: int, min_size: int,
    regions: Mapping[str, Iterable[str]] | None, objective: str | None,
) -> list[Community]:
    """Partition, keep communities of ``min_size`` or more, describe each."""
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, got {min_size}")
    n = len(links.keys)
    groups = communities(n, links.edges, links.weight, algorithm, resolution, seed,
                         objective) if n else []
    strength = np.zeros(n)
    np.add.at(strength, links.edges.ravel(), np.repeat(links.weight, 2))
    internal = _internal_edges(links, groups, n)
    gangs = [
        _gang(links, members, strength, internal[k], regions)
        for k, members in enumerate(groups) if len(members) >= min_size
    ]
    return sorted(gangs, key=lambda g: (-g.size, g.id))


def _internal_edges(links: PersonGraph, groups: list[list[int]], n: int) -> list[np.ndarray]:
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
    links: PersonGraph, members: list[int], strength: np.ndarray, internal: np.ndarray,
    regions: Mapping[str, Iterable[str]] | None,
) -> Community:
    """One gang: id, ranked members, cohesion, evidence counts, regions."""
    keys = [links.keys[v] for v in members]
    total = float(strength[members].sum())
    evidence = {k: int(links.counts[k][internal].sum()) for k in LINK_KINDS}
    local = np.searchsorted(np.asarray(members), links.edges[internal])  # members are sorted
    return Community(
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


def _ranked(keys: list[str], edges: np.ndarray, weight: np.ndarray) -> tuple[Member, ...]:
    """Members by betweenness (distance 1/weight), weighted degree, then key."""
    n = len(keys)
    sub = ig.Graph(n=n, edges=edges.reshape(-1, 2))
    between = np.asarray(sub.betweenness(weights=(1.0 / weight).tolist()), dtype=float)
    if n > 2:
        between *= 2.0 / ((n - 1) * (n - 2))  # networkx's normalization, undirected
    degree = np.zeros(n)
    np.add.at(degree, edges.ravel(), np.repeat(weight, 2))
    order = sorted(range(n), key=lambda v: (-between[v], -degree[v], keys[v]))
    return tuple(Member(keys[v], float(between[v]), r) for r, v in enumerate(order, 1))
