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
   subject's owned sightings the other met, their earliest and latest times, the UTC days of
   a's, and the lead (b's time minus a's) of every sighting pair within the window whose
   earlier sighting it owns (equal times share a bucket, so each sighting pair is counted in
   exactly one cell).
4. The partial counts are reduced per pair (:func:`reduce_partials`): ``meetings`` is the
   smaller of the two sums, ``distinct_sensors`` the number of sensors, ``first_at``/``last_at``
   the extremes, ``distinct_days`` the distinct days, ``lead_s`` the median of the leads.
   Owned sightings partition the sightings, so each met sighting is counted exactly once and
   the answer equals the in-process one.
5. The reported pairs are scored (:func:`score_reduced`) by
   :func:`algorithms.significance.score_habits` from counted aggregates: habits per (subject,
   sensor, cell), traffic per (sensor, cell), the period and the total
   (:func:`null_model_counts`); pairs are scored in groups, each with its subjects' habits only.

:func:`co_travel_pairs_partitioned` runs the whole plan in one process; the engine's tests check
it (and the engine) against :func:`algorithms.cotravel.co_travel_pairs` on adversarial cuts.
Integer arithmetic only: bucket numbers use floor division on microseconds, never floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from functools import partial

import numpy as np
import polars as pl
import pyarrow as pa

from algorithms._codes import factorize
from algorithms.cotravel import (
    DAY_US,
    PAIR_SCHEMA,
    SCORED_SCHEMA,
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
    in_report_order,
)
from algorithms.significance import SCORE_SCHEMA, SLOT_S, cell_of, score_habits
from queries.model import CO_TRAVEL_MIN_MEETINGS, CO_TRAVEL_MIN_SENSORS, CO_TRAVEL_WINDOW_S

__all__ = [
    "CELL_COLUMNS",
    "HABIT_SCHEMA",
    "PARTIAL_SCHEMA",
    "REDUCED_SCHEMA",
    "arrow_partition_meetings",
    "arrow_score",
    "co_travel_pairs_partitioned",
    "floor_div",
    "mapper",
    "null_model_counts",
    "partition_meetings",
    "period_of",
    "reduce_partials",
    "score_reduced",
    "sort_pairs",
    "with_halo",
]

# What a cell's sweep reads: the sighting, its cell and whether the cell owns it.
CELL_COLUMNS = ("subject_type", "subject", "sensor_id", "bucket", "t", "owned")
PAIR_COLUMNS = ("a_type", "a", "b_type", "b")
# What a cell reports per (pair, sensor): a's owned sightings met by b (n_a), b's met by a (n_b),
# the extremes of their times, the UTC days of a's (days) and the leads (b's time minus a's, in
# microseconds) of the sighting pairs within the window whose earlier sighting the cell owns.
PARTIAL_SCHEMA = pl.Schema(
    {"a_type": pl.String, "a": pl.String, "b_type": pl.String, "b": pl.String,
     "sensor_id": pl.String, "n_a": pl.Int64, "n_b": pl.Int64, "first_us": pl.Int64,
     "last_us": pl.Int64, "days": pl.List(pl.Int64), "leads": pl.List(pl.Int64)}
)
# A reported pair before its score: the contract's figures (times in microseconds), the days
# and the median lead.
REDUCED_SCHEMA = pl.Schema(
    {"a_type": pl.String, "a": pl.String, "b_type": pl.String, "b": pl.String,
     "meetings": pl.Int64, "distinct_sensors": pl.Int64, "first_us": pl.Int64,
     "last_us": pl.Int64, "distinct_days": pl.Int64, "lead_s": pl.Float64}
)
# The significance's habits: sightings per subject, sensor code and cell (algorithms.significance).
HABIT_SCHEMA = pl.Schema({"subject_type": pl.String, "subject": pl.String, "sensor": pl.Int64,
                          "c": pl.Int64, "n": pl.Int64})
CELLS = 2 * 86_400 // SLOT_S  # the significance's cells: weekday and weekend slots
REGIONS = pl.List(pl.String)
_KEYS = ["lo", "hi", "sensor"]
_EPOCH = date(1970, 1, 1)


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
    bits = max(1, (len(subjects) - 1).bit_length())
    (pos, other), pairs = _met(ordered["subject"], owned, ordered["time"], end, bits)
    if len(pos) == 0:
        return _empty_partials(with_regions)
    mine = ordered["subject"][pos].astype(np.int64)
    met = pl.DataFrame({
        "lo": np.minimum(mine, other), "hi": np.maximum(mine, other),
        "sensor": sensor[row[pos]].astype(np.int64), "is_lo": mine < other,
        "t": ordered["time"][pos], "day": ordered["time"][pos] // DAY_US, "row": row[pos],
    })
    if with_regions:
        met = met.with_columns(regions=frame["regions"].gather(met["row"]))
    first, lo, hi, lead = pairs
    leads = pl.DataFrame({"lo": lo, "hi": hi, "sensor": sensor[row[first]].astype(np.int64),
                          "lead": lead})
    return _partials(met, leads, subjects, sensors, with_regions)


def _met(subject: np.ndarray, owned: np.ndarray, time: np.ndarray, end: np.ndarray,
         subject_bits: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The cell's met records and its owned sighting pairs.

    Met records: distinct (owned position, subject that met it), sorted by position then
    subject. Owned sighting pairs: every pair of sightings of two subjects within the window
    whose earlier one (in sweep order) the cell owns, each once, as (earlier position, lower
    subject code, higher one, lead: the higher one's time minus the lower one's). Equal times
    share a bucket, so a pair's earlier sighting is owned by exactly one cell.
    """
    rows = np.arange(len(subject), dtype=np.int64)
    counts = end - rows - 1
    found, pairs = [], []
    for lo, hi in _chunks(counts):
        i, j = _expand(rows[lo:hi], rows[lo:hi] + 1, counts[lo:hi])
        keep = subject[i] != subject[j]
        i, j = i[keep], j[keep]
        mine = np.r_[i[owned[i]], j[owned[j]]].astype(np.uint64)
        theirs = np.r_[subject[j[owned[i]]], subject[i[owned[j]]]].astype(np.uint64)
        found.append(_distinct((mine << np.uint64(subject_bits)) | theirs))
        pairs.append(_owned_pairs(subject, time, i[owned[i]], j[owned[i]]))
    record = _distinct(_concat(found, np.uint64))
    mask = np.uint64((1 << subject_bits) - 1)
    met = (record >> np.uint64(subject_bits)).astype(np.int64), (record & mask).astype(np.int64)
    return met, tuple(_concat([p[k] for p in pairs]) for k in range(4))


def _owned_pairs(subject: np.ndarray, time: np.ndarray, i: np.ndarray,
                 j: np.ndarray) -> tuple[np.ndarray, ...]:
    """(i, lower subject, higher subject, lead) of sighting pairs (i, j)."""
    a, b = subject[i].astype(np.int64), subject[j].astype(np.int64)
    lead = np.where(a < b, time[j] - time[i], time[i] - time[j])
    return i, np.minimum(a, b), np.maximum(a, b), lead


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values by a value sort (numpy's hash-based unique is many times slower
    on these packed records)."""
    values.sort()
    return values[_changes(values)]


def _partials(met: pl.DataFrame, leads: pl.DataFrame, subjects: pl.DataFrame,
              sensors: pl.DataFrame, with_regions: bool) -> pl.DataFrame:
    """Met records and owned sighting pairs summed per (pair, sensor), decoded to keys."""
    grouped = _sorted_groups(met, len(subjects), len(sensors))
    if grouped is None:
        grouped = met.group_by(_KEYS).agg(
            pl.col("is_lo").sum().cast(pl.Int64).alias("n_a"),
            (~pl.col("is_lo")).sum().cast(pl.Int64).alias("n_b"),
            pl.col("t").min().alias("first_us"), pl.col("t").max().alias("last_us"))
    days = (met.filter("is_lo").select(*_KEYS, "day").unique()
            .group_by(_KEYS).agg(pl.col("day").alias("days")))
    lists = [days, leads.group_by(_KEYS).agg(pl.col("lead").alias("leads"))]
    if with_regions:
        lists.append(met.group_by(_KEYS).agg(pl.col("regions").explode().unique().sort()))
    for extra in lists:
        grouped = grouped.join(extra, on=_KEYS, how="left")
    empty = pl.lit([], pl.List(pl.Int64))
    grouped = grouped.with_columns(pl.col("days").fill_null(empty),
                                   pl.col("leads").fill_null(empty))
    a, b = subjects[grouped["lo"]], subjects[grouped["hi"]]
    out = pl.DataFrame({
        "a_type": a["subject_type"], "a": a["subject"], "b_type": b["subject_type"],
        "b": b["subject"], "sensor_id": sensors["sensor_id"].gather(grouped["sensor"]),
        **{name: grouped[name] for name in ("n_a", "n_b", "first_us", "last_us", "days",
                                           "leads")},
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
    """Reported pairs from partial counts (:data:`REDUCED_SCHEMA`, and ``regions``).

    Per pair: meetings = min(sum n_a, sum n_b), distinct sensors = sensors with a meeting,
    distinct days = distinct days of a's met sightings, ``lead_s`` = the median lead in
    seconds (the mean of the two middle ones for an even count, as the in-process engine);
    the thresholds as in the in-process engine.
    """
    extra = [pl.col("regions").explode().unique().sort().alias("regions")] if with_regions else []
    per_pair = partials.lazy().group_by(PAIR_COLUMNS).agg(
        pl.min_horizontal(pl.col("n_a").sum(), pl.col("n_b").sum()).alias("meetings"),
        pl.col("sensor_id").n_unique().cast(pl.Int64).alias("distinct_sensors"),
        pl.col("first_us").min(), pl.col("last_us").max(),
        pl.col("days").explode().n_unique().cast(pl.Int64).alias("distinct_days"),
        pl.col("leads").explode().sort().alias("_leads"), *extra)
    reported = per_pair.filter((pl.col("meetings") >= min_meetings)
                               & (pl.col("distinct_sensors") >= min_distinct_sensors))
    n = pl.col("_leads").list.len()
    middle = pl.col("_leads").list.get((n - 1) // 2) + pl.col("_leads").list.get(n // 2)
    return reported.with_columns(lead_s=middle / 2.0 / 1e6).select(
        *REDUCED_SCHEMA.names(), *(["regions"] if with_regions else [])).collect()


# ---------------------------------------------------------------------------------------------
# The significance, from counted aggregates


def null_model_counts(sightings: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray,
                                                         tuple[date | None, date | None], float]:
    """The significance's aggregates of sightings (``subject_type``, ``subject``,
    ``sensor_id``, ``t`` in microseconds): habits (:data:`HABIT_SCHEMA`, sensors coded by the
    rank of their id), traffic per (sensor code, cell), the period and the total.

    The one-process form of the group-bys the Spark engine runs.
    """
    sensor, sensors = factorize(sightings, ("sensor_id",))
    t = sightings["t"].to_numpy()
    cells = pl.DataFrame({"subject_type": sightings["subject_type"],
                          "subject": sightings["subject"], "sensor": sensor.astype(np.int64),
                          "c": cell_of(t).astype(np.int64)})
    habits = cells.group_by(HABIT_SCHEMA.names()[:4]).len("n").cast(dict(HABIT_SCHEMA))
    key = cells["sensor"].to_numpy() * CELLS + cells["c"].to_numpy()
    traffic = np.bincount(key, minlength=len(sensors) * CELLS).reshape(len(sensors), CELLS)
    first, last = (int(t.min()), int(t.max())) if len(t) else (None, None)
    return habits, traffic, period_of(first, last), float(len(t))


def period_of(first_us: int | None, last_us: int | None) -> tuple[date | None, date | None]:
    """The first and last calendar day (UTC) of sightings from ``first_us`` to ``last_us``."""
    if first_us is None or last_us is None:
        return None, None
    return tuple(_EPOCH + timedelta(days=int(us // DAY_US)) for us in (first_us, last_us))


def score_reduced(pairs: pl.DataFrame, habits: pl.DataFrame, traffic: np.ndarray,
                  period: tuple[date | None, date | None], total: float,
                  window: float) -> pl.DataFrame:
    """``pairs`` with ``a_reads``, ``b_reads``, ``expected_meetings`` and ``significance``.

    ``habits`` must hold every habit of the pairs' subjects (any other subjects' too);
    ``traffic``, ``period`` and ``total`` are over all sightings in scope. The numbers are
    :func:`algorithms.significance.score_habits`'s, as the in-process engine's.
    """
    if pairs.height == 0:
        return pairs.with_columns(pl.lit(None, t).alias(n) for n, t in SCORE_SCHEMA.items())
    codes, subjects = factorize(habits, SUBJECT_COLUMNS)
    lookup = subjects.with_row_index("u")
    a, b = (pairs.select(pl.col(f"{side}_type").alias("subject_type"),
                         pl.col(side).alias("subject"))
            .join(lookup, on=list(SUBJECT_COLUMNS), how="left", maintain_order="left")["u"]
            for side in ("a", "b"))
    if a.null_count() or b.null_count():
        raise ValueError("habits lack a subject of the pairs")
    reads_a, reads_b, expected, significance = score_habits(
        (codes, habits["sensor"].to_numpy(), habits["c"].to_numpy(), habits["n"].to_numpy()),
        traffic, period, total, a.to_numpy(), b.to_numpy(), pairs["meetings"].to_numpy(),
        window)
    return pairs.with_columns(
        pl.Series("a_reads", reads_a, pl.Int64), pl.Series("b_reads", reads_b, pl.Int64),
        pl.Series("expected_meetings", expected, pl.Float64),
        pl.Series("significance", significance, pl.Float64))


def arrow_score(pairs: pa.Table, habits: pa.Table, traffic, period: tuple[date | None,
                date | None], total: float, window: float, schema: pa.Schema) -> pa.Table:
    """:func:`score_reduced` over Arrow tables (a Spark cogrouped ``applyInArrow`` function).

    ``traffic`` is the array or anything with it as ``.value`` (a Spark broadcast).
    """
    dense = getattr(traffic, "value", traffic)
    frame = pl.from_arrow(pairs)
    if frame.height == 0:
        return schema.empty_table()
    scored = score_reduced(frame, pl.from_arrow(habits).select(HABIT_SCHEMA.names()), dense,
                           period, total, window)
    return scored.select(schema.names).to_arrow().cast(schema)


def sort_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """Pairs in the in-process engine's report order and column types."""
    columns = [*SCORED_SCHEMA.names(), *(["regions"] if "regions" in pairs.columns else [])]
    return in_report_order(pairs.select(columns).cast(dict(SCORED_SCHEMA)))


def co_travel_pairs_partitioned(
    sightings: Sightings,
    width: int,
    window: float = CO_TRAVEL_WINDOW_S,
    min_meetings: int = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: int = CO_TRAVEL_MIN_SENSORS,
    since: datetime | None = None,
    until: datetime | None = None,
    partitions: int = 1,
    min_significance: float = 0.0,
) -> pl.DataFrame:
    """:func:`algorithms.cotravel.co_travel_pairs` computed cell by cell (the engine's plan).

    ``width`` is the bucket width in microseconds; cells are dealt to ``partitions`` groups by
    a hash of (sensor, bucket) and each group is swept on its own; the reported pairs are
    scored from the significance's aggregates, ``partitions`` groups of pairs by a hash of
    ``a``. Same answer as the in-process engine for any width and partition count.
    """
    _check_thresholds(window, min_meetings, min_distinct_sensors)
    window_us = _window_us(window)
    scoped = _scoped(sightings, since, until).select(
        *SUBJECT_COLUMNS, "sensor_id", pl.col("seen_at").dt.epoch("us").alias("t")).collect()
    cells = with_halo(scoped.lazy(), window_us, width).with_columns(
        (pl.struct("sensor_id", "bucket").hash(11) % partitions).alias("_part")).collect()
    partials = [partition_meetings(part.drop("_part"), window_us)
                for _, part in cells.group_by("_part")]
    pairs = reduce_partials(pl.concat([_empty_partials(False), *partials]), min_meetings,
                            min_distinct_sensors)
    habits, traffic, period, total = null_model_counts(scoped)
    groups = pairs.with_columns((pl.struct("a_type", "a").hash(13) % partitions).alias("_g"))
    scored = [_score_group(part.drop("_g"), habits, traffic, period, total, window)
              for _, part in groups.group_by("_g")]
    out = pl.concat([score_reduced(pairs.clear(), habits, traffic, period, total, window),
                     *scored])
    out = out.filter(pl.col("significance") >= min_significance)
    return sort_pairs(out.with_columns(pl.col("first_us").cast(PAIR_SCHEMA["first_at"])
                                       .alias("first_at"),
                                       pl.col("last_us").cast(PAIR_SCHEMA["last_at"])
                                       .alias("last_at")))


def _score_group(pairs: pl.DataFrame, habits: pl.DataFrame, traffic: np.ndarray,
                 period: tuple[date | None, date | None], total: float,
                 window: float) -> pl.DataFrame:
    """One group of pairs scored with only its subjects' habits (as an executor sees them)."""
    involved = pl.concat([pairs.select(pl.col(f"{s}_type").alias("subject_type"),
                                       pl.col(s).alias("subject")) for s in ("a", "b")])
    mine = habits.join(involved.unique(), on=list(SUBJECT_COLUMNS), how="semi")
    return score_reduced(pairs, mine, traffic, period, total, window)
