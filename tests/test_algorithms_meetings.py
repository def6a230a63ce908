"""Meetings of many pairs at once, checked per pair against nested loops and against the
sweep's figures (one meeting rule)."""

from __future__ import annotations

import doctest
import random
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algorithms import meetings
from algorithms.cotravel import co_travel_pairs
from algorithms.meetings import co_travel_meetings, meeting_regions
from tests.test_algorithms_cotravel import HYPO, as_dict, frame_of, random_sightings, rows_strategy

REGIONS = [["R1"], ["R2"], ["R1", "R3"]]


def with_regions(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    return frame.with_columns(
        pl.Series("regions", [rng.choice(REGIONS) for _ in range(frame.height)]))


def nested_loops(frame: pl.DataFrame, a: tuple, b: tuple, window: float) -> list[tuple]:
    """(sensor, a_at, b_at, a_regions, b_regions) of every meeting of a and b."""
    rows = frame.rows()
    side = lambda s: [r for r in rows if (r[0], r[1]) == s]  # noqa: E731
    w = timedelta(seconds=window)
    return sorted((x[2], x[3], y[3], tuple(x[4]), tuple(y[4])) for x in side(a) for y in side(b)
                  if x[2] == y[2] and abs(x[3] - y[3]) <= w)


@pytest.mark.parametrize("seed", range(6))
def test_meetings_equal_nested_loops_for_every_pair(seed: int) -> None:
    frame = with_regions(random_sightings(seed, 120), seed)
    subjects = sorted(set(frame.select("subject_type", "subject").rows()))
    pairs = pl.DataFrame([(*a, *b) for a in subjects for b in subjects if a < b],
                         schema=["a_type", "a", "b_type", "b"], orient="row")
    got = co_travel_meetings(frame, pairs, window=60, carry=["regions"])
    assert got.height > 0
    for a_type, a, b_type, b in pairs.rows():
        mine = got.filter((pl.col("a_type") == a_type) & (pl.col("a") == a)
                          & (pl.col("b_type") == b_type) & (pl.col("b") == b))
        rows = sorted((s, x, y, tuple(p), tuple(q)) for s, x, y, p, q in mine.select(
            "sensor_id", "a_at", "b_at", "a_regions", "b_regions").rows())
        assert rows == nested_loops(frame, (a_type, a), (b_type, b), 60)


def test_reported_pairs_meetings_are_the_evidence_and_recount_the_figures() -> None:
    frame = random_sightings(9, 300).with_row_index("id")
    pairs = co_travel_pairs(frame, 60, 2, 2)
    assert pairs.height > 0
    got = co_travel_meetings(frame, pairs, window=60, carry=["id"])
    for row in pairs.iter_rows(named=True):
        a, b = (row["a_type"], row["a"]), (row["b_type"], row["b"])
        mine = got.filter((pl.col("a") == row["a"]) & (pl.col("b") == row["b"])
                          & (pl.col("a_type") == row["a_type"])
                          & (pl.col("b_type") == row["b_type"]))
        loops = nested_loops(with_regions(frame.drop("id"), 0), a, b, 60)
        assert mine.select("sensor_id", "a_at", "b_at").rows() == [
            (s, x, y) for s, x, y, _p, _q in sorted(loops, key=lambda m: (m[1], m[2], m[0]))]
        assert min(mine["a_id"].n_unique(), mine["b_id"].n_unique()) == row["meetings"]
        assert mine["sensor_id"].n_unique() == row["distinct_sensors"]


def test_meeting_regions_are_the_union_over_the_meetings() -> None:
    frame = with_regions(random_sightings(4, 200), 4)
    pairs = co_travel_pairs(frame.drop("regions"), 60, 1, 1)
    got = meeting_regions(co_travel_meetings(frame, pairs, 60, carry=["regions"]))
    assert got.height == pairs.height
    for a_type, a, b_type, b, regions in got.rows():
        want = {g for _s, _x, _y, p, q in nested_loops(frame, (a_type, a), (b_type, b), 60)
                for g in (*p, *q)}
        assert regions == sorted(want)


def test_since_until_and_empty_inputs() -> None:
    frame = random_sightings(5, 200)
    pairs = co_travel_pairs(frame, 60, 1, 1)
    since = frame["seen_at"].min() + timedelta(minutes=5)
    got = co_travel_meetings(frame, pairs, 60, since=since)
    assert got.height and got["a_at"].min() >= since and got["b_at"].min() >= since
    assert co_travel_meetings(frame, pairs.clear(), 60).height == 0
    assert co_travel_meetings(frame.clear(), pairs, 60).height == 0


def test_docstring_examples_run() -> None:
    assert doctest.testmod(meetings, raise_on_error=False).failed == 0


def all_pairs(frame: pl.DataFrame) -> pl.DataFrame:
    """Every two distinct subjects of ``frame``, ``a < b``."""
    subjects = sorted(set(frame.select("subject_type", "subject").rows()))
    return pl.DataFrame([(*a, *b) for a in subjects for b in subjects if a < b],
                        schema={k: pl.String for k in ("a_type", "a", "b_type", "b")},
                        orient="row")


def _figures(met: pl.DataFrame) -> dict[tuple, tuple]:
    """Per pair, the contract's figures recounted from its listed meetings."""
    out = {}
    for key, part in met.group_by(["a_type", "a", "b_type", "b"]):
        a_met, b_met = part["a_id"].n_unique(), part["b_id"].n_unique()
        times = [*part["a_at"], *part["b_at"]]
        out[((key[0], key[1]), (key[2], key[3]))] = (
            min(a_met, b_met), part["sensor_id"].n_unique(), min(times), max(times))
    return out


@HYPO
@given(rows_strategy, st.sampled_from([0, 30, 60, 90]))
def test_property_listed_meetings_give_the_sweeps_figures(rows: list, window: int) -> None:
    """The sweep's counts and the listing's meetings are the one meeting rule."""
    frame = frame_of(rows).with_row_index("id")
    swept = as_dict(co_travel_pairs(frame, window, 1, 1))
    met = co_travel_meetings(frame, all_pairs(frame), window, carry=["id"])
    assert _figures(met) == swept
