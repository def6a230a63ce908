"""Planted co-travel checked by brute force (duckdb) on the independently loaded sightings,
and its significance against the commuters and near misses of the same scenario."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from algorithms.cotravel import co_travel_pairs
from tests.scenario_check import replay

PAIRS_SQL = """
WITH met AS (
    SELECT a.k AS who, b.k AS other, a.id AS sighting, a.sensor
    FROM s a JOIN s b ON a.sensor = b.sensor AND a.k <> b.k AND abs(a.t - b.t) <= 120
), sides AS (
    SELECT least(who, other) AS a, greatest(who, other) AS b, who,
           count(DISTINCT sighting) AS n
    FROM met GROUP BY ALL
), pairs AS (
    SELECT a, b, CASE WHEN count(*) = 2 THEN min(n) ELSE 0 END AS meetings
    FROM sides GROUP BY a, b
), places AS (
    SELECT least(who, other) AS a, greatest(who, other) AS b,
           count(DISTINCT sensor) AS distinct_sensors
    FROM met GROUP BY ALL
)
SELECT a, b, meetings, distinct_sensors FROM pairs JOIN places USING (a, b)
"""


def _key(member: dict) -> str:
    return ("plate:" if member["kind"] == "VEHICLE" else "phone:") + member["key"]


def _stats(sightings: list[tuple], regions: set[str] | None = None) -> dict:
    rows = [(i, f"{kind}:{subject}", sensor, t)
            for i, (region, kind, subject, sensor, t) in enumerate(sightings)
            if regions is None or region in regions]
    s = pa.table(dict(zip(["id", "k", "sensor", "t"], map(list, zip(*rows, strict=True)),
                          strict=True)))
    con = duckdb.connect()
    con.register("s", s)
    return {(a, b): (m, d) for a, b, m, d in con.execute(PAIRS_SQL).fetchall()}


def _pair(stats: dict, x: str, y: str) -> tuple[int, int]:
    return stats.get((min(x, y), max(x, y)), (0, 0))


def _qualifies(m: int, d: int) -> bool:
    return m >= 3 and d >= 3


@pytest.fixture(scope="module")
def world(scenario_dir: Path):
    truth = json.loads((scenario_dir / "truth.json").read_text("utf-8"))
    sightings = replay(scenario_dir).sightings
    return truth, sightings, _stats(sightings)


def test_every_planted_group_pair_qualifies(world):
    truth, _, stats = world
    assert len(truth["cotravel_groups"]) >= 4
    for group in truth["cotravel_groups"]:
        assert 2 <= len(group["members"]) <= 4
        for x, y in combinations([_key(m) for m in group["members"]], 2):
            meetings, distinct = _pair(stats, x, y)
            assert _qualifies(meetings, distinct), (group["source"], x, y)
            assert meetings >= group["min_meetings"]


def test_no_near_miss_qualifies_and_each_misses_as_described(world):
    truth, _, stats = world
    kinds = set()
    for miss in truth["near_misses"]:
        meetings, distinct = _pair(stats, *[_key(m) for m in miss["members"]])
        assert not _qualifies(meetings, distinct)
        assert (meetings, distinct) == (miss["meetings"], miss["distinct_sensors"])
        if miss["kind"] == "two_sensors":
            assert meetings >= 3 and distinct == 2
        else:
            assert meetings == 0
        kinds.add(miss["kind"])
    assert kinds == {"two_sensors", "too_far_apart"}


def test_too_far_apart_pairs_pass_three_to_five_minutes_apart(world):
    truth, sightings, _ = world
    for miss in (m for m in truth["near_misses"] if m["kind"] == "too_far_apart"):
        a, b = ([(s[3], s[4]) for s in sightings if f"{s[1]}:{s[2]}" == _key(m)]
                for m in miss["members"])
        gaps = [min(abs(t - u) for sensor_b, u in b if sensor_b == sensor)
                for sensor, t in a if any(sb == sensor for sb, _ in b)]
        assert gaps and all(gap >= 180 for gap in gaps)
        assert sum(gap <= 300 for gap in gaps) >= 3


def test_cross_region_pair_only_adds_up_across_regions(world):
    truth, sightings, stats = world
    pair = truth["cross_region_pair"]
    x, y = (_key(m) for m in pair["members"])
    assert _qualifies(*_pair(stats, x, y))
    assert _pair(stats, x, y)[0] == pair["meetings_total"]
    for region in pair["regions"]:
        alone = _pair(_stats(sightings, {region}), x, y)
        assert not _qualifies(*alone)
        assert alone[0] == pair["meetings_per_region"][region]["meetings"]


def test_truth_lists_exactly_the_pairs_reported_under_the_defaults(world):
    truth, _, stats = world
    expected = {(a, b, m, d) for (a, b), (m, d) in stats.items() if _qualifies(m, d)}
    stated = {(min(_key(p["a"]), _key(p["b"])), max(_key(p["a"]), _key(p["b"])),
               p["meetings"], p["distinct_sensors"]) for p in truth["cotravel_pairs"]}
    assert stated == expected


def test_commuters_meet_by_chance_and_truth_says_which_qualify(world):
    truth, _, stats = world
    commuters = [_key(m) for m in truth["commuters"]["members"]]
    meeting = [(x, y) for x, y in combinations(commuters, 2) if _pair(stats, x, y)[0] > 0]
    qualifying = {tuple(sorted((x, y))) for x, y in combinations(commuters, 2)
                  if _qualifies(*_pair(stats, x, y))}
    stated = {tuple(sorted(_key(m) for m in p)) for p in truth["commuters"]["qualifying_pairs"]}
    assert meeting  # a busy road: they do meet
    assert qualifying == stated


def _scored_pairs(sightings: list[tuple], min_meetings: int, min_sensors: int) -> dict:
    """{frozenset of the two subject keys: significance} by algorithms.cotravel."""
    frame = pl.DataFrame(
        [(kind, subject, sensor, datetime.fromtimestamp(t, UTC))
         for _, kind, subject, sensor, t in sightings],
        schema={"subject_type": pl.String, "subject": pl.String, "sensor_id": pl.String,
                "seen_at": pl.Datetime("us", "UTC")}, orient="row")
    pairs = co_travel_pairs(frame, 120, min_meetings, min_sensors)
    return {frozenset([f"{r['a_type']}:{r['a']}", f"{r['b_type']}:{r['b']}"]): r["significance"]
            for r in pairs.iter_rows(named=True)}


def test_every_planted_pair_scores_above_every_commuter_pair_and_near_miss(world):
    """Thresholds lowered to two meetings at two sensors, so the near misses that meet pass
    them; every commuter pair that meets at all is compared."""
    truth, sightings, _ = world
    scored = _scored_pairs(sightings, 2, 2)
    planted = {frozenset(_key(m) for m in pair) for group in truth["cotravel_groups"]
               for pair in combinations(group["members"], 2)}
    commuters = {frozenset(pair) for pair in
                 combinations([_key(m) for m in truth["commuters"]["members"]], 2)}
    misses = {frozenset(_key(m) for m in miss["members"]) for miss in truth["near_misses"]}
    background = [scored[p] for p in (commuters | misses) if p in scored]
    assert planted <= scored.keys()
    assert len([p for p in commuters if p in scored]) >= 3
    assert any(p in scored for p in misses)
    assert min(scored[p] for p in planted) > max(background)


def test_ranking_by_significance_puts_the_planted_pairs_first(world):
    """Among the pairs the defaults report, every planted pair (groups and the cross-region
    pair) ranks above every other pair."""
    truth, sightings, _ = world
    scored = _scored_pairs(sightings, 3, 3)
    planted = {frozenset(_key(m) for m in pair) for group in truth["cotravel_groups"]
               for pair in combinations(group["members"], 2)}
    planted.add(frozenset(_key(m) for m in truth["cross_region_pair"]["members"]))
    others = [s for p, s in scored.items() if p not in planted]
    assert others and min(scored[p] for p in planted) > max(others)
