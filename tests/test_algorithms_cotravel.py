"""Co-travel against the contract's definition, evaluated independently by brute force and SQL."""

from __future__ import annotations

import doctest
import itertools
import random
from datetime import UTC, datetime, timedelta

import duckdb
import networkx as nx
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algorithms import _codes, cotravel
from algorithms.cotravel import (
    co_travel_groups,
    co_travel_pairs,
)
from algorithms.meetings import co_travel_meetings

T0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
FIGURES = ("meetings", "distinct_sensors", "first_at", "last_at")
# The same string as a plate and as a phone: two different subjects.
SUBJECTS = [("plate", "X1"), ("phone", "X1"), ("plate", "AB123"), ("plate", "CD456"),
            ("phone", "+15550001"), ("phone", "+15550002"), ("plate", "EF789"),
            ("phone", "+15550003")]


def sightings_frame(rows: list[tuple[str, str, str, datetime]]) -> pl.DataFrame:
    """A sightings frame in the input contract's shape."""
    return pl.DataFrame(
        rows, schema={"subject_type": pl.String, "subject": pl.String, "sensor_id": pl.String,
                      "seen_at": pl.Datetime("us", "UTC")}, orient="row")


def random_sightings(seed: int, n: int, n_subjects: int = 8, n_sensors: int = 4,
                     span_steps: int = 40) -> pl.DataFrame:
    """Sightings on a 30 s grid with occasional 1 us jitter, so the 60 s window's boundary
    (exactly 60 s, 60 s + 1 us, 60 s - 1 us) is hit often, and with repeated sightings of one
    subject at one sensor close in time."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        kind, key = rng.choice(SUBJECTS[:n_subjects])
        sensor = f"S{rng.randrange(n_sensors)}"
        at = T0 + timedelta(seconds=30 * rng.randrange(span_steps),
                            microseconds=rng.choice([0, 0, 0, 1, -1]))
        rows.append((kind, key, sensor, at))
        if rng.random() < 0.15:
            rows.append((kind, key, sensor, at + timedelta(seconds=rng.choice([0, 5, 60]))))
    return sightings_frame(rows)


# ---------------------------------------------------------------------------------------------
# Independent evaluations of the definition


def brute_force_pairs(frame: pl.DataFrame, window: float, min_meetings: int,
                      min_sensors: int) -> dict[tuple, tuple]:
    """The definition as nested loops: {(a, b): (meetings, sensors, first_at, last_at)}."""
    w = timedelta(seconds=window)
    by_subject: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    for kind, key, sensor, at in frame.iter_rows():
        by_subject.setdefault((kind, key), []).append((sensor, at))
    out = {}
    for a, b in itertools.combinations(sorted(by_subject), 2):
        met_a = [(s, t) for s, t in by_subject[a]
                 if any(s == s2 and abs(t - t2) <= w for s2, t2 in by_subject[b])]
        met_b = [(s, t) for s, t in by_subject[b]
                 if any(s == s2 and abs(t - t2) <= w for s2, t2 in by_subject[a])]
        meetings = min(len(met_a), len(met_b))
        sensors = len({s for s, _ in met_a})
        if meetings >= min_meetings and sensors >= min_sensors:
            times = [t for _, t in met_a + met_b]
            out[(a, b)] = (meetings, sensors, min(times), max(times))
    return out


DUCKDB_PAIRS = """
WITH s AS (
    SELECT row_number() OVER () AS id, subject_type, subject, sensor_id, epoch_us(seen_at) AS t
    FROM sightings
), met AS (  -- x's sightings met by y
    SELECT DISTINCT x.id, x.subject_type AS xt, x.subject AS xs, y.subject_type AS yt,
           y.subject AS ys, x.sensor_id, x.t
    FROM s AS x JOIN s AS y
      ON x.sensor_id = y.sensor_id AND abs(x.t - y.t) <= $w
    WHERE x.subject_type <> y.subject_type OR x.subject <> y.subject
), directed AS (
    SELECT xt, xs, yt, ys, count(*) AS n, count(DISTINCT sensor_id) AS sensors,
           min(t) AS f, max(t) AS l
    FROM met GROUP BY xt, xs, yt, ys
)
SELECT d.xt, d.xs, d.yt, d.ys, least(d.n, e.n), d.sensors, least(d.f, e.f), greatest(d.l, e.l)
FROM directed AS d JOIN directed AS e
  ON d.xt = e.yt AND d.xs = e.ys AND d.yt = e.xt AND d.ys = e.xs
WHERE (d.xt < d.yt OR (d.xt = d.yt AND d.xs < d.ys))
  AND least(d.n, e.n) >= $mm AND d.sensors >= $ms
"""


def duckdb_pairs(frame: pl.DataFrame, window: float, min_meetings: int,
                 min_sensors: int) -> dict[tuple, tuple]:
    """The definition in SQL, evaluated by DuckDB: same shape as :func:`brute_force_pairs`."""
    con = duckdb.connect()
    con.register("sightings", frame.to_arrow())
    rows = con.execute(DUCKDB_PAIRS, {"w": round(window * 1e6), "mm": min_meetings,
                                      "ms": min_sensors}).fetchall()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return {((at, a), (bt, b)): (m, s, epoch + timedelta(microseconds=f),
                                 epoch + timedelta(microseconds=last))
            for at, a, bt, b, m, s, f, last in rows}


def as_dict(pairs: pl.DataFrame) -> dict[tuple, tuple]:
    """Our result in the shape of :func:`brute_force_pairs`."""
    return {((r["a_type"], r["a"]), (r["b_type"], r["b"])): tuple(r[f] for f in FIGURES)
            for r in pairs.iter_rows(named=True)}


# ---------------------------------------------------------------------------------------------
# Exactness


@pytest.mark.parametrize("seed", range(12))
def test_all_pairs_equal_brute_force_and_duckdb(seed: int) -> None:
    frame = random_sightings(seed, n=120)
    for window, mm, ms in [(60, 3, 3), (60, 1, 1), (30, 2, 2), (0, 1, 1)]:
        ours = as_dict(co_travel_pairs(frame, window, mm, ms))
        assert ours == brute_force_pairs(frame, window, mm, ms)
        assert ours == duckdb_pairs(frame, window, mm, ms)


def test_window_boundary_is_inclusive_to_the_microsecond() -> None:
    def pair_at(offset: timedelta) -> pl.DataFrame:
        rows = [r for k in range(3) for r in (
            ("plate", "A", f"S{k}", T0 + timedelta(hours=k)),
            ("plate", "B", f"S{k}", T0 + timedelta(hours=k) + offset))]
        return co_travel_pairs(sightings_frame(rows), window=120)

    assert pair_at(timedelta(seconds=120)).height == 1
    assert pair_at(timedelta(seconds=120, microseconds=1)).height == 0


def test_repeated_sightings_count_once_per_met_sighting() -> None:
    # A is seen 4 times at each sensor within the window of B's single sighting there:
    # 12 of A's sightings are met, 3 of B's: meetings is the smaller, 3.
    rows = []
    for k in range(3):
        at = T0 + timedelta(hours=k)
        rows += [("plate", "A", f"S{k}", at + timedelta(seconds=10 * r)) for r in range(4)]
        rows.append(("plate", "B", f"S{k}", at))
    pairs = co_travel_pairs(sightings_frame(rows))
    assert pairs.select("meetings", "distinct_sensors").rows() == [(3, 3)]


@pytest.mark.parametrize("seed", range(3))
def test_chunked_expansion_gives_the_same_pairs(seed: int, monkeypatch) -> None:
    frame = random_sightings(100 + seed, n=300)
    expected = brute_force_pairs(frame, 60, 2, 2)
    monkeypatch.setattr(cotravel, "CHUNK_PAIRS", 7)
    assert as_dict(co_travel_pairs(frame, 60, 2, 2)) == expected


def test_unpacked_pair_keys_give_the_same_pairs(monkeypatch) -> None:
    frame = random_sightings(200, n=300)
    expected = brute_force_pairs(frame, 60, 2, 2)
    monkeypatch.setattr(cotravel, "_PACK_BITS", 0)
    assert as_dict(co_travel_pairs(frame, 60, 2, 2)) == expected


def test_sensor_groups_for_long_time_spans_give_the_same_pairs(monkeypatch) -> None:
    frame = random_sightings(300, n=300)
    expected = brute_force_pairs(frame, 60, 2, 2)
    # Keys of only two sensors fit below the limit: the sweep runs sensor group by group.
    monkeypatch.setattr(cotravel, "_KEY_LIMIT", 2 * (30 * 40 + 60) * 10**6 + 10)
    assert as_dict(co_travel_pairs(frame, 60, 2, 2)) == expected


def test_hashed_codes_equal_exact_codes() -> None:
    frame = random_sightings(7, n=500)
    codes, keys = _codes.factorize(frame, ("subject_type", "subject"))
    exact_codes, exact_keys = _codes.factorize_exact(frame, ("subject_type", "subject"))
    assert keys.equals(exact_keys)
    assert (codes == exact_codes).all()
    assert keys[codes].equals(frame.select("subject_type", "subject"))


def test_since_and_until_are_inclusive() -> None:
    frame = random_sightings(11, n=200)
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=15)
    cut = frame.filter(pl.col("seen_at").is_between(since, until, closed="both"))
    ours = co_travel_pairs(frame, 60, 1, 1, since=since, until=until)
    assert as_dict(ours) == brute_force_pairs(cut, 60, 1, 1)


def test_lazy_input_and_other_time_units_are_accepted() -> None:
    frame = random_sightings(12, n=150)
    expected = as_dict(co_travel_pairs(frame, 60, 1, 1))
    in_ns = frame.with_columns(pl.col("seen_at").dt.cast_time_unit("ns"))
    assert as_dict(co_travel_pairs(in_ns.lazy(), 60, 1, 1)) == expected


def test_empty_input_gives_an_empty_frame_of_the_result_schema() -> None:
    pairs = co_travel_pairs(sightings_frame([]))
    assert pairs.height == 0
    assert pairs.schema == cotravel.SCORED_SCHEMA


@pytest.mark.parametrize("kwargs", [{"window": -1}, {"min_meetings": 0},
                                    {"min_distinct_sensors": 0}])
def test_thresholds_that_report_everything_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        co_travel_pairs(random_sightings(1, n=10), **kwargs)


# ---------------------------------------------------------------------------------------------
# Properties

rows_strategy = st.lists(
    st.tuples(st.sampled_from(SUBJECTS[:4]), st.integers(0, 2), st.integers(0, 20),
              st.sampled_from([0, 1, -1])),
    min_size=0, max_size=60)


def frame_of(rows: list) -> pl.DataFrame:
    return sightings_frame([(k, s, f"S{sensor}", T0 + timedelta(seconds=30 * step, microseconds=j))
                            for (k, s), sensor, step, j in rows])


HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPO
@given(rows_strategy, st.sampled_from([0, 30, 60, 90]), st.integers(1, 3), st.integers(1, 3))
def test_property_equals_brute_force(rows: list, window: int, mm: int, ms: int) -> None:
    frame = frame_of(rows)
    assert as_dict(co_travel_pairs(frame, window, mm, ms)) == brute_force_pairs(frame, window,
                                                                                 mm, ms)


@HYPO
@given(rows_strategy, st.sampled_from([30, 60]))
def test_property_subject_filter_equals_the_subjects_rows_of_all_pairs(rows: list,
                                                                        window: int) -> None:
    frame = frame_of(rows)
    everything = as_dict(co_travel_pairs(frame, window, 1, 1))
    for subject in SUBJECTS[:4]:
        mine = as_dict(co_travel_pairs(frame, window, 1, 1, subject=subject))
        assert all(a == subject for a, _ in mine)
        expected = {(subject, b if a == subject else a): v
                    for (a, b), v in everything.items() if subject in (a, b)}
        assert mine == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_strategy, st.sampled_from([30, 60]))
def test_property_symmetric_in_the_two_subjects(rows: list, window: int) -> None:
    frame = frame_of(rows)
    reversed_rows = frame.reverse()
    for a, b in itertools.permutations(SUBJECTS[:3], 2):
        ab = as_dict(co_travel_pairs(frame, window, 1, 1, subject=a)).get((a, b))
        ba = as_dict(co_travel_pairs(reversed_rows, window, 1, 1, subject=b)).get((b, a))
        assert ab == ba


@HYPO
@given(rows_strategy, st.integers(0, 60), st.integers(0, 60))
def test_property_monotonic_in_window(rows: list, w1: int, extra: int) -> None:
    frame = frame_of(rows)
    narrow = as_dict(co_travel_pairs(frame, w1, 1, 1))
    wide = as_dict(co_travel_pairs(frame, w1 + extra, 1, 1))
    for pair, (meetings, sensors, first_at, last_at) in narrow.items():
        w_meetings, w_sensors, w_first, w_last = wide[pair]
        assert w_meetings >= meetings and w_sensors >= sensors
        assert w_first <= first_at and w_last >= last_at


# ---------------------------------------------------------------------------------------------
# Evidence


@pytest.mark.parametrize("seed", range(4))
def test_evidence_lists_every_meeting_in_time_order(seed: int) -> None:
    frame = random_sightings(seed, n=150)
    a, b = SUBJECTS[0], SUBJECTS[1]
    side = {s: [(r[2], r[3]) for r in frame.iter_rows() if (r[0], r[1]) == s] for s in (a, b)}
    expected = sorted((ta, tb, sa) for sa, ta in side[a] for sb, tb in side[b]
                      if sa == sb and abs(ta - tb) <= timedelta(seconds=60))
    pair = pl.DataFrame([(*a, *b)], schema=["a_type", "a", "b_type", "b"], orient="row")
    evidence = co_travel_meetings(frame, pair, window=60).select("sensor_id", "a_at", "b_at")
    assert [(ta, tb, s) for s, ta, tb in evidence.rows()] == expected


# ---------------------------------------------------------------------------------------------
# Groups


def pairs_of(edges: list[tuple[str, str]], figures: dict | None = None) -> pl.DataFrame:
    figures = figures or {}
    rows = []
    for x, y in edges:
        m, s, hours = figures.get((x, y), (3, 3, 0))
        rows.append(("plate", x, "plate", y, m, s, T0 + timedelta(hours=hours),
                     T0 + timedelta(hours=hours + 1)))
    return pl.DataFrame(rows, schema=cotravel.PAIR_SCHEMA, orient="row")


def member_sets(groups: pl.DataFrame) -> list[set[str]]:
    return [{m["subject"] for m in ms} for ms in groups["members"]]


def test_groups_are_the_maximal_cliques_of_the_requested_size() -> None:
    # Two triangles sharing vertex C, a 4-clique D-E-F-G, a lone pair and a path.
    edges = ([("A", "B"), ("A", "C"), ("B", "C"), ("C", "D"), ("C", "E"), ("D", "E")]
             + [(x, y) for x, y in itertools.combinations("FGHI", 2)]
             + [("J", "K"), ("K", "L"), ("L", "M")])
    groups = co_travel_groups(pairs_of(edges))
    assert member_sets(groups) == [set("FGHI"), set("ABC"), set("CDE")]
    assert member_sets(co_travel_groups(pairs_of(edges), min_group_size=4)) == [set("FGHI")]


@pytest.mark.parametrize("seed", range(5))
def test_groups_match_an_independent_clique_check(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"P{k:02d}" for k in range(14)]
    edges = [(x, y) for x, y in itertools.combinations(names, 2) if rng.random() < 0.35]
    found = {frozenset(s) for s in member_sets(co_travel_groups(pairs_of(edges)))}
    adjacent = {frozenset(e) for e in edges}

    def is_clique(c: tuple[str, ...]) -> bool:
        return all(frozenset(p) in adjacent for p in itertools.combinations(c, 2))

    cliques = [frozenset(c) for r in range(3, 15) for c in itertools.combinations(names, r)
               if is_clique(c)] if len(edges) < 40 else [
        frozenset(c) for c in nx.enumerate_all_cliques(nx.Graph(edges)) if len(c) >= 3]
    maximal = {c for c in cliques if not any(c < d for d in cliques)}
    assert found == maximal


def test_group_figures_aggregate_the_member_pairs() -> None:
    edges = [("A", "B"), ("A", "C"), ("B", "C")]
    figures = {("A", "B"): (5, 4, 0), ("A", "C"): (3, 6, 2), ("B", "C"): (7, 3, 5)}
    group = co_travel_groups(pairs_of(edges, figures)).row(0, named=True)
    assert (group["size"], group["meetings"], group["distinct_sensors"]) == (3, 3, 3)
    assert group["first_at"] == T0
    assert group["last_at"] == T0 + timedelta(hours=6)


def test_groups_of_computed_pairs_are_cliques_of_reported_pairs() -> None:
    rows = []
    for k in range(4):
        at = T0 + timedelta(hours=k)
        rows += [("plate", p, f"S{k}", at + timedelta(seconds=20 * n))
                 for n, p in enumerate(["A", "B", "C"])]
        rows.append(("phone", "+1555", f"S{k}", at + timedelta(hours=5)))
    groups = co_travel_groups(co_travel_pairs(sightings_frame(rows)))
    assert member_sets(groups) == [{"A", "B", "C"}]
    assert groups.select("meetings", "distinct_sensors").row(0) == (4, 4)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(cotravel, raise_on_error=False).failed == 0


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_days_and_lead_are_those_of_the_listed_meetings(seed: int, packed: bool,
                                                        monkeypatch) -> None:
    """distinct_days and lead_s recomputed from co_travel_meetings (every meeting sighting
    pair): UTC days of a's met sightings, median of b's time minus a's."""
    if not packed:
        monkeypatch.setattr(cotravel, "_PACK_BITS", 0)
    frame = random_sightings(seed, n=160, span_steps=4000)
    pairs = co_travel_pairs(frame, 60, 1, 1)
    meetings = co_travel_meetings(frame, pairs, window=60)
    for row in pairs.iter_rows(named=True):
        mine = meetings.filter((pl.col("a_type") == row["a_type"]) & (pl.col("a") == row["a"])
                               & (pl.col("b_type") == row["b_type"]) & (pl.col("b") == row["b"]))
        leads = sorted((b - a).total_seconds() for a, b in mine.select("a_at", "b_at").rows())
        middle = (leads[(len(leads) - 1) // 2] + leads[len(leads) // 2]) / 2
        assert row["lead_s"] == pytest.approx(middle, abs=1e-6)
        assert row["distinct_days"] == mine["a_at"].dt.date().n_unique()
