"""Co-travel benchmark: our sweep against a DuckDB range self-join of the same definition.

Synthesizes ANPR/cell sightings (subjects driving trips along roads of sensors, busy roads
busier, a daily rush-hour rhythm, convoys travelling together, phones riding in their owners'
cars), writes them to Parquet and reads them lazily as the product does. Every measured run
happens in a fresh process so its peak RSS is its own. Usage::

    python -m bench --only cotravel [--scale 1]        # Markdown section, 10M sightings at 1
    python -m bench.cotravel [--sightings 10000000] [--repeats 3] [--no-duckdb] [--duckdb-repeats 1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench._machine import peak_rss_mb

SENSORS_PER_ROAD = 20
# Commuters: 5 % of subjects, in groups sharing a route and a departure time. They make about a
# fifth of the sightings, near the UK National Travel Survey's share of commuting in car trips
# (15-20 %), and far more than that of the reported pairs: a commuter meets the others of its
# group at the same sensors at the same time of day on many working days, never travelling with
# them.
COMMUTER_SHARE = 0.05
COMMUTER_GROUP = 8
WEEKDAY_OF_DAY0 = 2  # 2024-05-01, the first day, is a Wednesday (Monday = 0)
# DuckDB takes ~12 GB at 10M sightings unbounded; bounded, it spills to its temp directory.
DUCKDB_MEMORY = "6GB"
DAY_US = 86_400 * 10**6

DUCKDB_PAIRS = """
WITH s AS (
    SELECT row_number() OVER () AS id, subject_type, subject, sensor_id,
           epoch_us(seen_at) AS t, epoch_us(seen_at) // $width AS bucket
    FROM read_parquet($path)
), probe AS (
    SELECT *, unnest([bucket - 1, bucket, bucket + 1]) AS near FROM s
), met AS (  -- x's sightings met by y: an equi-join on (sensor, neighbouring bucket)
    SELECT DISTINCT x.id, x.subject_type AS xt, x.subject AS xs, y.subject_type AS yt,
           y.subject AS ys, x.sensor_id, x.t
    FROM probe AS x JOIN s AS y ON y.sensor_id = x.sensor_id AND y.bucket = x.near
    WHERE abs(x.t - y.t) <= $w AND (x.subject_type <> y.subject_type OR x.subject <> y.subject)
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


# ---------------------------------------------------------------------------------------------
# Synthetic sightings


def _trips(rng: np.random.Generator, n_trips: int, n_roads: int, days: int) -> dict[str, Any]:
    """Trip plans: road (Zipf-popular), direction, start, length, start time, hop time."""
    popularity = 1.0 / np.arange(1, n_roads + 1) ** 0.9
    length = rng.integers(2, 9, n_trips)
    hour = np.where(rng.random(n_trips) < 0.5, rng.normal(8, 1.5, n_trips),
                    rng.normal(17, 2.5, n_trips)) % 24
    return {
        "road": rng.choice(n_roads, n_trips, p=popularity / popularity.sum()),
        "reverse": rng.random(n_trips) < 0.5,
        "start": rng.integers(0, SENSORS_PER_ROAD - length + 1),
        "length": length,
        "t0": rng.integers(0, days, n_trips) * DAY_US + (hour * 3600e6).astype(np.int64),
        "hop": rng.integers(60, 300, n_trips) * 10**6,
    }


def _trip_sightings(rng: np.random.Generator, trips: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """(trip, sensor, microseconds) for every sensor passed on every trip."""
    trip = np.repeat(np.arange(len(trips["road"])), trips["length"])
    step = np.arange(len(trip)) - np.repeat(np.cumsum(trips["length"]) - trips["length"],
                                            trips["length"])
    position = trips["start"][trip] + step
    position = np.where(trips["reverse"][trip], SENSORS_PER_ROAD - 1 - position, position)
    sensor = trips["road"][trip] * SENSORS_PER_ROAD + position
    jitter = rng.integers(-20, 21, len(trip)) * 10**6 + rng.integers(0, 10**6, len(trip))
    at = trips["t0"][trip] + step * trips["hop"][trip] + jitter
    return trip, sensor, at


def _followers(rng: np.random.Generator, trip: np.ndarray, sensor: np.ndarray, at: np.ndarray,
               owner: np.ndarray, leaders: dict[int, list[int]]) -> tuple[np.ndarray, ...]:
    """Copies of the leaders' trip sightings for each follower, a few seconds behind."""
    subjects, sensors, times = [], [], []
    for leader, followers in leaders.items():
        mine = owner[trip] == leader
        for k, follower in enumerate(followers):
            n = int(mine.sum())
            subjects.append(np.full(n, follower))
            sensors.append(sensor[mine])
            times.append(at[mine] + (10 + 15 * k) * 10**6 + rng.integers(-5, 6, n) * 10**6)
    if not subjects:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(subjects), np.concatenate(sensors), np.concatenate(times)


def _commutes(rng: np.random.Generator, members: np.ndarray, n_roads: int,
              days: int) -> tuple[np.ndarray, ...]:
    """Commuter groups: each group shares a route and a departure time (out in the morning,
    back in the evening); each member keeps a personal offset (sd 6 min) plus a daily jitter
    (sd 3 min) and drives on 85 % of working days, alone. (subject, sensor, microseconds)."""
    group = np.arange(len(members)) // COMMUTER_GROUP
    n_groups = int(group.max()) + 1 if len(members) else 0
    popularity = 1.0 / np.arange(1, n_roads + 1) ** 0.9
    road = rng.choice(n_roads, n_groups, p=popularity / popularity.sum())
    length = rng.integers(3, 9, n_groups)
    start = rng.integers(0, SENSORS_PER_ROAD - length + 1)
    leave = rng.normal(8, 0.75, n_groups) * 3600e6, rng.normal(17.5, 0.75, n_groups) * 3600e6
    hop = rng.integers(60, 240, n_groups) * 10**6
    offset = rng.normal(0, 360e6, len(members))
    workdays = [d for d in range(days) if (d + WEEKDAY_OF_DAY0) % 7 < 5]
    subjects, sensors, times = [], [], []
    for day in workdays:
        for back in (0, 1):
            drives = np.flatnonzero(rng.random(len(members)) < 0.85)
            g = group[drives]
            steps = np.arange(SENSORS_PER_ROAD)[None, : length.max()]
            on = steps < length[g][:, None]
            pos = start[g][:, None] + steps
            pos = np.where(back, start[g][:, None] + length[g][:, None] - 1 - steps, pos)
            t0 = day * DAY_US + leave[back][g] + offset[drives] + rng.normal(0, 180e6, len(g))
            at = t0[:, None] + steps * hop[g][:, None] + rng.integers(-20, 21, on.shape) * 10**6
            subjects.append(np.broadcast_to(members[drives][:, None], on.shape)[on])
            sensors.append((road[g][:, None] * SENSORS_PER_ROAD + pos)[on])
            times.append(at[on].astype(np.int64))
    if not subjects:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(subjects), np.concatenate(sensors), np.concatenate(times)


def synthesize_sightings(n_sightings: int = 10_000_000, n_subjects: int = 200_000,
                         n_sensors: int = 2_000, days: int = 30, n_convoys: int = 300,
                         seed: int = 7) -> pl.DataFrame:
    """About ``n_sightings`` sightings in the input contract's shape (see module docstring).

    Subjects ``0..n_convoys`` lead convoys; subject ``n_convoys + 3c + f`` is follower ``f`` of
    leader ``c`` (1-3 per leader) on every trip of the leader. The last ``COMMUTER_SHARE`` of
    the subjects commute (see :func:`_commutes`) and make about a fifth of the sightings; the
    others' activity (trips per subject) is gamma-distributed, road popularity Zipf-like,
    start hours peak at 8:00 and 17:00.
    """
    rng = np.random.default_rng(seed)
    n_roads = n_sensors // SENSORS_PER_ROAD
    n_commuters = int(n_subjects * COMMUTER_SHARE)
    c_subject, c_sensor, c_at = _commutes(
        rng, np.arange(n_subjects - n_commuters, n_subjects), n_roads, days)
    # trips pass 5 sensors on average; commuters' sightings are part of the total
    n_trips = max(n_sightings - len(c_subject), n_sightings // 2) // 5
    trips = _trips(rng, n_trips, n_roads, days)
    activity = rng.gamma(2.0, 1.0, n_subjects - n_commuters)
    owner = rng.choice(n_subjects - n_commuters, n_trips, p=activity / activity.sum())
    trip, sensor, at = _trip_sightings(rng, trips)
    leaders = _leaders(np.random.default_rng(seed + 1), n_convoys)
    f_subject, f_sensor, f_at = _followers(rng, trip, sensor, at, owner, leaders)
    subject = np.concatenate([owner[trip], f_subject, c_subject])
    return _as_frame(subject, np.concatenate([sensor, f_sensor, c_sensor]),
                     np.concatenate([at, f_at, c_at]))


def planted_pairs(n_convoys: int = 300, seed: int = 7) -> set[tuple]:
    """The convoy pairs :func:`synthesize_sightings` plants (leader-follower and
    follower-follower), as (type, key, type, key) with the smaller subject first."""
    return _convoy_pairs(_leaders(np.random.default_rng(seed + 1), n_convoys))


def _leaders(rng: np.random.Generator, n_convoys: int) -> dict[int, list[int]]:
    """Leader ``c`` -> its 1-3 followers ``n_convoys + 3c + f``."""
    return {c: [n_convoys + 3 * c + f for f in range(rng.integers(1, 4))]
            for c in range(n_convoys)}


def _convoy_pairs(leaders: dict[int, list[int]]) -> set[tuple]:
    """Every two members of each convoy, as sorted (type, key, type, key) tuples."""
    out = set()
    for leader, followers in leaders.items():
        members = [_key(i) for i in [leader, *followers]]
        out |= {tuple((*min(x, y), *max(x, y))) for k, x in enumerate(members)
                for y in members[k + 1:]}
    return out


def _key(i: int) -> tuple[str, str]:
    """The (subject_type, subject) of integer subject ``i`` (as :func:`_as_frame` names it)."""
    return ("plate", f"PL{i:07d}") if i % 2 == 0 else ("phone", f"+4475{i:08d}")


def _as_frame(subject: np.ndarray, sensor: np.ndarray, at: np.ndarray) -> pl.DataFrame:
    """Integer ids to canonical keys: even subjects are plates, odd ones phones."""
    start = np.datetime64("2024-05-01T00:00:00", "us").astype(np.int64)
    plate = pl.col("i") % 2 == 0
    return pl.DataFrame({"i": subject, "s": sensor, "t": start + at}).select(
        pl.when(plate).then(pl.lit("plate")).otherwise(pl.lit("phone")).alias("subject_type"),
        pl.when(plate).then(pl.lit("PL") + pl.col("i").cast(pl.String).str.zfill(7))
        .otherwise(pl.lit("+4475") + pl.col("i").cast(pl.String).str.zfill(8))
        .alias("subject"),
        (pl.lit("SEN-") + pl.col("s").cast(pl.String).str.zfill(5)).alias("sensor_id"),
        pl.col("t").cast(pl.Datetime("us", "UTC")).alias("seen_at"),
    )


# ---------------------------------------------------------------------------------------------
# Measured jobs, each in a fresh process


def ours_all_pairs(path: str, window: int, min_meetings: int, min_sensors: int) -> list[tuple]:
    """All reported pairs, scored, by :func:`algorithms.cotravel.co_travel_pairs`: the
    contract's figures and the significance, in report order."""
    from algorithms.cotravel import co_travel_pairs

    pairs = co_travel_pairs(pl.scan_parquet(path), window, min_meetings, min_sensors)
    return _as_rows(pairs, "significance")


def ours_definition_only(path: str, window: int, min_meetings: int,
                         min_sensors: int) -> list[tuple]:
    """All reported pairs without the significance (the sweep and the pairs' days and leads
    only): the cost the score adds is the difference."""
    from algorithms import cotravel

    def unscored(sightings: object, pairs: pl.DataFrame, window: float) -> pl.DataFrame:
        return pairs.with_columns(pl.lit(0, pl.Int64).alias("a_reads"),
                                  pl.lit(0, pl.Int64).alias("b_reads"),
                                  pl.lit(0.0).alias("expected_meetings"),
                                  pl.lit(0.0).alias("significance"))

    def unscored_coded(stats: pl.DataFrame, swept: object, window: float) -> pl.DataFrame:
        return unscored(None, stats, window)

    # This job's own process only. All pairs score through _scored (the sweep's codes), one
    # subject through score_pairs: both must be replaced, or the baseline still scores.
    cotravel.score_pairs = unscored
    cotravel._scored = unscored_coded
    pairs = cotravel.co_travel_pairs(pl.scan_parquet(path), window, min_meetings, min_sensors)
    return _as_rows(pairs, "significance")


def ours_one_subject(path: str, window: int, min_meetings: int, min_sensors: int,
                     subject: tuple[str, str]) -> list[tuple]:
    """One subject's reported pairs, scored, by :func:`algorithms.cotravel.co_travel_pairs`."""
    from algorithms.cotravel import co_travel_pairs

    pairs = co_travel_pairs(pl.scan_parquet(path), window, min_meetings, min_sensors,
                            subject=subject)
    return _as_rows(pairs, "significance")


def duckdb_all_pairs(path: str, window: int, min_meetings: int, min_sensors: int) -> set[tuple]:
    """All reported pairs by DuckDB: bucketed range self-join of the same definition."""
    import duckdb

    w = window * 10**6
    con = duckdb.connect(config={"threads": 2, "memory_limit": DUCKDB_MEMORY})
    con.execute("SET enable_progress_bar = false")
    rows = con.execute(
        DUCKDB_PAIRS, {"path": path, "w": w, "width": max(w, 1), "mm": min_meetings,
                       "ms": min_sensors}).fetchall()
    return set(rows)


def _as_rows(pairs: pl.DataFrame, *extra: str) -> list[tuple]:
    """Pairs as (a_type, a, b_type, b, meetings, sensors, first_us, last_us, *extra) tuples,
    in report order."""
    return pairs.select(*PAIR_FIGURES, *extra).with_columns(
        pl.col("first_at", "last_at").dt.epoch("us")).rows()


def _contract(rows: list[tuple] | set[tuple]) -> set[tuple]:
    """The contract's figures of each row (what DuckDB computes)."""
    return {r[:len(PAIR_FIGURES)] for r in rows}


JOBS: dict[str, Callable[..., Any]] = {
    "ours_all_pairs": ours_all_pairs,
    "ours_definition_only": ours_definition_only,
    "ours_one_subject": ours_one_subject,
    "duckdb_all_pairs": duckdb_all_pairs,
}
PAIR_FIGURES = ("a_type", "a", "b_type", "b", "meetings", "distinct_sensors", "first_at",
                "last_at")


def _child(job: str, kwargs: dict, repeats: int, conn: Any) -> None:
    """Run a job ``repeats`` times; send timings, own peak RSS and the last result."""
    seconds, result = [], set()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            result = JOBS[job](**kwargs)
            seconds.append(time.perf_counter() - start)
    except Exception as exc:  # reported to the parent, which raises it
        conn.send({"error": repr(exc)})
        raise
    peak_mb = peak_rss_mb()
    conn.send({"seconds": seconds, "peak_rss_mb": round(peak_mb), "result": result})
    conn.close()


def measure_job(job: str, kwargs: dict, repeats: int) -> dict[str, Any]:
    """Timings (median and all) and peak RSS of a job, run in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(job, kwargs, repeats, send))
    process.start()
    send.close()  # the child's end only: a child that dies makes recv() raise EOFError
    report = receive.recv()
    process.join()
    if "error" in report:
        raise RuntimeError(f"{job} failed in its process: {report['error']}")
    report["median_s"] = round(statistics.median(report["seconds"]), 3)
    report["seconds"] = [round(s, 3) for s in report["seconds"]]
    return report


def run(scale: float = 1.0) -> str:
    """The benchmark at ``scale`` times 10M sightings, as a Markdown section."""
    report = compare(int(10_000_000 * scale))
    ours, one, plain = (report[k] for k in ("ours_all_pairs", "ours_one_subject",
                                            "ours_definition_only"))
    duck = report.get("duckdb_all_pairs", {})
    rank = report["ranking"]
    rows = [
        ("sightings / subjects / sensors", f"{report['sightings']:,} / {report['subjects']:,}"
         f" / {report['sensors']:,}"),
        ("commuters: share of subjects / of sightings",
         f"{COMMUTER_SHARE:.0%} / {report['commuter_sighting_share']:.0%}"),
        ("reported pairs (window 120 s, 3 meetings, 3 sensors)", f"{report['reported_pairs']:,}"),
        ("planted convoy pairs reported / planted",
         f"{rank['planted_reported']:,} / {rank['planted']:,}"),
        ("**average precision, ranked by significance** (target >= 0.9)",
         rank["significance"]["average_precision"]),
        ("average precision, ranked by raw meetings (baseline)",
         rank["meetings"]["average_precision"]),
        ("precision at k = planted pairs, by significance / by meetings",
         f"{rank['significance']['precision_at_k']} / {rank['meetings']['precision_at_k']}"),
        ("**all pairs with scores s** (target <= 1.5x the definition alone)", ours["median_s"]),
        ("all pairs, definition alone (no score) s", plain["median_s"]),
        ("**cost ratio, scored / definition alone** (target <= 1.5)", report["cost_ratio"]),
        ("**all pairs peak RSS MB** (target <= 4096)", f"{ours['peak_rss_mb']:,}"),
        ("DuckDB bucketed range self-join s", duck.get("median_s", "not run")),
        ("DuckDB peak RSS MB", f"{duck['peak_rss_mb']:,}" if duck else "not run"),
        ("results equal to DuckDB's", report.get("results_equal", "not run")),
        ("speed-up vs DuckDB", f"{report.get('speedup_vs_duckdb')}x"),
        ("**one subject with scores s** (target < 1)", one["median_s"]),
        ("one subject's pairs and scores equal its all-pairs rows",
         report["one_subject_equals_all_pairs_rows"]),
    ]
    lines = ["## Co-travel", "",
             "Synthetic ANPR/cell sightings over 30 days (Zipf-popular roads, rush hours, "
             "commuters, convoys); each job in a fresh process (peak RSS its own); ours median "
             f"of 3, DuckDB once. Load average at the start: {report['load_average']}.", "",
             "| measure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def compare(scale_sightings: int = 10_000_000, repeats: int = 3, window: int = 120,
            min_meetings: int = 3, min_sensors: int = 3, with_duckdb: bool = True,
            duckdb_repeats: int = 1, seed: int = 7) -> dict[str, Any]:
    """Synthesize, write Parquet, time ours (scored all pairs, the definition alone, one
    subject) and DuckDB; compare the figures and rank the planted convoys.

    Smaller scales shrink subjects, sensors and convoys in proportion. DuckDB runs
    ``duckdb_repeats`` times (default once: about 4 minutes at 10M sightings).
    """
    sizes = _sizes(scale_sightings)
    frame = synthesize_sightings(scale_sightings, seed=seed, **sizes)
    subject = ("plate", "PL0000000")  # leader of convoy 0
    load = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "sightings.parquet")
        frame.write_parquet(path)
        args = {"path": path, "window": window, "min_meetings": min_meetings,
                "min_sensors": min_sensors}
        ours = measure_job("ours_all_pairs", args, repeats)
        plain = measure_job("ours_definition_only", args, repeats)
        one = measure_job("ours_one_subject", {**args, "subject": subject}, max(repeats, 5))
        duck = measure_job("duckdb_all_pairs", args, duckdb_repeats) if with_duckdb else None
    expected_one = {r for r in ours["result"] if subject in (r[:2], r[2:4])}
    commuters = int(sizes["n_subjects"] * COMMUTER_SHARE)
    report: dict[str, Any] = {
        "sightings": frame.height,
        "subjects": frame.select("subject_type", "subject").n_unique(),
        "sensors": frame.get_column("sensor_id").n_unique(),
        "load_average": load,
        "commuter_sighting_share": round(_share_of(frame, sizes["n_subjects"] - commuters), 3),
        "reported_pairs": len(ours["result"]),
        "ranking": ranking(ours["result"], planted_pairs(sizes["n_convoys"], seed)),
        "ours_all_pairs": _summary(ours),
        "ours_definition_only": _summary(plain),
        "cost_ratio": round(ours["median_s"] / plain["median_s"], 2),
        "ours_one_subject": _summary(one),
        "one_subject_pairs": len(one["result"]),
        "one_subject_equals_all_pairs_rows": _same_rows(_oriented(one["result"], subject),
                                                        expected_one),
        "definition_only_equals_scored": _contract(plain["result"]) == _contract(ours["result"]),
    }
    if duck is not None:
        report["duckdb_all_pairs"] = _summary(duck)
        report["results_equal"] = duck["result"] == _contract(ours["result"])
        report["speedup_vs_duckdb"] = round(duck["median_s"] / ours["median_s"], 2)
    return report


def _sizes(n_sightings: int) -> dict[str, int]:
    """Subjects, sensors and convoys in proportion to the sightings (10M: 200k, 2,000, 300)."""
    ratio = n_sightings / 10_000_000
    return {"n_subjects": max(1_000, round(200_000 * ratio)),
            "n_sensors": max(200, round(2_000 * ratio)),
            "n_convoys": max(10, round(300 * ratio))}


def _share_of(frame: pl.DataFrame, first_commuter: int) -> float:
    """Share of the sightings made by subjects numbered ``first_commuter`` and above."""
    number = pl.col("subject").str.strip_chars_start("PL+4475").cast(pl.Int64)
    return frame.select((number >= first_commuter).mean()).item()


def ranking(rows: list[tuple], planted: set[tuple]) -> dict[str, Any]:
    """Average precision and precision at k (k = planted pairs reported) of the planted pairs
    among the reported ones, ranked by significance (the report order) and by raw meetings."""
    is_planted = np.array([r[:4] in planted for r in rows], dtype=bool)
    significance = np.array([r[-1] for r in rows], dtype=float)
    meetings = np.array([r[4] for r in rows], dtype=float)
    return {"planted": len(planted), "planted_reported": int(is_planted.sum()),
            "significance": _precision(is_planted, significance),
            "meetings": _precision(is_planted, meetings)}


def _precision(is_planted: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Average precision and precision at k of a ranking by ``score`` (descending; ties in
    report order, which favours neither ranking)."""
    order = np.argsort(-score, kind="stable")
    hits = np.cumsum(is_planted[order])
    k = int(is_planted.sum())
    if k == 0:
        return {"average_precision": 0.0, "precision_at_k": 0.0}
    precision = hits / np.arange(1, len(order) + 1)
    return {"average_precision": round(float(precision[is_planted[order]].mean()), 4),
            "precision_at_k": round(float(hits[k - 1] / k), 4)}


def _same_rows(ours: set[tuple], theirs: set[tuple]) -> bool:
    """The same pairs with the same figures, and significances equal to 1e-9 (relative)."""
    left = {r[:-1]: r[-1] for r in ours}
    right = {r[:-1]: r[-1] for r in theirs}
    return left.keys() == right.keys() and all(
        np.isclose(left[k], right[k], rtol=1e-9, atol=1e-12) for k in left)


def _oriented(rows: list[tuple], subject: tuple[str, str]) -> set[tuple]:
    """One subject's rows (subject first) in the all-pairs orientation (smaller key first)."""
    return {r if r[:2] <= r[2:4] else (*r[2:4], *r[:2], *r[4:]) for r in rows}


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its result."""
    return {k: v for k, v in report.items() if k != "result"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument("--duckdb-repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    report = compare(args.sightings, repeats=args.repeats, with_duckdb=not args.no_duckdb,
                     duckdb_repeats=args.duckdb_repeats, seed=args.seed)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
