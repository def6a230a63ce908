"""Exact co-travel statistics of the contract's definition, for the scenario's own truth.

The generator uses this to *state* what its planted sightings add up to (meetings and
distinct sensors per pair), so the truth file is computed, not asserted. It is a per-sensor
sort-and-sweep, linear in the number of sightings plus the number of close pairs.

It deliberately does not reuse :mod:`algorithms.meetings` or :mod:`algorithms.cotravel`: the
truth file's ``cotravel_pairs``, ``cotravel_groups`` and near misses are the oracle the tests
check the product's co-travel against (tests/test_scenario_cotravel.py, the analyses' and the
API's scenario tests), and an oracle must stay independent of the code it checks. Two
implementations of the meeting rule here are the point, not a duplicate to merge.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from queries.model import CO_TRAVEL_MIN_MEETINGS, CO_TRAVEL_MIN_SENSORS, CO_TRAVEL_WINDOW_S


def pair_stats(subject: np.ndarray, sensor: np.ndarray, t: np.ndarray,
               window: int = CO_TRAVEL_WINDOW_S) -> pl.DataFrame:
    """Meetings and distinct sensors of every pair of subjects that met at least once.

    Parameters
    ----------
    subject, sensor : integer codes, one per sighting (sightings must be distinct)
    t : epoch seconds of each sighting
    window : seconds within which two sightings at one sensor meet

    Returns
    -------
    DataFrame with columns ``a < b`` (subject codes), ``meetings`` and ``distinct_sensors``,
    following the contract: a's sighting is met when b has a sighting at the same sensor within
    ``window`` seconds; meetings = min(a's sightings met by b, b's sightings met by a).

    Notes
    -----
    Complexity O(n log n + p) for n sightings and p close sighting pairs.
    """
    close = _close_sightings(sensor.astype(np.int64), t.astype(np.int64), window)
    i, j = close
    keep = subject[i] != subject[j]
    i, j = i[keep], j[keep]
    met = pl.DataFrame({
        "by": np.concatenate([subject[j], subject[i]]),
        "who": np.concatenate([subject[i], subject[j]]),
        "sighting": np.concatenate([i, j]),
        "sensor": np.concatenate([sensor[i], sensor[j]]),
    }).unique(["who", "by", "sighting"])
    met = met.with_columns(a=pl.min_horizontal("who", "by"), b=pl.max_horizontal("who", "by"))
    per_side = met.group_by("a", "b", "who").agg(n=pl.len())
    counts = per_side.group_by("a", "b").agg(
        meetings=pl.when(pl.len() == 2).then(pl.col("n").min()).otherwise(0))
    sensors = met.group_by("a", "b").agg(distinct_sensors=pl.col("sensor").n_unique())
    return counts.join(sensors, on=["a", "b"]).sort("a", "b")


def _close_sightings(sensor: np.ndarray, t: np.ndarray,
                     window: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i != j, of sightings at one sensor within ``window`` seconds."""
    if len(t) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    span = int(t.max() - t.min()) + window + 1
    key = sensor * span + (t - t.min())
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    upper = np.searchsorted(sorted_key, sorted_key + window, side="right")
    ahead = upper - np.arange(len(sorted_key)) - 1
    first = np.repeat(np.arange(len(sorted_key)), ahead)
    starts = np.repeat(np.cumsum(ahead) - ahead, ahead)
    second = first + 1 + (np.arange(len(first)) - starts)
    return order[first], order[second]


def qualifies(meetings: int, distinct_sensors: int, min_meetings: int = CO_TRAVEL_MIN_MEETINGS,
              min_distinct_sensors: int = CO_TRAVEL_MIN_SENSORS) -> bool:
    """Whether a pair is reported under the given thresholds."""
    return meetings >= min_meetings and distinct_sensors >= min_distinct_sensors
