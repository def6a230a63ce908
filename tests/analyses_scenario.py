"""Shared by the analyses' scenario tests: loading the generated scenario, and independent
evaluations (DuckDB, plain Python) to compare the analyses with."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from loaders.eventstore import scan_events
from loaders.ingest import load_files

WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"


def load_scenario(driver, database: str, scenario_dir: Path, home: Path) -> dict:
    """Every file of the scenario loaded, in its load order, into an emptied graph; the truth."""
    with driver.session(database=database) as session:
        session.run(WIPE).consume()
    truth = json.loads((scenario_dir / "truth.json").read_text("utf-8"))
    for entry in truth["load_order"]:
        profile = scenario_dir / entry["profile"] if entry["profile"] else None
        load_files(driver, database, home, entry["kind"], [scenario_dir / entry["file"]],
                   entry["region"], profile)
    return truth


def subject(member: dict) -> tuple[str, str]:
    """(kind, key) of a truth.json subject."""
    return member["kind"], member["key"]


def truth_pairs(truth: dict) -> set[tuple]:
    """truth.json's reported pairs as {(smaller subject, larger subject, meetings, sensors)}."""
    return {(*sorted([subject(p["a"]), subject(p["b"])]), p["meetings"], p["distinct_sensors"])
            for p in truth["cotravel_pairs"]}


# The contract's definition as a self-join: a's sightings met by b, b's met by a, the smaller
# count; distinct sensors of the meetings.
PAIRS_SQL = """
WITH met AS (
    SELECT x.kind AS xk, x.subject AS xs, y.kind AS yk, y.subject AS ys, x.id, x.sensor
    FROM s x JOIN s y ON x.sensor = y.sensor AND abs(x.t - y.t) <= $w
                     AND (x.kind <> y.kind OR x.subject <> y.subject)
), sides AS (
    SELECT xk, xs, yk, ys, count(DISTINCT id) AS n, count(DISTINCT sensor) AS sensors
    FROM met GROUP BY ALL
)
SELECT a.xk, a.xs, a.yk, a.ys, least(a.n, b.n) AS meetings, a.sensors
FROM sides a JOIN sides b ON a.xk = b.yk AND a.xs = b.ys AND a.yk = b.xk AND a.ys = b.xs
WHERE (a.xk, a.xs) < (a.yk, a.ys)
"""


def brute_force_pairs(home: Path, regions: set[str] | None, min_meetings: int = 3,
                      min_sensors: int = 3, window_s: int = 120) -> set[tuple]:
    """Reported pairs over the sightings whose regions meet ``regions`` (None: all), by SQL."""
    rows = scan_events(home, "sightings").collect()
    keep = [regions is None or bool(set(r) & regions) for r in rows["regions"].to_list()]
    s = rows.filter(pl.Series(keep)).select(
        pl.int_range(pl.len()).alias("id"),
        pl.col("subject_type").replace_strict({"plate": "VEHICLE", "phone": "PHONE"})
        .alias("kind"),
        pl.col("subject"), pl.col("sensor_id").alias("sensor"),
        pl.col("seen_at").dt.epoch("us").alias("t"),
    ).to_arrow()
    con = duckdb.connect()
    con.register("s", s)
    found = con.execute(PAIRS_SQL, {"w": window_s * 1_000_000}).fetchall()
    return {((xk, xs), (yk, ys), m, d) for xk, xs, yk, ys, m, d in found
            if m >= min_meetings and d >= min_sensors}


def event_contacts(home: Path, regions: set[str] | None) -> list[tuple]:
    """(type, u, v, at) of every call and waybill whose regions meet ``regions`` (None: all),
    ends as (kind, key); read straight from the event store."""
    def visible(frame: pl.DataFrame) -> pl.DataFrame:
        keep = [regions is None or bool(set(r) & regions) for r in frame["regions"].to_list()]
        return frame.filter(pl.Series(keep, dtype=pl.Boolean))

    out = []
    for caller, callee, at in visible(scan_events(home, "calls").collect()).select(
            "caller", "callee", "start_time").iter_rows():
        out.append(("CALLED", ("PHONE", caller), ("PHONE", callee), at))
    for wb, sender, receiver, shipped, delivered in visible(
            scan_events(home, "waybills").collect()).select(
            "waybill_no", "sender_phone", "receiver_phone", "shipped_at",
            "delivered_at").iter_rows():
        out.append(("SENT", ("PHONE", sender), ("PARCEL", wb), shipped))
        out.append(("RECEIVED", ("PHONE", receiver), ("PARCEL", wb), delivered or shipped))
    return out


def fewest_hop_routes(contacts: list[tuple], source, target, max_hops: int,
                      gap: timedelta | None) -> dict[tuple, datetime]:
    """Route -> earliest arrival over every time-respecting walk of the fewest hops, found by
    enumerating every walk of up to ``max_hops`` hops (no contact taken straight back)."""
    adjacent: dict = {}
    for k, (kind, u, v, at) in enumerate(contacts):
        adjacent.setdefault(u, []).append((k, v, at, kind))
        adjacent.setdefault(v, []).append((k, u, at, kind))
    best: dict[int, dict[tuple, datetime]] = {}

    def walk(node, route: tuple, last: int | None, last_at: datetime | None) -> None:
        if node == target and route:
            hops = len(route) // 2
            mine = best.setdefault(hops, {})
            mine[(source, *route)] = min(mine.get((source, *route), last_at), last_at)
            return
        if len(route) // 2 == max_hops:
            return
        for k, other, at, kind in adjacent.get(node, ()):
            if last is not None and (k == last or at < last_at
                                     or (gap is not None and at > last_at + gap)):
                continue
            walk(other, (*route, kind, other), k, at)

    walk(source, (), None, None)
    return best[min(best)] if best else {}
