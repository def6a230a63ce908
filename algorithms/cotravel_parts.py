"""Co-travel in partitions: the plan a distributed engine runs, as pure functions.

One machine's memory bounds :func:`algorithms.cotravel.co_travel_pairs`; a cluster needs the
sightings cut into pieces that can be swept independently and whose results add up to exactly
the same answer. The cut used here (and by the Spark engine, :mod:`fusion.services.cotravel_spark`):

1. Time is divided into buckets of ``width`` microseconds; a sighting at ``t`` is *owned* by
   bucket ``floor(t / width)`` of its sensor. A *cell* is one (sensor, bucket).
2. Every sighting is also copied, as a *halo* sighting, to every other bucket of its sensor that
   lies within ``window`` of it: buckets ``floor((t - window) / width) .. floor((t + window) /
   width)``. A cell then holds every sighting that can meet one it owns.
3. Each cell is swept on its own (:func:`partition_meetings`, the numpy sweep of
   :mod:`algorithms.cotravel`): for each *owned* sighting, the set of other subjects that met it
   is decided there, once. The cell reports, per (subject pair, sensor), how many of each
   subject's owned sightings the other met, and their earliest and latest times.
4. The partial counts are summed per (pair, sensor) and then per pair
   (:func:`reduce_partials`): ``meetings`` is the smaller of the two sums, ``distinct_sensors``
   the number of sensors, ``first_at``/``last_at`` the extremes. Owned sightings partition the
   sightings, so each met sighting is counted exactly once and the answer equals the
   in-process one.

:func:`co_travel_pairs_partitioned` runs the whole plan in one process; the engine's tests check
it (and the engine) against :func:`algorithms.cotravel.co_travel_pairs` on adversarial cuts.
Integer arithmetic only: bucket numbers use floor division on microseconds, never floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial

import numpy as np
import polars as pl
import pyarrow as pa

from algorithms._codes import factorize
from algorithms.cotravel import (
    PAIR_SCHEMA,
    SUBJECT_COLUMNS,
    Sightings,
    _changes,
    _check_thresholds,
    _chunks,
    _concat,
    _expand,
    _scoped,
    _sorted_windows,
    _window_us,
)
from queries.model import CO_TRAVEL_MIN_MEETINGS, CO_TRAVEL_MIN_SENSORS, CO_TRAVEL_WINDOW_S

__all__ = [
    "CELL_COLUMNS",
    "PARTIAL_SCHEMA",
    "arrow_partition_meetings",
    "co_travel_pairs_partitioned",
    "floor_div",
    "mapper",
    "partition_meetings",
    "reduce_partials",
    "sort_pairs",
    "with_halo",
]

# What a cell's sweep reads: the sighting, its cell and whether the cell owns it.
CELL_COLUMNS = ("subject_type", "subject", "sensor_id", "bucket", "t", "owned")
PAIR_COLUMNS = ("a_type", "a", "b_type", "b")
# What a cell reports per (pair, sensor): a's owned sightings met by b (n_a), b's met by a (n_b).
PARTIAL_SCHEMA = pl.Schema(
    {"a_type": pl.String, "a": pl.String, "b_type": pl.String, "b": pl.String,
     "sensor_id": pl.String, "n_a": pl.Int64, "n_b": pl.Int64, "first_us": pl.Int64,
     "last_us": pl.Int64}
)
REGIONS = pl.List(pl.String)


# ---------------------------------------------------------------------------------------------
# The cut


def floor_div(values: pl.Expr, width: int) -> pl.Expr:
    """``floor(values / width)`` in integers (also for times before 1970)."""
    return (values - values.mod(width)) // width


def with_halo(frame: pl.LazyFrame, window_us: int, width: int) -> pl.LazyFrame:
    """Each sighting (``t`` in microseconds) in every cell within ``window_us`` of it.

    Adds ``bucket`` (one row per bucket reached) and ``owned`` (the row's bucket is its own).
    """
    if width < 1:
        raise ValueError(f"the bucket width must be at least 1 microsecond, got {width}")
    t = pl.col("t")
    return frame.with_columns(
        pl.int_ranges(floor_div(t - window_us, width), floor_div(t + window_us, width) + 1)
        .alias("bucket"), floor_div(t, width).alias("_own"),
    ).explode("bucket").with_columns(owned=pl.col("bucket") == pl.col("_own")).drop("_own")


# ---------------------------------------------------------------------------------------------
# One partition (any number of whole cells)


def partition_meetings(frame: pl.DataFrame, window_us: int,
                       with_regions: bool = False) -> pl.DataFrame:
    """Per (subject pair, sensor), the met owned sightings of whole cells.

    Parameters
    ----------
    frame : polars.DataFrame
        Columns :data:`CELL_COLUMNS` (and ``regions``, a list of strings, ``with_regions``);
        every cell it touches must be present whole (its owned and its halo sightings).
    window_us : int
        The meeting window in microseconds (inclusive).
    with_regions : bool, default False
        Also report the sorted union of the met sightings' ``regions`` per row.

    Returns
    -------
    polars.DataFrame
        :data:`PARTIAL_SCHEMA` (and ``regions``): one row per (pair, sensor) with a meeting,
        ``(a_type, a) < (b_type, b)``; ``n_a`` counts a's owned sightings met by b there,
        ``n_b`` b's met by a; ``first_us``/``last_us`` the extremes of their times.

    Notes
    -----
    Cells are swept as the in-process engine sweeps sensors (each sighting paired with the later
    ones of its cell within the window, in chunks of bounded size); a met record is kept only
    for the owned side, then (sighting, other subject) duplicates are dropped.
    """
    if frame.height == 0:
        return _empty_partials(with_regions)
    subject, subjects = factorize(frame, SUBJECT_COLUMNS)
    sensor, sensors = factorize(frame, ("sensor_id",))
    cell, _ = factorize(frame, ("sensor_id", "bucket"))
    columns = {"sensor": cell, "subject": subject, "time": frame["t"].to_numpy(),
               "row": np.arange(frame.height, dtype=np.int64)}
    ordered, _, end = _sorted_windows(columns, window_us, with_start=False)
    row = ordered["row"]
    owned = frame["owned"].to_numpy()[row]
    pos, other = _met(ordered["subject"], owned, end, max(1, (len(subjects) - 1).bit_length()))
    if len(pos) == 0:
        return _empty_partials(with_regions)
    mine = ordered["subject"][pos].astype(np.int64)
    met = pl.DataFrame({
        "lo": np.minimum(mine, other), "hi": np.maximum(mine, other),
        "sensor": sensor[row[pos]].astype(np.int64), "is_lo": mine < other,
        "t": ordered["time"][pos], "row": row[pos],
    })
    if with_regions:
        met = met.with_columns(regions=frame["regions"].gather(met["row"]))
    return _partials(met, subjects, sensors, with_regions)


def _met(subject: np.ndarray, owned: np.ndarray, end: np.ndarray,
         subject_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (owned position, subject that met it), sorted by position then subject."""
    rows = np.arange(len(subject), dtype=np.int64)
    counts = end - rows - 1
    found = []
    for lo, hi in _chunks(counts):
        i, j = _expand(rows[lo:hi], rows[lo:hi] + 1, counts[lo:hi])
        keep = subject[i] != subject[j]
        i, j = i[keep], j[keep]
        mine = np.r_[i[owned[i]], j[owned[j]]].astype(np.uint64)
        theirs = np.r_[subject[j[owned[i]]], subject[i[owned[j]]]].astype(np.uint64)
        found.append(_distinct((mine << np.uint64(subject_bits)) | theirs))
    record = _distinct(_concat(found, np.uint64))
    mask = np.uint64((1 << subject_bits) - 1)
    return (record >> np.uint64(subject_bits)).astype(np.int64), (record & mask).astype(np.int64)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values by a value sort (numpy's hash-based unique is many times slower
    on these packed records)."""
    values.sort()
    return values[_changes(values)]


def _partials(met: pl.DataFrame, subjects: pl.DataFrame, sensors: pl.DataFrame,
              with_regions: bool) -> pl.DataFrame:
    """Met records summed per (pair, sensor) and decoded to keys."""
    aggs = [pl.col("is_lo").sum().cast(pl.Int64).alias("n_a"),
            (~pl.col("is_lo")).sum().cast(pl.Int64).alias("n_b"),
            pl.col("t").min().alias("first_us"), pl.col("t").max().alias("last_us")]
    if with_regions:
        aggs.append(pl.col("regions").explode().unique().sort().alias("regions"))
    grouped = _sorted_groups(met, len(subjects), len(sensors)) if not with_regions else None
    if grouped is None:
        grouped = met.group_by("lo", "hi", "sensor").agg(aggs)
    a, b = subjects[grouped["lo"]], subjects[grouped["hi"]]
    out = pl.DataFrame({
        "a_type": a["subject_type"], "a": a["subject"], "b_type": b["subject_type"],
        "b": b["subject"], "sensor_id": sensors["sensor_id"].gather(grouped["sensor"]),
        **{name: grouped[name] for name in ("n_a", "n_b", "first_us", "last_us")},
    }, schema=PARTIAL_SCHEMA)
    return out.with_columns(grouped["regions"]) if with_regions else out


def _sorted_groups(met: pl.DataFrame, n_subjects: int, n_sensors: int) -> pl.DataFrame | None:
    """The per (lo, hi, sensor) sums by one sort of a packed key and ``reduceat`` (several
    times faster than a three-column group-by); None when the key does not fit 63 bits."""
    sb, nb = max(1, (n_subjects - 1).bit_length()), max(1, (n_sensors - 1).bit_length())
    if 2 * sb + nb > 63:
        return None
    lo, hi, sensor = (met[name].to_numpy() for name in ("lo", "hi", "sensor"))
    key = (lo << (sb + nb)) | (hi << nb) | sensor
    ordered = pl.DataFrame({"key": key, "is_lo": met["is_lo"], "t": met["t"]}).sort("key")
    key = ordered["key"].to_numpy()
    starts = np.flatnonzero(_changes(key))
    is_lo, t = ordered["is_lo"].to_numpy(), ordered["t"].to_numpy()
    n_a = np.add.reduceat(is_lo, starts, dtype=np.int64)
    group = key[starts]
    return pl.DataFrame({
        "lo": group >> (sb + nb), "hi": (group >> nb) & ((1 << sb) - 1),
        "sensor": group & ((1 << nb) - 1), "n_a": n_a,
        "n_b": np.diff(np.r_[starts, len(key)]) - n_a,
        "first_us": np.minimum.reduceat(t, starts), "last_us": np.maximum.reduceat(t, starts),
    })


def _empty_partials(with_regions: bool) -> pl.DataFrame:
    empty = PARTIAL_SCHEMA.to_frame()
    return empty.with_columns(pl.lit(None, REGIONS).alias("regions")) if with_regions else empty


def arrow_partition_meetings(batches: Iterable[pa.RecordBatch], window_us: int,
                             with_regions: bool, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """:func:`partition_meetings` over Arrow batches (a Spark ``mapInArrow`` function).

    The batches of one partition are swept together (its cells arrive whole, in any number
    of batches); the result is cast to ``schema``.
    """
    batches = list(batches)
    if not batches:  # an empty partition (more partitions than cells)
        return
    table = pa.Table.from_batches(batches)
    if table.num_rows == 0:
        return
    frame = pl.from_arrow(table)
    out = partition_meetings(frame, window_us, with_regions).to_arrow()
    yield from out.cast(schema).to_batches()


def mapper(window_us: int, with_regions: bool, schema: pa.Schema):
    """:func:`arrow_partition_meetings` with its settings bound (picklable by reference)."""
    return partial(arrow_partition_meetings, window_us=window_us, with_regions=with_regions,
                   schema=schema)


# ---------------------------------------------------------------------------------------------
# The reduction, and the whole plan in one process


def reduce_partials(partials: pl.LazyFrame | pl.DataFrame, min_meetings: int,
                    min_distinct_sensors: int, with_regions: bool = False) -> pl.DataFrame:
    """Reported pairs from partial counts, in :data:`algorithms.cotravel.PAIR_SCHEMA` order.

    Sums per (pair, sensor), then per pair: meetings = min(sum n_a, sum n_b), distinct
    sensors = sensors with a meeting; the thresholds as in the in-process engine.
    """
    pair = list(PAIR_COLUMNS)
    extra = [pl.col("regions").explode().unique().sort().alias("regions")] if with_regions else []
    per_sensor = partials.lazy().group_by(*pair, "sensor_id").agg(
        pl.col("n_a").sum(), pl.col("n_b").sum(), pl.col("first_us").min(),
        pl.col("last_us").max(), *extra)
    per_pair = per_sensor.group_by(pair).agg(
        pl.min_horizontal(pl.col("n_a").sum(), pl.col("n_b").sum()).alias("meetings"),
        pl.len().cast(pl.Int64).alias("distinct_sensors"),
        pl.col("first_us").min().cast(PAIR_SCHEMA["first_at"]).alias("first_at"),
        pl.col("last_us").max().cast(PAIR_SCHEMA["last_at"]).alias("last_at"), *extra)
    reported = per_pair.filter((pl.col("meetings") >= min_meetings)
                               & (pl.col("distinct_sensors") >= min_distinct_sensors))
    return sort_pairs(reported.collect())


def sort_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """Pairs in the in-process engine's report order and column types."""
    columns = [*PAIR_SCHEMA.names(), *(["regions"] if "regions" in pairs.columns else [])]
    return pairs.select(columns).cast(dict(PAIR_SCHEMA)).sort(
        ["distinct_sensors", "meetings", *PAIR_COLUMNS],
        descending=[True, True, False, False, False, False])


def co_travel_pairs_partitioned(
    sightings: Sightings,
    width: int,
    window: float = CO_TRAVEL_WINDOW_S,
    min_meetings: int = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: int = CO_TRAVEL_MIN_SENSORS,
    since: datetime | None = None,
    until: datetime | None = None,
    partitions: int = 1,
) -> pl.DataFrame:
    """:func:`algorithms.cotravel.co_travel_pairs` computed cell by cell (the engine's plan).

    ``width`` is the bucket width in microseconds; cells are dealt to ``partitions`` groups by
    a hash of (sensor, bucket) and each group is swept on its own. Same answer as the
    in-process engine for any width and partition count.
    """
    _check_thresholds(window, min_meetings, min_distinct_sensors)
    window_us = _window_us(window)
    scoped = _scoped(sightings, since, until).select(
        *SUBJECT_COLUMNS, "sensor_id", pl.col("seen_at").dt.epoch("us").alias("t"))
    cells = with_halo(scoped, window_us, width).with_columns(
        (pl.struct("sensor_id", "bucket").hash(11) % partitions).alias("_part")).collect()
    partials = [partition_meetings(part.drop("_part"), window_us)
                for _, part in cells.group_by("_part")]
    return reduce_partials(pl.concat([_empty_partials(False), *partials]), min_meetings,
                           min_distinct_sensors)

