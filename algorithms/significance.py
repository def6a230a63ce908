"""Co-travel significance: how surprising a pair's meetings are if the two travel independently.

The contract's definition (``algorithms.cotravel``) decides *which* pairs are reported; on real
traffic most of them are commuters and rush-hour coincidences on busy roads. This module scores
each reported pair against an explicit null model of independent travel that keeps each
subject's own habits (after Lawlor, Rabbat et al., "Detecting convoys using license plate
recognition data", where background traffic is a per-camera process and a convoy a departure
from it):

* A *cell* is (sensor, weekday or weekend, ``SLOT_S`` slot of the day, in UTC). Counts around
  a cell are read over its slot and ``SMOOTH_SLOTS`` slots either side (15 minutes), so a habit
  at 7:59 explains a meeting at 8:01. Over the scoped sightings' period (first to last calendar
  day), such a smoothed cell's *exposure* is the number of days of its day type times 900 s.
* Subject ``b``'s habit around cell ``c`` is its own sightings there, shrunk toward the
  sensor's traffic share ``pi(c)`` (all subjects' sightings around ``c`` over all sightings)
  with ``k = PRIOR_SIGHTINGS`` pseudo-sightings: ``theta_b(c) = (n_b(c) + k pi(c)) / (N_b + k)``.
  A subject with a long history keeps its own habits; a sparse one looks like the traffic.
* Under the null, ``b`` passes ``c`` as a Poisson process of rate
  ``lambda_b(c) = N_b theta_b(c) / exposure(c)``, uniform within the cell, so each of ``a``'s
  sightings in ``c`` is met by coincidence with probability ``1 - exp(-2 w lambda_b(c))``.
  ``expected(a -> b)`` is the sum of those chances over ``a``'s sightings.
* ``expected_meetings`` is the larger of ``expected(a -> b)`` and ``expected(b -> a)``: the
  pair's meetings are the smaller of the two sides' met sightings, and
  ``P(min >= m) <= P(met_a >= m)`` for either side, so the larger expectation gives a valid,
  conservative and symmetric bound.
* ``significance = -log10 P(X >= meetings)`` with ``X ~ Poisson(expected_meetings)``.

Why Poisson and not the exact Poisson-binomial: each sighting's chance is small (a 2-minute
window against a 15-minute cell, mostly below 0.1), so by Le Cam's inequality the two
distributions differ by at most ``sum p_i^2 <= max p_i * expected`` in total variation; a
Poisson-binomial is smaller than the Poisson of the same mean in the convex order, so the Poisson
tail errs on the side of calling a pair *less* significant; and the Poisson needs only the mean,
which is a sum of per-cell aggregates (group-bys), never a per-sighting list per pair.

Cells where ``b`` has no sighting of its own contribute only their (tiny) prior rate, taken
linearly: ``2 w lambda`` instead of ``1 - exp(-2 w lambda)``, which is never smaller. Their sum
is a per-subject aggregate, so the only per-pair work is at the sensors both subjects passed:
each one's cells there, paired with the other's. That work is done once for both directions:
a pair's shared sensors come from intersecting the two subjects' sensor bitmaps (64 sensors a
word), and at each one the two cell lists are compared as a small matrix; pairs are scored in
chunks, two at a time (numpy releases the GIL).

Everything is a pure function of the pairs' meetings and the sightings in scope: a scope or a
time range changes the traffic, the habits and the period like any other figure.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from algorithms._codes import factorize
from queries.model import CO_TRAVEL_WINDOW_S

__all__ = ["PRIOR_SIGHTINGS", "SLOT_S", "SMOOTH_SLOTS", "cell_of", "poisson_significance",
           "score_coded", "score_habits", "score_pairs"]

SLOT_S = 300  # a cell's time slot: five minutes of the day
SLOTS = 86_400 // SLOT_S
CELLS = 2 * SLOTS  # weekday and weekend slots
# Rates around a sighting are read over its slot and this many slots either side (15 minutes):
# a habit at 7:59 explains a meeting at 8:01.
SMOOTH_SLOTS = 1
PRIOR_SIGHTINGS = 10.0  # pseudo-sightings of the sensor-traffic prior in each subject's habits
PAIR_CHUNK = 100_000  # pairs scored at once (per thread)
_THREADS = min(2, len(os.sched_getaffinity(0)))
_WORD_BITS = 6
_WORD = 1 << _WORD_BITS  # sensors per word of a subject's sensor bitmap
_CELL_BITS = 10  # bits that hold a cell
_BLOCK = 1 << 18  # cell pairs compared at once
# Near-codes: a cell's slot, plus 1000 on weekends, so near cells differ by at most
# SMOOTH_SLOTS or (across midnight) by SLOTS - SMOOTH_SLOTS .. SLOTS - 1; padding is _FAR from
# them all.
_WEEKEND_CODE = 1000
_FAR = 8000
_SIZES = np.ceil(np.log2(np.arange(1, CELLS + 1))).astype(np.uint8)  # exponent of cells 1..
_WORD_TABLE = 1 << 26  # largest subjects x words looked up in a table, not by binary search
_NO_CELLS = (np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0, np.int32),
             np.zeros(0, np.int64))
_SUBJECT = ("subject_type", "subject")
_DAY_US = 86_400 * 10**6
_EPOCH = date(1970, 1, 1)
SCORE_SCHEMA = pl.Schema({"a_reads": pl.Int64, "b_reads": pl.Int64,
                          "expected_meetings": pl.Float64, "significance": pl.Float64})


def score_pairs(sightings: pl.DataFrame | pl.LazyFrame, pairs: pl.DataFrame,
                window: float = CO_TRAVEL_WINDOW_S) -> pl.DataFrame:
    """The pairs with each subject's reads, the expected meetings and the significance.

    Parameters
    ----------
    sightings : polars DataFrame or LazyFrame
        Columns ``subject_type``, ``subject``, ``sensor_id``, ``seen_at`` (Datetime; naive
        values are UTC): exactly the sightings the pairs were computed from (scope, range).
    pairs : polars.DataFrame
        Columns ``a_type``, ``a``, ``b_type``, ``b``, ``meetings`` (any further columns kept).
    window : float, default 120
        The meeting window in seconds.

    Returns
    -------
    polars.DataFrame
        ``pairs`` with ``a_reads``, ``b_reads`` (sightings of each subject), and
        ``expected_meetings``, ``significance`` (see the module docstring), in the same order.

    Notes
    -----
    Group-bys over the ``n`` sightings (cells, subjects' habits, traffic) and one join of the
    ``p`` pairs with the cells their subjects visited: ``O(n + p c)`` for ``c`` cells per
    subject. Symmetric in ``a`` and ``b``.

    Examples
    --------
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
    >>> rows = [("plate", p, f"S{k}", t0 + timedelta(days=d, minutes=10 * k, seconds=s))
    ...         for d in range(5) for k in range(3) for p, s in [("A", 0), ("B", 30)]]
    >>> frame = pl.DataFrame(rows, schema=["subject_type", "subject", "sensor_id", "seen_at"],
    ...                      orient="row")
    >>> pairs = pl.DataFrame({"a_type": ["plate"], "a": ["A"], "b_type": ["plate"], "b": ["B"],
    ...                       "meetings": [15]})
    >>> scored = score_pairs(frame, pairs)
    >>> scored.select("a_reads", "b_reads").row(0), round(scored["expected_meetings"][0], 2)
    ((15, 15), 3.51)
    """
    if pairs.height == 0:
        return pairs.with_columns(pl.lit(None, dtype=t).alias(n) for n, t in SCORE_SCHEMA.items())
    tables = _tables(sightings.lazy(), pairs.with_row_index("_pair"))
    a_reads, b_reads, expected, significance = _score(tables, pairs["meetings"].to_numpy(),
                                                      window)
    return pairs.with_columns(
        pl.Series("a_reads", a_reads), pl.Series("b_reads", b_reads),
        pl.Series("expected_meetings", expected), pl.Series("significance", significance))


def _score(tables: _Tables, meetings: np.ndarray, window: float) -> tuple[np.ndarray, ...]:
    """(a_reads, b_reads, expected_meetings, significance) per pair."""
    n_a, n_b = tables.N[tables.a], tables.N[tables.b]
    expected = np.zeros(len(tables.a))
    # chunks bound the per-pair expansions' memory; numpy releases the GIL in its loops, so
    # chunks on _THREADS threads run on as many cores
    parts = [slice(lo, lo + PAIR_CHUNK) for lo in range(0, len(tables.a), PAIR_CHUNK)]
    with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="significance") as pool:
        done = pool.map(lambda part: _expected(tables, tables.a[part], tables.b[part], window),
                        parts)
        for part, (ab, ba) in zip(parts, done, strict=True):
            expected[part] = np.maximum(ab, ba)
    return (n_a.astype(np.int64), n_b.astype(np.int64), expected,
            poisson_significance(meetings, expected))


def poisson_significance(meetings: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``-log10 P(X >= meetings)`` for ``X ~ Poisson(expected)``, elementwise.

    Computed in logarithms (no underflow: a convoy's tail may be far below 1e-300). Where
    ``meetings`` is above the mean, the tail is summed upward from ``pmf(meetings)``; otherwise
    it is one minus the lower tail summed downward from ``pmf(meetings - 1)``; both series are
    summed until their terms no longer change the sum.

    Examples
    --------
    >>> poisson_significance(np.array([0, 1, 3]), np.array([2.0, 2.0, 0.1])).round(3).tolist()
    [0.0, 0.063, 3.811]
    """
    k = np.asarray(meetings, dtype=np.int64)
    mu = np.maximum(np.asarray(expected, dtype=float), 1e-300)
    out = np.zeros(len(k), dtype=float)
    upper = k > mu
    lower = (k >= 1) & ~upper
    out[upper] = -_log_upper_tail(k[upper], mu[upper]) / math.log(10)
    out[lower] = -np.log1p(-np.exp(_log_lower_tail(k[lower] - 1, mu[lower]))) / math.log(10)
    return np.maximum(out, 0.0)


# ---------------------------------------------------------------------------------------------
# The null model's tables


def _utc(lf: pl.LazyFrame) -> pl.Expr:
    """``seen_at`` in UTC (naive values are UTC)."""
    dtype = lf.collect_schema()["seen_at"]
    if not isinstance(dtype, pl.Datetime):
        raise TypeError(f"seen_at must be a Datetime column, got {dtype}")
    seen = pl.col("seen_at")
    return seen.dt.replace_time_zone("UTC") if dtype.time_zone is None else (
        seen.dt.convert_time_zone("UTC"))


@dataclass(frozen=True)
class _Tables:
    """The null model over integer codes: subjects ``u``, sensors ``s``, cells ``c`` (day type
    and slot: ``weekend * SLOTS + slot``).

    ``a``, ``b``: each pair's subject codes. A *visit* is one (u, s) a subject passed (sorted);
    its cells are kept in a table of its *class*, ``e``, the exponent of its cell count
    rounded up to a power of two: ``codes[e]`` (near-codes, see ``_WEEKEND_CODE``, padded with
    ``_FAR``) and ``counts[e]`` (sightings, padded with 0), one row of width ``2 ** e`` per
    visit of the class; ``place[v]`` is visit ``v``'s row there, times 16, plus ``e``.
    A subject's sensors are a bitmap of 64-sensor *words* (``words`` of them, a power of
    two): one sorted ``word_key = u * words + s // 64`` per word with a sensor,
    ``word_low = s // 64``,
    ``word_bits`` (bit ``s % 64`` per sensor passed) and ``word_visit``, the visit of its
    lowest sensor, so sensor ``s``'s visit is ``word_visit`` plus the bits below ``s``'s;
    subject ``u``'s ``word_count[u]`` words are ``first_word[u]`` onwards; ``word_at`` (when
    not too large) is the word of each ``u * words + s // 64``, or -1. ``N``, ``A``: per
    subject, its sightings and ``sum_c n(c) share(c) / exposure(c)`` (the per-subject half of
    the prior's contribution); ``rate``: per ``s * CELLS + c``, ``share / exposure`` of the
    smoothed cell (``share``: its share of all sightings); ``inverse``: per cell,
    ``1 / exposure`` (its seconds over the period).
    """

    a: np.ndarray
    b: np.ndarray
    codes: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]
    place: np.ndarray
    word_key: np.ndarray
    word_low: np.ndarray
    word_bits: np.ndarray
    word_visit: np.ndarray
    first_word: np.ndarray
    word_count: np.ndarray
    word_at: np.ndarray | None
    N: np.ndarray
    A: np.ndarray
    rate: np.ndarray
    inverse: np.ndarray
    words: int


def _cell(lf: pl.LazyFrame) -> pl.Expr:
    """Each sighting's cell: day type and slot of the day."""
    _utc(lf)  # checks the type; an instant's epoch is the same in every time zone
    micros = pl.col("seen_at").dt.epoch("us")
    day = micros // _DAY_US
    weekend = ((day + 3) % 7 >= 5).cast(pl.Int64)  # 1970-01-01 was a Thursday (Monday = 0)
    return (weekend * SLOTS + (micros - day * _DAY_US) // (SLOT_S * 10**6)).alias("c")


def _tables(lf: pl.LazyFrame, keyed: pl.DataFrame) -> _Tables:
    """Read the sightings for the pairs' subjects (their habits), for all (the total and the
    period) and at the sensors those subjects pass (the traffic there)."""
    involved = pl.concat([keyed.select(pl.col(f"{s}_type").alias("subject_type"),
                                       pl.col(s).alias("subject")) for s in ("a", "b")]).unique()
    seen = _utc(lf)
    sensor = pl.col("sensor_id").cast(pl.String)
    # a cheap one-column prefilter first: a one-subject query keeps a few hundred rows
    near = pl.col("subject").is_in(involved["subject"].unique().implode())
    mine = (lf.filter(near).join(involved.lazy(), on=_SUBJECT, how="semi")
            .select(*_SUBJECT, sensor, _cell(lf)))
    period = lf.select(pl.len().alias("total"), seen.min().alias("first"),
                       seen.max().alias("last"))
    cells, period = pl.collect_all([mine, period])
    subject, subjects = factorize(cells, _SUBJECT)
    s, names = factorize(cells, ("sensor_id",))
    names = names["sensor_id"]
    # the traffic only matters at the sensors the pairs' subjects pass (and in total): counted
    # per (sensor code, cell) as one integer, no string group-by
    coded = sensor.replace_strict(names, np.arange(len(names)), return_dtype=pl.Int64)
    traffic = (lf.filter(sensor.is_in(names.implode()))
               .select((coded * CELLS + _cell(lf)).alias("k")).collect())
    dense = np.bincount(traffic["k"].to_numpy(), minlength=len(names) * CELLS).astype(float)
    codes = subjects.with_row_index("u")
    a, b = (keyed.select(pl.col(f"{side}_type").alias("subject_type"),
                         pl.col(side).alias("subject"))
            .join(codes, on=_SUBJECT, how="left", maintain_order="left")["u"].to_numpy()
            .astype(np.int64) for side in ("a", "b"))
    habits = (subject.astype(np.int64), s.astype(np.int64), cells["c"].to_numpy(), None)
    first, last = (period[end][0] for end in ("first", "last"))
    return _model(habits, len(subjects), dense.reshape(len(names), CELLS),
                  (first.date(), last.date()), a, b,
                  float(period["total"][0]))


def score_coded(subject: np.ndarray, sensor: np.ndarray, micros: np.ndarray, a: np.ndarray,
                b: np.ndarray, meetings: np.ndarray,
                window: float = CO_TRAVEL_WINDOW_S) -> tuple[np.ndarray, ...]:
    """:func:`score_pairs` over integer codes: every sighting in scope as (subject code, sensor
    code, UTC microseconds), pairs as subject codes ``a``, ``b`` with their meetings.

    Returns ``(a_reads, b_reads, expected_meetings, significance)`` arrays in pair order; the
    same numbers as :func:`score_pairs` on the same sightings (the co-travel sweep, which has
    the codes already, calls this instead of reading the sightings again).
    """
    c = _cells(micros)
    n_sensors = int(sensor.max()) + 1 if len(sensor) else 0
    at = sensor.astype(np.int64)
    at *= CELLS
    at += c
    traffic = np.bincount(at, minlength=n_sensors * CELLS).reshape(n_sensors, CELLS)
    del at
    period = tuple(_EPOCH + timedelta(days=int(t) // _DAY_US) for t in (
        micros.min(), micros.max())) if len(micros) else (None, None)
    return _score_habits((subject, sensor, c, None), traffic, period, float(len(micros)), a, b,
                         meetings, window)


def cell_of(micros: np.ndarray) -> np.ndarray:
    """Each instant's cell (UTC microseconds since the epoch): ``weekend * SLOTS + slot``."""
    return _cells(np.asarray(micros)).astype(np.int64)


def _cells(micros: np.ndarray) -> np.ndarray:
    """:func:`cell_of`, in 32 bits when the instants allow (all of history does)."""
    slot = micros // (SLOT_S * 10**6)  # slots since the epoch
    if len(slot) and slot.min() >= -(2**31) and slot.max() < 2**31:
        slot = slot.astype(np.int32)  # the rest in 32 bits: about twice as fast
    day = slot // SLOTS
    slot -= day * SLOTS
    day += 3  # 1970-01-01 was a Thursday (Monday = 0)
    day %= 7
    slot[day >= 5] += SLOTS
    return slot


def score_habits(habits: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                 traffic: np.ndarray, period: tuple[date | None, date | None], total: float,
                 a: np.ndarray, b: np.ndarray, meetings: np.ndarray,
                 window: float = CO_TRAVEL_WINDOW_S) -> tuple[np.ndarray, ...]:
    """The score from aggregates, for engines that count them elsewhere (e.g. on Spark).

    Parameters
    ----------
    habits : tuple of four int arrays
        ``(subject, sensor, cell, count)``: sightings of (at least) the pairs' subjects per
        subject code, sensor code and :func:`cell_of` cell; a key may repeat (counts add up).
    traffic : numpy.ndarray
        Shape ``(sensors, 2 * SLOTS)``: everyone's sightings in scope per sensor code and cell,
        at least at the sensors in ``habits``.
    period : (date, date)
        The first and last calendar day (UTC) of the sightings in scope.
    total : float
        All sightings in scope.
    a, b, meetings : int arrays
        The pairs as subject codes, with their meetings.

    Returns
    -------
    tuple of numpy arrays
        ``(a_reads, b_reads, expected_meetings, significance)`` in pair order, the same
        numbers as :func:`score_pairs` over the sightings these aggregates count.
    """
    return _score_habits(habits, traffic, period, total, a, b, meetings, window)


def _score_habits(habits: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
                  traffic: np.ndarray, period: tuple[date | None, date | None], total: float,
                  a: np.ndarray, b: np.ndarray, meetings: np.ndarray,
                  window: float) -> tuple[np.ndarray, ...]:
    """:func:`score_habits`; a count of None is one sighting per habit row."""
    u, s, c = (np.asarray(x) for x in habits[:3])
    count = None if habits[3] is None else np.asarray(habits[3], dtype=np.int64)
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    n_subjects = max((int(x.max()) + 1 for x in (u, a, b) if len(x)), default=0)
    tables = _model((u, s, c, count), n_subjects, np.asarray(traffic, dtype=float), period, a,
                    b, total)
    return _score(tables, np.asarray(meetings), window)


def _model(habits: tuple[np.ndarray, ...], n_subjects: int, traffic: np.ndarray,
           period: tuple[date | None, date | None], a: np.ndarray, b: np.ndarray,
           total: float) -> _Tables:
    """The tables of the null model: ``habits`` are (subject, sensor, cell, count or None for
    one sighting each) of the pairs' subjects' sightings, ``traffic`` the sightings per
    (sensor, cell) of everyone at the sensors those subjects pass, ``total`` all sightings in
    scope."""
    u, s, c, count = habits
    n_sensors = max(traffic.size // CELLS, 1)
    share, exposure = _traffic(traffic.reshape(-1, 2, SLOTS), period, total)
    rate = (share / exposure).ravel()
    sensor_bits = max(int(n_sensors - 1).bit_length(), _WORD_BITS)
    if int(n_subjects).bit_length() + sensor_bits + _CELL_BITS > 63:
        raise ValueError(f"too many subjects ({n_subjects:,}) and sensors ({n_sensors:,}) to "
                         "score at once")
    key = u.astype(np.int64)  # (u, s, c) in bit fields: the parts are shifts and masks
    key <<= sensor_bits
    key |= s
    key <<= _CELL_BITS
    key |= c
    key, n = _counted(key, count)
    code = (key & ((1 << _CELL_BITS) - 1)).astype(np.int16)
    code[code >= SLOTS] += _WEEKEND_CODE - SLOTS
    key >>= _CELL_BITS  # each habit's visit, (u, s)
    first_cell = _starts(key)
    cells = np.diff(first_cell, append=len(key))
    words = 1 << (sensor_bits - _WORD_BITS)
    word_key, word_bits, word_visit = _words(key[first_cell])
    word_count = np.bincount(word_key >> (sensor_bits - _WORD_BITS), minlength=n_subjects)
    codes, counts, place = _classes(code, n, first_cell, cells)
    at = s.astype(np.int64)  # each sighting's rate, summed per subject: A
    at *= CELLS
    at += c
    return _Tables(
        a, b, codes, counts, place, word_key, word_key & (words - 1), word_bits, word_visit,
        np.r_[0, np.cumsum(word_count)[:-1]], word_count, _word_at(word_key, n_subjects, words),
        np.bincount(u, count, n_subjects).astype(float),
        np.bincount(u, rate[at] if count is None else rate[at] * count, n_subjects), rate,
        1.0 / exposure, words)


def _classes(code: np.ndarray, n: np.ndarray, first_cell: np.ndarray,
             cells: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...],
                                         np.ndarray]:
    """Each visit's cells as a padded row of its class's tables: (codes, counts, place)."""
    size = _SIZES[cells - 1]
    by_class = np.argsort(size, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(size, minlength=1))]
    place = np.empty(len(cells), dtype=np.int64)
    codes, counts = [], []
    for e in range(len(bounds) - 1):
        visits = by_class[bounds[e]:bounds[e + 1]]
        place[visits] = np.arange(len(visits)) * 16 + e
        if e == 0:  # one cell each
            codes.append(code[first_cell[visits]][:, None])
            counts.append(n[first_cell[visits]].astype(np.int32)[:, None])
            continue
        row, habit = _expand(first_cell[visits], cells[visits])
        at = (row << e) + (habit - first_cell[visits][row])
        codes.append(np.full((len(visits), 1 << e), _FAR, dtype=np.int16))
        counts.append(np.zeros((len(visits), 1 << e), dtype=np.int32))
        codes[-1].ravel()[at] = code[habit]
        counts[-1].ravel()[at] = n[habit]
    return tuple(codes), tuple(counts), place


def _word_at(word_key: np.ndarray, n_subjects: int, words: int) -> np.ndarray | None:
    """The word of each ``u * words + s // 64`` (-1: none), or None when that table would
    take more than ``_WORD_TABLE`` entries (the words are then found by binary search)."""
    if n_subjects * words > _WORD_TABLE:
        return None
    at = np.full(n_subjects * words, -1, dtype=np.int32 if len(word_key) < 2**31 else np.int64)
    at[word_key] = np.arange(len(word_key))
    return at


def _starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array starts."""
    change = np.empty(len(values), dtype=bool)
    change[:1] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    return np.flatnonzero(change)


def _words(visit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The subjects' sensor bitmaps from their visits (sorted ``(u, s)`` bit fields): key,
    bits and first visit of each word with a sensor."""
    key = visit >> _WORD_BITS
    first = _starts(key)
    bit = np.left_shift(np.uint64(1), (visit & (_WORD - 1)).astype(np.uint64))
    bits = np.bitwise_or.reduceat(bit, first) if len(first) else bit
    return key[first], bits, first


def _counted(values: np.ndarray,
             weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (sorted) and how often each occurs, or the sum of its ``weights`` (a
    value sort, no hashing). Sorts ``values`` in place."""
    if weights is None:
        values.sort()
    else:
        order = np.argsort(values, kind="stable")
        values, weights = values[order], weights[order]
    starts = _starts(values)
    if weights is None:
        return values[starts], np.diff(starts, append=len(values))
    return values[starts], np.add.reduceat(weights, starts) if len(values) else weights


def _traffic(dense: np.ndarray, period: tuple[date | None, date | None],
             total: float) -> tuple[np.ndarray, np.ndarray]:
    """Per (sensor, cell), smoothed over neighbouring slots, the share of all ``total``
    sightings; per cell, the seconds the smoothed cell spans over the period's calendar
    days."""
    n_sensors = dense.shape[0]
    smoothed = _smooth(dense) / max(total, 1.0)
    first, last = period
    weekdays = weekend = 0
    if isinstance(first, date) and isinstance(last, date):
        weekdays = int(np.busday_count(first, last + timedelta(days=1)))
        weekend = (last - first).days + 1 - weekdays
    span = float((2 * SMOOTH_SLOTS + 1) * SLOT_S)
    exposure = np.repeat(np.array([weekdays, weekend], float) * span, SLOTS)
    # a day type absent from the period has no sighting either: any positive exposure will do
    exposure = np.where(exposure > 0, exposure, span)
    return smoothed.reshape(n_sensors, CELLS), exposure


def _smooth(dense: np.ndarray) -> np.ndarray:
    """Sum over each slot (last axis) and its ``SMOOTH_SLOTS`` neighbours; the day wraps."""
    return sum(np.roll(dense, k, axis=-1) for k in range(-SMOOTH_SLOTS, SMOOTH_SLOTS + 1))


# ---------------------------------------------------------------------------------------------
# Expected meetings per pair


def _expected(tables: _Tables, a: np.ndarray, b: np.ndarray,
              window: float) -> tuple[np.ndarray, np.ndarray]:
    """(expected(a -> b), expected(b -> a)) per pair: a's sightings met by chance by b, and
    b's by a.

    With ``z_y = 2 w N_y / (N_y + k)``, a cell of x's with ``n`` sightings where y has
    ``other`` around it adds ``n (1 - exp(-z_y (other / exposure + k rate)))``; the prior's
    linear part ``n z_y k rate`` is summed per subject (``A``) for all of x's cells, so the
    cells y has sightings around add the difference. Those are found once for both
    directions, at the sensors both passed.
    """
    k = PRIOR_SIGHTINGS
    n_a, n_b = tables.N[a], tables.N[b]
    z_a, z_b = (2.0 * window * n / (n + k) for n in (n_a, n_b))
    pair, base, pa, pb = _shared_visits(tables, a, b)
    side_a, side_b = _met_cells(tables, pa, pb)
    return (k * z_b * tables.A[a] + _excess(tables, side_a, pair, base, z_b),
            k * z_a * tables.A[b] + _excess(tables, side_b, pair, base, z_a))


def _excess(tables: _Tables, side: tuple[np.ndarray, ...], pair: np.ndarray, base: np.ndarray,
            z: np.ndarray) -> np.ndarray:
    """Per pair, over x's cells that y has sightings around (``side``: shared row, near-code,
    own sightings, y's sightings around), the chance of a coincidental meeting from y's own
    rate less the prior's linear part already counted."""
    row, code, own, other = side
    to = pair[row]
    cell = np.where(code >= _WEEKEND_CODE, code - (_WEEKEND_CODE - SLOTS), code)
    prior = PRIOR_SIGHTINGS * tables.rate[base[row] + cell]
    zy = z[to]
    x = other * tables.inverse[cell]
    x += prior
    x *= zy
    chance = -np.expm1(-x)
    chance -= zy * prior
    chance *= own
    return np.bincount(to, chance, minlength=len(z))


def _shared_visits(tables: _Tables, a: np.ndarray,
                   b: np.ndarray) -> tuple[np.ndarray, ...]:
    """(pair, sensor * CELLS, a's visit's place, b's) for every sensor both ``a[pair]`` and
    ``b[pair]`` passed.

    The words of the subject with fewer of them are looked up among the other's (in
    ``word_at``, or by binary search of the sorted word keys) and the two bitmaps
    intersected: 64 sensors at a time.
    """
    key, bits = tables.word_key, tables.word_bits
    count_a, count_b = tables.word_count[a], tables.word_count[b]
    swap = count_a > count_b
    x, y = np.where(swap, b, a), np.where(swap, a, b)
    pair, mine = _expand(tables.first_word[x], np.minimum(count_a, count_b))
    if len(key) == 0 or len(mine) == 0:
        return (np.zeros(0, np.int64),) * 4
    low = tables.word_low[mine]
    probe = y[pair] * tables.words + low
    if tables.word_at is not None:
        theirs = tables.word_at[probe]
        both = bits[mine] & bits[theirs]
        both[theirs < 0] = 0
    else:
        theirs = np.searchsorted(key, probe)
        np.minimum(theirs, len(key) - 1, out=theirs)
        both = bits[mine] & bits[theirs]
        both[key[theirs] != probe] = 0
    hit = np.flatnonzero(both)
    row, bit = _set_bits(both[hit])
    hit = hit[row]
    pair, mine, theirs = pair[hit], mine[hit], theirs[hit]
    bit -= np.uint64(1)  # the bits below the sensor's
    base = (low[hit] * _WORD + np.bitwise_count(bit)) * CELLS
    vx = tables.place[tables.word_visit[mine] + np.bitwise_count(bits[mine] & bit)]
    vy = tables.place[tables.word_visit[theirs] + np.bitwise_count(bits[theirs] & bit)]
    flip = swap[pair]
    return pair, base, np.where(flip, vy, vx), np.where(flip, vx, vy)


def _set_bits(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per set bit of each word: (the word's index, the bit alone as a word)."""
    index = np.arange(len(words))
    rows, lows = [index[:0]], [words[:0]]
    while len(words):
        low = words & (~words + np.uint64(1))
        rows.append(index)
        lows.append(low)
        words = words ^ low
        left = np.flatnonzero(words)
        words, index = words[left], index[left]
    return np.concatenate(rows), np.concatenate(lows)


def _met_cells(tables: _Tables, pa: np.ndarray,
               pb: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """For a's and for b's side of each shared visit (``pa``, ``pb``: their places): (row,
    near-code, own sightings, the other's sightings in the smoothed cell around it) for
    every cell of its own that the other has sightings around.

    Each visit's cells are compared with the other visit's all at once, as a small matrix:
    rows are grouped by their two visits' classes and a group's rows compared in blocks of
    about ``_BLOCK`` cell pairs.
    """
    shape = (pa & 15).astype(np.uint8) * np.uint8(16) + (pb & 15).astype(np.uint8)
    order = np.argsort(shape, kind="stable")
    bounds = np.append(_starts(shape[order]), len(order))
    sa, sb = pa >> 4, pb >> 4
    sides: tuple[list, list] = ([], [])
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        ea, eb = divmod(int(shape[order[lo]]), 16)
        step = max(1, _BLOCK >> (ea + eb))
        for start in range(lo, hi, step):
            rows = order[start:min(start + step, hi)]
            for side, met in zip(sides, _compare(tables, sa[rows], sb[rows], ea, eb),
                                 strict=True):
                side.append((rows[met[0]], *met[1:]))
    return tuple(tuple(np.concatenate(column) for column in zip(*side, strict=True))
                 if side else _NO_CELLS for side in sides)


def _compare(tables: _Tables, sa: np.ndarray, sb: np.ndarray, ea: int,
             eb: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """For visits at rows ``sa`` of class ``ea`` and ``sb`` of class ``eb``: (row, near-code,
    own sightings, other's sightings around it) of a's and of b's cells that the other has
    sightings around."""
    if ea == eb == 0:  # most visits: one cell each
        code_a, code_b = tables.codes[0].ravel()[sa], tables.codes[0].ravel()[sb]
        row = np.flatnonzero(_near(code_a, code_b))
        n_a, n_b = tables.counts[0].ravel()[sa[row]], tables.counts[0].ravel()[sb[row]]
        return (row, code_a[row], n_a, n_b), (row, code_b[row], n_b, n_a)
    code_a, n_a = tables.codes[ea][sa], tables.counts[ea][sa]
    code_b, n_b = tables.codes[eb][sb], tables.counts[eb][sb]
    # padding is _FAR: near padding only, whose sightings are 0
    near = _near(code_a[:, :, None], code_b[:, None, :]).view(np.int8)
    other_a = np.einsum("rab,rb->ra", near, n_b).ravel()
    other_b = np.einsum("rab,ra->rb", near, n_a).ravel()
    met_a, met_b = np.flatnonzero(other_a), np.flatnonzero(other_b)
    return ((met_a >> ea, code_a.ravel()[met_a], n_a.ravel()[met_a], other_a[met_a]),
            (met_b >> eb, code_b.ravel()[met_b], n_b.ravel()[met_b], other_b[met_b]))


def _near(code_a: np.ndarray, code_b: np.ndarray) -> np.ndarray:
    """Whether cells are within ``SMOOTH_SLOTS`` slots of each other on the same day type
    (the day wraps at midnight), by their near-codes."""
    gap = np.abs(code_a - code_b)
    return (gap <= SMOOTH_SLOTS) | ((gap >= SLOTS - SMOOTH_SLOTS) & (gap < SLOTS))


def _expand(first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each k, the indices first[k] .. first[k] + count[k] - 1: (k, index) pairs."""
    k = np.repeat(np.arange(len(first), dtype=np.int32), count)
    steps = np.arange(len(k)) - np.repeat(np.cumsum(count) - count, count)
    return k, np.repeat(first, count) + steps


# ---------------------------------------------------------------------------------------------
# Poisson tails in logarithms


def _log_factorial(k: np.ndarray) -> np.ndarray:
    """ln k! elementwise."""
    values, index = np.unique(k, return_inverse=True)
    return np.array([math.lgamma(v + 1.0) for v in values.tolist()])[index]


def _log_pmf(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """ln P(X = k)."""
    return k * np.log(mu) - mu - _log_factorial(k)


def _log_upper_tail(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """ln P(X >= k) for k > mu: pmf(k) * sum_m prod_{i<=m} mu / (k + i)."""
    total = np.ones(len(k))
    term = np.ones(len(k))
    active = np.arange(len(k))
    m = 0
    while len(active):
        m += 1
        term[active] *= mu[active] / (k[active] + m)
        total[active] += term[active]
        active = active[term[active] > 1e-17 * total[active]]
    return _log_pmf(k, mu) + np.log(total)


def _log_lower_tail(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """ln P(X <= k) for 0 <= k <= mu: pmf(k) * sum_m prod_{i<m} (k - i) / mu."""
    total = np.ones(len(k))
    term = np.ones(len(k))
    active = np.arange(len(k))
    m = 0
    while len(active):
        term[active] *= np.maximum(k[active] - m, 0) / mu[active]
        m += 1
        total[active] += term[active]
        active = active[(term[active] > 1e-17 * total[active]) & (k[active] - m >= 0)]
    return np.minimum(_log_pmf(k, mu) + np.log(total), 0.0)
