"""Time-respecting paths against a brute-force enumeration of every walk."""

from __future__ import annotations

import doctest
import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from algorithms import temporal
from algorithms.temporal import time_respecting_paths

T0 = datetime(2024, 5, 1, tzinfo=UTC)
TYPES = ["CALLED", "SENT", "SEEN_AT"]


def random_contacts(seed: int, n_nodes: int = 9, n_contacts: int = 30,
                    n_times: int = 12) -> pl.DataFrame:
    """Few distinct times, so equal times and parallel contacts are common."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n_contacts):
        u, v = rng.sample(range(n_nodes), 2)
        rows.append((rng.choice(TYPES), f"N{u}", f"N{v}",
                     T0 + timedelta(minutes=10 * rng.randrange(n_times))))
    return pl.DataFrame(rows, schema=["type", "u", "v", "at"], orient="row")


def brute_force(contacts: pl.DataFrame, source: str, target: str, max_hops: int,
                gap: timedelta | None) -> dict[tuple, datetime]:
    """Route -> earliest arrival over every walk of the fewest hops, by plain enumeration."""
    rows = contacts.rows()
    walks: list[list[tuple[int, str, str]]] = []  # (contact, from, to)

    def extend(walk: list, node: str) -> None:
        if walk and node == target:
            walks.append(list(walk))
            return
        if len(walk) == max_hops:
            return
        for k, (_type, u, v, at) in enumerate(rows):
            for a, b in ((u, v), (v, u)):
                if a != node:
                    continue
                if walk:
                    last, t_last = walk[-1][0], rows[walk[-1][0]][3]
                    if k == last or at < t_last or (gap is not None and at > t_last + gap):
                        continue
                walk.append((k, a, b))
                extend(walk, b)
                walk.pop()

    extend([], source)
    if not walks:
        return {}
    fewest = min(len(w) for w in walks)
    best: dict[tuple, datetime] = {}
    for w in walks:
        if len(w) != fewest:
            continue
        route = (source, *[x for k, _a, b in w for x in (rows[k][0], b)])
        arrival = rows[w[-1][0]][3]
        best[route] = min(best.get(route, arrival), arrival)
    return best


def route_of(path: temporal.TimePath) -> tuple:
    out = [path.nodes[0]]
    for hop, node in zip(path.hops, path.nodes[1:], strict=True):
        out += [hop.type, node]
    return tuple(out)


def assert_witness_is_a_valid_walk(path, contacts: pl.DataFrame, gap) -> None:
    rows = contacts.rows()
    node = path.nodes[0]
    for k, (hop, nxt) in enumerate(zip(path.hops, path.nodes[1:], strict=True)):
        _type, u, v, at = rows[hop.contact]
        assert (hop.type, hop.u, hop.v, hop.at) == rows[hop.contact]
        assert {node, nxt} == {u, v}
        if k:
            prev = path.hops[k - 1]
            assert hop.contact != prev.contact
            assert prev.at <= at and (gap is None or at <= prev.at + gap)
        node = nxt


# (nodes, contacts): a dense graph (many parallel routes) and a sparse one (longer walks).
SHAPES = [(9, 30), (14, 26)]
CASES = [(seed, shape, gap, hops) for seed in range(12) for shape in SHAPES
         for gap in (None, timedelta(minutes=20), timedelta(0)) for hops in (3, 4)]


@pytest.mark.parametrize(("seed", "shape", "gap", "max_hops"), CASES)
def test_routes_and_arrivals_equal_brute_force(seed: int, shape: tuple, gap,
                                               max_hops: int) -> None:
    contacts = random_contacts(seed, *shape)
    rng = random.Random(seed)
    nodes = sorted(set(contacts["u"]) | set(contacts["v"]))
    for _ in range(6):
        source, target = rng.sample(nodes, 2)
        want = brute_force(contacts, source, target, max_hops, gap)
        got = time_respecting_paths(contacts, source, target, max_hops=max_hops, max_gap=gap,
                                    limit=None)
        assert {route_of(p): p.arrival for p in got} == want
        assert [(p.arrival, route_of(p)) for p in got] == sorted(
            (p.arrival, route_of(p)) for p in got)
        for p in got:
            assert_witness_is_a_valid_walk(p, contacts, gap)


def test_limit_keeps_the_earliest_routes() -> None:
    contacts = random_contacts(3, n_nodes=7, n_contacts=40)
    every = time_respecting_paths(contacts, "N0", "N1", max_hops=4, limit=None)
    assert len(every) > 2
    assert time_respecting_paths(contacts, "N0", "N1", max_hops=4, limit=2) == every[:2]


def test_a_walk_may_wait_at_an_entity_it_passed_before() -> None:
    # A-B at 1, B-C at 2, C-B at 5, B-D at 6: B-D is 5 h after A-B, too late for a 2 h gap,
    # but the walk can pick it up after coming back from C.
    t = lambda h: T0 + timedelta(hours=h)  # noqa: E731
    contacts = pl.DataFrame({"type": ["CALLED"] * 4, "u": ["A", "B", "C", "B"],
                             "v": ["B", "C", "B", "D"], "at": [t(1), t(2), t(3), t(4)]})
    (path,) = time_respecting_paths(contacts, "A", "D", max_gap=timedelta(hours=2))
    assert path.nodes == ("A", "B", "C", "B", "D")
    assert time_respecting_paths(contacts, "A", "D", max_gap=timedelta(hours=2),
                                 max_hops=3) == []


def test_a_contact_is_never_taken_back() -> None:
    # P-A at 0 h, A-B at 1 h, A-X at 2.5 h; a 2 h gap. P-A-X waits 2.5 h at A: too long.
    # Bouncing A-B-A on the one call at 1 h would restart the clock at 1 h; it is not a walk.
    t = lambda h: T0 + timedelta(hours=h)  # noqa: E731
    contacts = pl.DataFrame({"type": ["CALLED"] * 3, "u": ["P", "A", "A"],
                             "v": ["A", "B", "X"], "at": [t(0), t(1), t(2.5)]})
    assert time_respecting_paths(contacts, "P", "X", max_gap=timedelta(hours=2)) == []
    # A second call A-B at 1 h is another contact: taking it back is a genuine walk.
    again = contacts.vstack(contacts[1])
    (path,) = time_respecting_paths(again, "P", "X", max_gap=timedelta(hours=2))
    assert path.nodes == ("P", "A", "B", "A", "X")
    assert path.hops[1].contact != path.hops[2].contact


def test_unknown_ends_and_bad_arguments() -> None:
    contacts = random_contacts(1)
    assert time_respecting_paths(contacts, "N0", "nobody") == []
    assert time_respecting_paths(contacts.clear(), "N0", "N1") == []
    with pytest.raises(ValueError):
        time_respecting_paths(contacts, "N0", "N0")
    with pytest.raises(ValueError):
        time_respecting_paths(contacts, "N0", "N1", max_gap=-1)
    with pytest.raises(ValueError):
        time_respecting_paths(contacts, "N0", "N1", max_hops=0)


def test_naive_times_are_utc() -> None:
    contacts = random_contacts(2)
    naive = contacts.with_columns(pl.col("at").dt.replace_time_zone(None))
    assert time_respecting_paths(naive, "N0", "N1", limit=None) == time_respecting_paths(
        contacts, "N0", "N1", limit=None)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(temporal, raise_on_error=False).failed == 0
