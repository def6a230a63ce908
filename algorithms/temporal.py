"""Time-respecting paths: fewest-hop routes whose contacts happen in time order.

A *contact* is one timestamped event between two entities (a call, a parcel handed to a
carrier, a sighting at a sensor, one co-travel meeting). Contacts are undirected: a call from
``u`` to ``v`` at ``t`` joins ``u`` and ``v`` at ``t`` both ways. A *time-respecting walk* from
``source`` to ``target`` is a sequence of contacts ``c1 .. ck`` such that consecutive contacts
share an entity (the walk enters it by ``c_i`` and leaves by ``c_{i+1}``) and

- ``t_i <= t_{i+1} <= t_i + max_gap`` (equal times allowed; ``max_gap=None``: no maximum);
- ``c_{i+1}`` is never the contact ``c_i`` itself taken back (a walk cannot "bounce" on one
  call to reset its clock).

The first contact may happen at any time. A walk may pass an intermediate entity twice when
the times force it (it waits there for a later contact); it never passes ``source`` again nor
reaches ``target`` early, since that would make it longer than a fewer-hop walk.

:func:`time_respecting_paths` finds ``h*``, the fewest hops of any such walk (up to
``max_hops``), and reports every distinct *route* of ``h*`` hops (the sequence of entities and
contact types) that some walk follows, each with its earliest arrival at ``target`` and one
walk (the *witness*) that achieves it; routes ordered by arrival, then route.

This follows the temporal-network notion of time-respecting paths (Holme & Saramäki 2012,
"Temporal networks", Phys. Rep. 519(3), section 4) with the maximum waiting time of
Pan & Saramäki (2011, "Path lengths, correlations, and centrality in temporal networks",
Phys. Rev. E 84, 016105).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta  # noqa: F401 (UTC: the examples use it)
from typing import Generic, Protocol, TypeVar

import numpy as np
import polars as pl

from algorithms._codes import factorize

__all__ = ["CONTACT_COLUMNS", "Hop", "TimePath", "Timed", "time_respecting_paths"]

CONTACT_COLUMNS = ("type", "u", "v", "at")


@dataclass(frozen=True)
class Hop:
    """One contact of a walk: its ``type``, its own ends ``u``/``v``, time and input row."""

    type: str
    u: Hashable
    v: Hashable
    at: datetime
    contact: int


class Timed(Protocol):
    """What a path's hop has at the least: the time it happened."""

    @property
    def at(self) -> datetime: ...


NodeT = TypeVar("NodeT")
HopT = TypeVar("HopT", bound=Timed)


@dataclass(frozen=True)
class TimePath(Generic[NodeT, HopT]):
    """A route (``nodes`` in walking order) with its earliest-arriving witness ``hops``.

    The one time-respecting path model, generic in what names an entity and a hop: this
    module's answers are ``TimePath[Hashable, Hop]``; the service shows them with entities and
    events (``fusion.services.models.TimedPath``, ``TimePath[PathNode, TimedHop]``).
    """

    nodes: tuple[NodeT, ...]
    hops: tuple[HopT, ...]

    @property
    def length(self) -> int:
        """Number of hops."""
        return len(self.hops)

    @property
    def arrival(self) -> datetime:
        """Time of the last hop."""
        return self.hops[-1].at


@dataclass(frozen=True)
class _Contacts:
    """Half-contacts (each contact once per direction) with the indexes the search needs.

    Half-contact ``h`` leaves ``frm[h]`` for ``to[h]`` at time rank ``rank[h]``; ``h ^ 1`` is
    the same contact the other way. ``out_order`` sorts half-contacts by (frm, time) and
    ``in_order`` by (to, time); ``out_key``/``in_key`` are those sort keys.
    """

    frm: np.ndarray
    to: np.ndarray
    time: np.ndarray  # int64 microseconds
    rank: np.ndarray  # dense rank of time among the distinct times
    times: np.ndarray  # the distinct times, sorted
    out_order: np.ndarray
    out_key: np.ndarray
    in_order: np.ndarray
    in_key: np.ndarray
    stride: int


def time_respecting_paths(
    contacts: pl.DataFrame,
    source: Hashable,
    target: Hashable,
    max_hops: int = 4,
    max_gap: float | timedelta | None = None,
    limit: int | None = 3,
) -> list[TimePath[Hashable, Hop]]:
    """Fewest-hop time-respecting routes from ``source`` to ``target``.

    Parameters
    ----------
    contacts : polars.DataFrame
        Columns ``type`` (string), ``u``, ``v`` (entity ids, one dtype) and ``at``
        (``Datetime``; naive values are UTC). One row per contact; direction is ignored.
    source, target : hashable
        Entity ids as they appear in ``u``/``v``; they must differ.
    max_hops : int, default 4
        Longest walk considered (at least 1).
    max_gap : float (seconds), timedelta or None, default None
        Longest wait between consecutive contacts; ``None``: any wait.
    limit : int or None, default 3
        At most this many routes (``None``: all).

    Returns
    -------
    list of TimePath
        Every route of the fewest hops ``h*`` that a time-respecting walk follows, ordered by
        earliest arrival, then by the route (entity ids and types); empty when no walk of at
        most ``max_hops`` hops exists. Each path's ``hops`` is a walk arriving at that earliest
        time; among several such walks the one found first in (entity, time) order.

    Raises
    ------
    ValueError
        When ``source == target``, ``max_hops < 1``, ``max_gap < 0`` or ``limit < 1``.

    Notes
    -----
    A breadth-first search over half-contacts (a contact taken in one direction): level
    ``k`` holds those first reachable by a walk of ``k`` hops. Successors of the half-contacts
    arriving at an entity are the contacts leaving it within their windows; the windows are
    merged per entity before expansion, so each level costs ``O(m log m)`` for ``m`` contacts
    and the search ``O(h* m log m)``. Every prefix of a fewest-hop walk is a fewest-hop walk to
    its own half-contact, so the routes are then enumerated backwards over those levels only.
    The number of routes can grow exponentially with ``h*`` on dense graphs.

    Examples
    --------
    >>> t = lambda h: datetime(2024, 5, 1, h, tzinfo=UTC)
    >>> contacts = pl.DataFrame({"type": ["CALLED"] * 3, "u": ["A", "B", "A"],
    ...                          "v": ["B", "C", "C"], "at": [t(9), t(10), t(8)]})
    >>> [p.nodes for p in time_respecting_paths(contacts, "A", "C")]
    [('A', 'C')]
    >>> later = contacts.filter(pl.col("u") != "A").vstack(contacts.head(1))
    >>> [(p.nodes, p.arrival.hour) for p in time_respecting_paths(later, "A", "C")]
    [(('A', 'B', 'C'), 10)]
    >>> time_respecting_paths(later, "C", "A")  # C-B at 10, then B-A only at 9: too early
    []
    """
    gap = _gap_us(max_gap)
    if source == target:
        raise ValueError("source and target must differ")
    if max_hops < 1 or (limit is not None and limit < 1):
        raise ValueError("max_hops and limit must be at least 1")
    frame = _normalized(contacts)
    c, ids = _index(frame)
    index = {x: k for k, x in enumerate(ids)}
    if source not in index or target not in index:
        return []
    level = _levels(c, index[source], index[target], max_hops, gap)
    if level is None:
        return []
    return _routes(c, frame, ids, level, index[target], gap, limit)


# ---------------------------------------------------------------------------------------------
# Input


def _gap_us(max_gap: float | timedelta | None) -> int | None:
    """The maximum gap in integer microseconds."""
    if max_gap is None:
        return None
    seconds = max_gap.total_seconds() if isinstance(max_gap, timedelta) else float(max_gap)
    if seconds < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    return round(seconds * 1_000_000)


def _normalized(contacts: pl.DataFrame) -> pl.DataFrame:
    """The contact columns with ``at`` as UTC microseconds (``_t``)."""
    frame = contacts.select(CONTACT_COLUMNS)
    dtype = frame.schema["at"]
    if not isinstance(dtype, pl.Datetime):
        raise TypeError(f"at must be a Datetime column, got {dtype}")
    at = pl.col("at")
    at = at.dt.replace_time_zone("UTC") if dtype.time_zone is None else at.dt.convert_time_zone(
        "UTC")
    return frame.with_columns(at.dt.cast_time_unit("us")).with_columns(
        pl.col("at").dt.epoch("us").alias("_t"))


def _index(frame: pl.DataFrame) -> tuple[_Contacts, list]:
    """Half-contacts and their (entity, time) orders; the sorted entity ids codes index."""
    ends = pl.DataFrame({"x": pl.concat([frame.get_column("u"), frame.get_column("v")])})
    codes, keys = factorize(ends, ("x",))
    m = frame.height
    u, v = codes[:m].astype(np.int64), codes[m:].astype(np.int64)
    time = np.repeat(frame.get_column("_t").to_numpy(), 2)
    frm = np.column_stack([u, v]).ravel()
    to = np.column_stack([v, u]).ravel()
    times, rank = np.unique(time, return_inverse=True)
    stride = len(times) + 2
    out_key = frm * stride + rank
    in_key = to * stride + rank
    out_order = np.argsort(out_key, kind="stable")
    in_order = np.argsort(in_key, kind="stable")
    return _Contacts(frm, to, time, rank.astype(np.int64), times, out_order, out_key[out_order],
                     in_order, in_key[in_order], stride), keys.get_column("x").to_list()


# ---------------------------------------------------------------------------------------------
# Forward search


def _window_ranks(c: _Contacts, time: np.ndarray, gap: int | None) -> tuple[np.ndarray, ...]:
    """Rank bounds [lo, hi) of the times in [time, time + gap]."""
    lo = np.searchsorted(c.times, time, side="left")
    if gap is None:
        return lo, np.full(len(time), c.stride - 1)
    return lo, np.searchsorted(c.times, time + gap, side="right")


def _successors(c: _Contacts, frontier: np.ndarray, gap: int | None) -> np.ndarray:
    """Half-contacts reachable in one hop from the half-contacts ``frontier``."""
    node = c.to[frontier]
    lo_rank, hi_rank = _window_ranks(c, c.time[frontier], gap)
    lo = np.searchsorted(c.out_key, node * c.stride + lo_rank, side="left")
    hi = np.searchsorted(c.out_key, node * c.stride + hi_rank, side="left")
    candidates = c.out_order[_merged_ranges(lo, hi)]
    return candidates[_covered_by_other_than_twin(c, frontier, candidates, gap)]


def _merged_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The positions covered by the union of the ranges [lo, hi)."""
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    if len(lo) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    start = np.r_[True, lo[1:] > hi[:-1]]
    starts = lo[start]
    ends = np.r_[hi[np.flatnonzero(start)[1:] - 1], hi[-1]]
    counts = ends - starts
    steps = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + steps


def _covered_by_other_than_twin(
    c: _Contacts, frontier: np.ndarray, candidates: np.ndarray, gap: int | None
) -> np.ndarray:
    """Mask of the candidates some frontier half-contact other than their twin reaches.

    Each candidate lies in some frontier window; it is dropped only when the one window
    covering it is its own twin's (the same contact arriving).
    """
    key = np.sort(c.to[frontier] * c.stride + c.rank[frontier])
    node = c.frm[candidates]
    hi_rank = c.rank[candidates]
    lo_rank = (np.zeros(len(candidates), dtype=np.int64) if gap is None
               else np.searchsorted(c.times, c.time[candidates] - gap, side="left"))
    covering = (np.searchsorted(key, node * c.stride + hi_rank, side="right")
                - np.searchsorted(key, node * c.stride + lo_rank, side="left"))
    twin_in_frontier = np.isin(candidates ^ 1, frontier)
    return ~((covering == 1) & twin_in_frontier)


def _levels(c: _Contacts, source: int, target: int, max_hops: int,
            gap: int | None) -> np.ndarray | None:
    """First-reach level of every half-contact (0: never), or None when ``target`` is unreached.

    The search stops at the first level that reaches ``target``.
    """
    level = np.zeros(len(c.frm), dtype=np.int64)
    lo, hi = np.searchsorted(c.out_key, [source * c.stride, (source + 1) * c.stride])
    frontier = c.out_order[lo:hi]
    for k in range(1, max_hops + 1):
        frontier = frontier[level[frontier] == 0]
        if len(frontier) == 0:
            return None
        level[frontier] = k
        if np.any(c.to[frontier] == target):
            level[level == k] = np.where(c.to[level == k] == target, -k, k)
            return level
        frontier = np.unique(_successors(c, frontier, gap))
    return None


# ---------------------------------------------------------------------------------------------
# Routes


def _predecessors(c: _Contacts, h: int, level: np.ndarray, gap: int | None) -> np.ndarray:
    """Half-contacts of the level before ``h``'s that ``h`` may follow, in (time, id) order."""
    node, t = c.frm[h], c.time[h]
    lo_rank = 0 if gap is None else int(np.searchsorted(c.times, t - gap, side="left"))
    lo, hi = np.searchsorted(c.in_key, [node * c.stride + lo_rank,
                                        node * c.stride + c.rank[h] + 1])
    found = c.in_order[lo:hi]
    return found[(level[found] == abs(level[h]) - 1) & (found != (h ^ 1))]


def _routes(c: _Contacts, frame: pl.DataFrame, ids: list, level: np.ndarray, target: int,
            gap: int | None, limit: int | None) -> list[TimePath[Hashable, Hop]]:
    """Distinct routes into ``target`` at the final level, earliest arrival first."""
    arrivals = np.flatnonzero(level < 0)
    arrivals = arrivals[np.lexsort((arrivals, c.time[arrivals]))]
    memo: dict[int, dict[tuple, tuple[int, ...]]] = {}
    found: dict[tuple, tuple[int, tuple[int, ...]]] = {}
    last_time = None
    for h in arrivals.tolist():
        if limit is not None and len(found) >= limit and c.time[h] != last_time:
            break
        last_time = c.time[h]
        for route, walk in _prefixes(c, frame, h, level, gap, memo).items():
            found.setdefault(route, (int(c.time[h]), walk))
    ordered = sorted(found.items(), key=lambda item: (item[1][0], _sort_key(item[0], ids)))
    ordered = ordered if limit is None else ordered[:limit]
    return [_path(c, frame, ids, route, walk) for route, (_, walk) in ordered]


def _prefixes(c: _Contacts, frame: pl.DataFrame, h: int, level: np.ndarray, gap: int | None,
              memo: dict) -> dict[tuple, tuple[int, ...]]:
    """Routes (entity codes and types, alternating) of the fewest-hop walks ending with ``h``,
    each with the first walk found for it."""
    if h in memo:
        return memo[h]
    types = frame.get_column("type")
    step = (types[h // 2], int(c.to[h]))
    if abs(level[h]) == 1:
        result = {(int(c.frm[h]), *step): (h,)}
    else:
        result = {}
        for p in _predecessors(c, h, level, gap).tolist():
            for route, walk in _prefixes(c, frame, p, level, gap, memo).items():
                result.setdefault((*route, *step), (*walk, h))
    memo[h] = result
    return result


def _sort_key(route: tuple, ids: list) -> tuple:
    """Entity ids and types of a route, comparable across routes."""
    return tuple(str(ids[x]) if k % 2 == 0 else x for k, x in enumerate(route))


def _path(c: _Contacts, frame: pl.DataFrame, ids: list, route: tuple,
          walk: tuple[int, ...]) -> TimePath[Hashable, Hop]:
    """A route and its witness walk as a TimePath."""
    nodes = tuple(ids[x] for x in route[0::2])
    hops = []
    for h in walk:
        row = frame.row(h // 2, named=True)
        hops.append(Hop(row["type"], row["u"], row["v"], row["at"], h // 2))
    return TimePath(nodes, tuple(hops))
