"""The Spark engine's partitioned plan, run in one process, equals the in-process engine.

:mod:`algorithms.cotravel_parts` cuts sightings into (sensor, time bucket) cells with a window
halo; these tests hold it to :func:`algorithms.cotravel.co_travel_pairs` (the oracle) on
adversarial cuts: meetings straddling a bucket edge, many sightings of one subject at one sensor
across an edge, equal timestamps on the edge, tiny buckets (a sighting in hundreds of cells),
one bucket (no cut), and random partition counts; on every figure: the contract's, the days,
the median lead, the reads and the significance (floats to 1e-9 relative).
tests/test_spark_engine.py runs the same cuts on Spark itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algorithms.cotravel import SIGHTING_COLUMNS, co_travel_pairs
from algorithms.cotravel_parts import (
    co_travel_pairs_partitioned,
    partition_meetings,
    with_halo,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
KEYS = ["a_type", "a", "b_type", "b"]


def assert_same_pairs(got: pl.DataFrame, want: pl.DataFrame, rtol: float = 1e-9) -> None:
    """The same pairs with the same figures: columns and types equal, every column equal by
    pair, floats (lead, expected meetings, significance) to ``rtol``.

    Compared by pair key: pairs whose significance differs in the last bit may swap places
    in the report order.
    """
    assert got.schema == want.schema
    assert got.height == want.height
    got, want = got.sort(KEYS), want.sort(KEYS)
    for name, dtype in want.schema.items():
        if dtype == pl.Float64:
            assert np.allclose(got[name].to_numpy(), want[name].to_numpy(), rtol=rtol, atol=0,
                               equal_nan=True), name
        else:
            assert got[name].equals(want[name]), name
EDGE_S = 3600  # bucket edges the sightings crowd around (a multiple of every width below)


@st.composite
def edge_sightings(draw: st.DrawFn) -> pl.DataFrame:
    """Sightings of a few subjects at a few sensors, crowded around bucket edges.

    Times are edges plus offsets from a small set (so equal timestamps, on and off the edge,
    are common) or anywhere within two windows of an edge.
    """
    n = draw(st.integers(0, 60))
    subjects = [("plate", "A"), ("plate", "B"), ("phone", "A"), ("phone", "C"), ("plate", "D")]
    offsets = st.one_of(st.sampled_from([-120.0, -60.0, -0.5, 0.0, 0.5, 60.0, 120.0, 120.5]),
                        st.floats(-250, 250, allow_nan=False).map(lambda s: round(s, 6)))
    rows = []
    for _ in range(n):
        kind, key = draw(st.sampled_from(subjects))
        edge = draw(st.integers(-1, 3)) * EDGE_S
        at = T0 + timedelta(seconds=edge + draw(offsets))
        rows.append((kind, key, draw(st.sampled_from(["S1", "S2", "S3"])), at))
    return pl.DataFrame(rows, schema={"subject_type": pl.String, "subject": pl.String,
                                      "sensor_id": pl.String,
                                      "seen_at": pl.Datetime("us", "UTC")}, orient="row")


# Widths in microseconds: 1 µs and 7 s (tiny: a sighting in many cells), 60 s (half a
# window), 1 h (the default), 10^15 µs (one bucket holds all the data: no cut).
WIDTHS = st.sampled_from([1, 7_000_000, 60_000_000, 3_600_000_000, 10**15])
WINDOWS = st.sampled_from([0.0, 1.5, 120.0])


def tiny_enough(width: int, window: float) -> int:
    """``width``, or the width at which a sighting reaches ~500 cells if it would reach more
    (1 µs cells and a 120 s window: 240 million copies of each sighting)."""
    return max(width, round(window * 1_000_000) // 500 + 1) if width < 10**15 else width


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=edge_sightings(), width=WIDTHS, window=WINDOWS,
       partitions=st.integers(1, 4), thresholds=st.sampled_from([(1, 1), (2, 1), (2, 2)]))
def test_the_partitioned_plan_equals_the_in_process_engine(frame, width, window, partitions,
                                                           thresholds) -> None:
    width = tiny_enough(width, window)
    want = co_travel_pairs(frame, window, *thresholds)
    got = co_travel_pairs_partitioned(frame, width, window, *thresholds, partitions=partitions)
    assert_same_pairs(got, want)


def test_a_meeting_across_a_bucket_edge_is_counted_once_per_sighting() -> None:
    # A's sighting just before the edge, B's on it and B's just after: A's one sighting is met
    # by B (once, though by two of B's sightings), so meetings = min(1, 2) = 1.
    at = [T0 - timedelta(seconds=1), T0, T0 + timedelta(seconds=1)]
    frame = pl.DataFrame([("plate", "A", "S1", at[0]), ("plate", "B", "S1", at[1]),
                          ("plate", "B", "S1", at[2])], schema=list(SIGHTING_COLUMNS),
                         orient="row")
    for width in (1_000_000, 2_000_000, 3_600_000_000):
        got = co_travel_pairs_partitioned(frame, width, 120, 1, 1, partitions=2)
        assert got.select("meetings", "distinct_sensors").rows() == [(1, 1)]
        assert_same_pairs(got, co_travel_pairs(frame, 120, 1, 1))


def test_halo_cells_reach_exactly_the_window() -> None:
    width, window = 10, 3
    frame = pl.LazyFrame({"t": [0, 6, 7, 9, -1, -4]})
    cells = with_halo(frame, window, width).collect()
    got = {t: sorted(part["bucket"].to_list())
           for (t,), part in cells.group_by("t")}
    assert got == {0: [-1, 0], 6: [0], 7: [0, 1], 9: [0, 1], -1: [-1, 0], -4: [-1]}
    owned = cells.filter("owned").sort("t")
    assert owned["bucket"].to_list() == [-1, -1, 0, 0, 0, 0]  # floor(t / width), also below 0


def test_a_partition_reports_only_its_owned_sightings() -> None:
    # One cell: A owned at 100, B as halo at 101. A is met (n_a = 1); B belongs to another cell.
    frame = pl.DataFrame({"subject_type": ["plate", "plate"], "subject": ["A", "B"],
                          "sensor_id": ["S", "S"], "bucket": [0, 0], "t": [100, 101],
                          "owned": [True, False]})
    got = partition_meetings(frame, 5)
    assert got.select("a", "b", "n_a", "n_b", "first_us", "last_us", "days", "leads").rows() == [
        ("A", "B", 1, 0, 100, 100, [0], [1])]


def test_a_sighting_pair_is_counted_in_the_cell_that_owns_its_earlier_sighting() -> None:
    # B at 100 (owned) and A at 103 (halo): the cell owns the pair's earlier sighting, so its
    # lead (A's time minus B's, as A < B: -3) is counted here, though only B's sighting is met
    # here; the cell owning A at 103 sees B's as halo and counts A as met but no lead.
    frame = pl.DataFrame({"subject_type": ["plate", "plate"], "subject": ["B", "A"],
                          "sensor_id": ["S", "S"], "bucket": [0, 0], "t": [100, 103],
                          "owned": [True, False]})
    assert partition_meetings(frame, 5).select("n_a", "n_b", "days", "leads").rows() == [
        (0, 1, [], [-3])]
    other = frame.with_columns(owned=pl.Series([False, True]))
    assert partition_meetings(other, 5).select("n_a", "n_b", "days", "leads").rows() == [
        (1, 0, [0], [])]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=edge_sightings(), width=WIDTHS, partitions=st.integers(1, 4),
       floor=st.sampled_from([0.5, 2.0, 5.0]))
def test_the_partitioned_plan_filters_on_significance_as_the_in_process_engine(
        frame, width, partitions, floor) -> None:
    want = co_travel_pairs(frame, 120.0, 1, 1, min_significance=floor)
    got = co_travel_pairs_partitioned(frame, tiny_enough(width, 120.0), 120.0, 1, 1,
                                      partitions=partitions, min_significance=floor)
    assert_same_pairs(got, want)


def test_zero_width_buckets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 microsecond"):
        co_travel_pairs_partitioned(pl.DataFrame(schema={c: pl.String for c in SIGHTING_COLUMNS}
                                                 ).cast({"seen_at": pl.Datetime("us", "UTC")}),
                                    0)
