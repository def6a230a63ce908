"""The individual meetings behind co-travel pairs, for many pairs at once.

:func:`algorithms.cotravel.co_travel_pairs` reports figures per pair; the service also needs
what each pair's meetings were made of: the regions of the sightings behind a materialized
``CO_TRAVELED`` relationship, and the meetings as timestamped contacts for time-respecting
paths. :func:`co_travel_meetings` lists them, with the same meeting rule (same sensor,
``|t_a - t_b| <= window``, inclusive, in integer microseconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from algorithms.cotravel import (
    SIGHTING_COLUMNS,
    TIME,
    Sightings,
    _check_thresholds,
    _window_us,
)
from algorithms.utc import utc

__all__ = ["PAIR_KEYS", "co_travel_meetings", "meeting_regions"]

PAIR_KEYS = ("a_type", "a", "b_type", "b")


def co_travel_meetings(
    sightings: Sightings,
    pairs: pl.DataFrame | pl.LazyFrame,
    window: float = 120,
    carry: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Every meeting of the given pairs: (a sighting, b sighting) at one sensor within window.

    Parameters
    ----------
    sightings : polars DataFrame or LazyFrame
        Columns ``subject_type``, ``subject``, ``sensor_id``, ``seen_at`` and the ``carry``
        columns; already limited to the caller's scope.
    pairs : polars DataFrame or LazyFrame
        Columns ``a_type``, ``a``, ``b_type``, ``b`` (e.g. :func:`co_travel_pairs` output);
        repeated pairs count once.
    window : float, default 120
        Seconds, inclusive.
    carry : sequence of str, default ()
        Sighting columns to keep, as ``a_<name>`` and ``b_<name>``.
    since, until : datetime, optional
        Only sightings with ``since <= seen_at <= until``.

    Returns
    -------
    polars.DataFrame
        Columns ``a_type, a, b_type, b, sensor_id, a_at, b_at`` and the carried columns; one
        row per pair of sightings that meet, sorted by the pair, ``a_at``, ``b_at``, sensor.
        For one pair, the rows are :func:`co_travel_evidence`'s with ``limit=None``.

    Notes
    -----
    A hash join of each pair's two subjects' sightings on (pair, sensor, window-sized time
    bucket), each ``a`` sighting probing its own and both neighbouring buckets: ``O(n + k)``
    for ``n`` sightings of the pairs' subjects and ``k`` candidate matches.

    Examples
    --------
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
    >>> s = pl.DataFrame([("plate", "A1", "S1", t0, "ZJ"),
    ...                   ("plate", "B2", "S1", t0 + timedelta(seconds=60), "GD")],
    ...                  schema=[*SIGHTING_COLUMNS, "region"], orient="row")
    >>> pairs = pl.DataFrame({"a_type": ["plate"], "a": ["A1"], "b_type": ["plate"], "b": ["B2"]})
    >>> co_travel_meetings(s, pairs, carry=["region"]).select("sensor_id", "a_region",
    ...                                                        "b_region").rows()
    [('S1', 'ZJ', 'GD')]
    """
    _check_thresholds(window, 1, 1)
    width = max(_window_us(window), 1)
    lf = _sightings(sightings, carry, since, until)
    keyed = pairs.lazy().select(PAIR_KEYS).unique().with_row_index("_pair")
    side_a = _side(lf, keyed, "a", carry, width).with_columns(
        pl.int_ranges(pl.col("_bucket") - 1, pl.col("_bucket") + 2).alias("_bucket")
    ).explode("_bucket")
    side_b = _side(lf, keyed, "b", carry, width)
    dt = (pl.col("a_at") - pl.col("b_at")).dt.total_microseconds().abs()
    extra = [f"{side}_{name}" for name in carry for side in ("a", "b")]
    return (
        side_a.join(side_b, on=["_pair", "sensor_id", "_bucket"])
        .filter(dt <= _window_us(window))
        .join(keyed, on="_pair")
        .select(*PAIR_KEYS, "sensor_id", "a_at", "b_at", *extra)
        .sort(*PAIR_KEYS, "a_at", "b_at", "sensor_id")
        .collect()
    )


def meeting_regions(meetings: pl.DataFrame) -> pl.DataFrame:
    """Per pair, the sorted union of the regions of the sightings that made its meetings.

    Parameters
    ----------
    meetings : polars.DataFrame
        :func:`co_travel_meetings` output carrying ``regions`` (list columns ``a_regions``,
        ``b_regions``).

    Returns
    -------
    polars.DataFrame
        Columns ``a_type, a, b_type, b, regions``, one row per pair with meetings.

    Examples
    --------
    >>> m = pl.DataFrame({"a_type": ["plate"] * 2, "a": ["A"] * 2, "b_type": ["plate"] * 2,
    ...                   "b": ["B"] * 2, "a_regions": [["ZJ"], ["ZJ"]],
    ...                   "b_regions": [["GD"], ["SC", "ZJ"]]})
    >>> meeting_regions(m).get_column("regions").to_list()
    [['GD', 'SC', 'ZJ']]
    """
    return (
        meetings.lazy()
        .select(*PAIR_KEYS, pl.concat_list("a_regions", "b_regions").alias("regions"))
        .explode("regions")
        .group_by(PAIR_KEYS)
        .agg(pl.col("regions").unique().sort())
        .sort(PAIR_KEYS)
        .collect()
    )


def _sightings(sightings: Sightings, carry: Sequence[str], since: datetime | None,
               until: datetime | None) -> pl.LazyFrame:
    """Sighting and carried columns, ``seen_at`` as UTC microseconds, limited in time."""
    lf = sightings.lazy().select(*SIGHTING_COLUMNS, *carry)
    dtype = lf.collect_schema()["seen_at"]
    if not isinstance(dtype, pl.Datetime):
        raise TypeError(f"seen_at must be a Datetime column, got {dtype}")
    seen = pl.col("seen_at")
    seen = seen.dt.replace_time_zone("UTC") if dtype.time_zone is None else (
        seen.dt.convert_time_zone("UTC"))
    lf = lf.with_columns(seen.dt.cast_time_unit("us").cast(TIME),
                         pl.col("sensor_id").cast(pl.String))
    if since is not None:
        lf = lf.filter(pl.col("seen_at") >= utc(since))
    if until is not None:
        lf = lf.filter(pl.col("seen_at") <= utc(until))
    return lf


def _side(lf: pl.LazyFrame, keyed: pl.LazyFrame, side: str, carry: Sequence[str],
          width: int) -> pl.LazyFrame:
    """One side's sightings per pair: pair, sensor, bucket, time, carried columns."""
    return lf.join(
        keyed.select("_pair", pl.col(f"{side}_type").alias("subject_type"),
                     pl.col(side).alias("subject")),
        on=["subject_type", "subject"],
    ).select(
        "_pair", "sensor_id",
        (pl.col("seen_at").dt.epoch("us") // width).alias("_bucket"),
        pl.col("seen_at").alias(f"{side}_at"),
        *(pl.col(name).alias(f"{side}_{name}") for name in carry),
    )
