"""Which co-travel patterns are planted where, and what the truth file says about them.

Everything stated here is computed from the planted sightings with the contract's definition
(``cotravel.pair_stats``); the generator refuses to write a scenario whose planted groups do
not qualify or whose near misses do.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl

from fusion.scenario import travel
from fusion.scenario.cotravel import pair_stats, qualifies
from fusion.scenario.planted import Gang, Reserve
from fusion.scenario.population import World
from fusion.scenario.travel import Planner, Subject
from queries.model import CO_TRAVEL_WINDOW_S

# (first stop, stops) of each commuter on the busy road: overlapping stretches of 3 to 6 of its
# sensors, so that commuters pass three or more sensors in common every working morning and
# some of their pairs meet often enough to be reported, without ever travelling together.
COMMUTER_SEGMENTS = ((0, 4), (1, 4), (2, 4), (0, 6), (1, 5), (0, 3), (2, 3), (1, 3))


def _plates(world: World, reserve: Reserve, region: int, n: int) -> list[Subject]:
    return [Subject("plate", world.vehicle_of(p)) for p in reserve.take(region, n)]


def _phones(world: World, reserve: Reserve, region: int, n: int) -> list[Subject]:
    return [Subject("phone", world.phones_of(p)[0]) for p in reserve.take(region, n)]


def plant_travel(world: World, reserve: Reserve, planner: Planner) -> dict:
    """Plant the co-travel groups, near misses, commuters and the cross-region pair."""
    mixed_owner = reserve.take(0)[0]
    groups = [
        (0, _plates(world, reserve, 0, 2)),
        (1, _phones(world, reserve, 1, 3)),
        (2, _plates(world, reserve, 2, 4)),
        (0, [Subject("plate", world.vehicle_of(mixed_owner)),
             Subject("phone", world.phones_of(mixed_owner)[0])]
         + _phones(world, reserve, 0, 1)),
    ]
    for region, members in groups:
        planner.convoy(region, members, trips=3)
    misses = [("two_sensors", 0, _plates(world, reserve, 0, 2)),
              ("two_sensors", 1, _phones(world, reserve, 1, 2)),
              ("too_far_apart", 2, _plates(world, reserve, 2, 2)),
              ("too_far_apart", 0, _phones(world, reserve, 0, 2))]
    for kind, region, pair in misses:
        plant = (travel.near_miss_two_sensors if kind == "two_sensors"
                 else travel.near_miss_too_far_apart)
        plant(planner, region, pair)
    commuters = _plates(world, reserve, 0, len(COMMUTER_SEGMENTS))
    for subject, (enter, length) in zip(commuters, COMMUTER_SEGMENTS, strict=True):
        travel.commute(planner, 0, subject, enter, length)
    cross = [_plates(world, reserve, 0, 1)[0], _plates(world, reserve, 1, 1)[0]]
    for region in (0, 1):
        travel.cross_region_leg(planner, region, cross)
    for region, subjects in [(r, m) for r, m in groups] + [(r, p) for _, r, p in misses]:
        for subject in subjects:
            planner.solo(region, subject, 2)
    return {"groups": groups, "misses": misses, "commuters": commuters, "cross": cross}


class TravelTruth:
    """Exact pair statistics of the planted sightings, overall and per region."""

    def __init__(self, world: World, sightings: pl.DataFrame):
        self.world = world
        self.sightings = sightings.with_columns(code=pl.when(pl.col("subject_type") == "phone")
                                                .then(pl.col("ix") + travel.PHONE_CODE_BASE)
                                                .otherwise(pl.col("ix")))
        self._all = self._stats(self.sightings)

    @staticmethod
    def _stats(frame: pl.DataFrame) -> dict[tuple[int, int], tuple[int, int]]:
        stats = pair_stats(frame["code"].to_numpy(), frame["sensor_ix"].to_numpy(),
                           frame["seen_at"].to_numpy(), CO_TRAVEL_WINDOW_S)
        return {(a, b): (m, d) for a, b, m, d in stats.iter_rows()}

    def pair(self, a: Subject, b: Subject, region: int | None = None) -> tuple[int, int]:
        """(meetings, distinct_sensors) of a pair, over all regions or one."""
        stats = self._all if region is None else self._stats(
            self.sightings.filter(pl.col("region") == region))
        return stats.get((min(a.code, b.code), max(a.code, b.code)), (0, 0))

    def key(self, s: Subject) -> dict:
        """The truth-file form of a subject."""
        if s.kind == "plate":
            return {"kind": "VEHICLE", "key": self.world.vehicles["plate"][s.ix]}
        return {"kind": "PHONE", "key": self.world.phones["phone"][s.ix]}

    def sensors_of(self, subjects: list[Subject]) -> list[str]:
        """Sensor ids where every one of ``subjects`` was sighted."""
        codes = [s.code for s in subjects]
        seen = (self.sightings.filter(pl.col("code").is_in(codes))
                .group_by("sensor_ix").agg(pl.col("code").n_unique().alias("n"))
                .filter(pl.col("n") == len(codes)))
        ids = self.world.sensors["sensor_id"]
        return sorted(ids[i] for i in seen["sensor_ix"].to_list())

    def group(self, members: list[Subject], region: int, source: str) -> dict:
        """Truth entry of a planted group; raises if any pair does not qualify."""
        stats = [self.pair(a, b) for a, b in combinations(members, 2)]
        if not all(qualifies(m, d) for m, d in stats):
            raise RuntimeError(f"planted co-travel group {source} does not qualify: {stats}")
        return {"members": [self.key(s) for s in members], "source": source,
                "region": self.world.regions[region].code, "sensors": self.sensors_of(members),
                "min_meetings": min(m for m, _ in stats),
                "min_distinct_sensors": min(d for _, d in stats)}

    def near_miss(self, kind: str, pair: list[Subject], region: int) -> dict:
        """Truth entry of a near miss; raises if it qualifies after all."""
        meetings, distinct = self.pair(*pair)
        if qualifies(meetings, distinct):
            raise RuntimeError(f"near miss {kind} qualifies: {meetings}, {distinct}")
        return {"kind": kind, "members": [self.key(s) for s in pair],
                "region": self.world.regions[region].code, "meetings": meetings,
                "distinct_sensors": distinct}

    def commuters(self, subjects: list[Subject]) -> dict:
        """Commuters and, computed, which of their pairs qualify by chance."""
        pairs = []
        for a, b in combinations(subjects, 2):
            meetings, distinct = self.pair(a, b)
            if meetings:
                pairs.append({"members": [self.key(a), self.key(b)], "meetings": meetings,
                              "distinct_sensors": distinct,
                              "qualifies": qualifies(meetings, distinct)})
        return {"members": [self.key(s) for s in subjects], "meeting_pairs": pairs,
                "qualifying_pairs": [p["members"] for p in pairs if p["qualifies"]]}

    def cross_pair(self, pair: list[Subject], regions: tuple[int, int]) -> dict:
        """The pair whose meetings only qualify across both regions."""
        per_region = {}
        for r in regions:
            meetings, distinct = self.pair(*pair, region=r)
            if qualifies(meetings, distinct):
                raise RuntimeError("cross-region pair qualifies inside one region")
            per_region[self.world.regions[r].code] = {"meetings": meetings,
                                                      "distinct_sensors": distinct}
        meetings, distinct = self.pair(*pair)
        if not qualifies(meetings, distinct):
            raise RuntimeError("cross-region pair does not qualify across regions")
        return {"members": [self.key(s) for s in pair],
                "regions": [self.world.regions[r].code for r in regions],
                "meetings_per_region": per_region, "meetings_total": meetings,
                "distinct_sensors_total": distinct}

    def qualifying_pairs(self) -> list[dict]:
        """Every pair of planted subjects reported under the default thresholds."""
        out = []
        for (a, b), (m, d) in sorted(self._all.items()):
            if qualifies(m, d):
                out.append({"a": self._code_key(a), "b": self._code_key(b), "meetings": m,
                            "distinct_sensors": d})
        return out

    def _code_key(self, code: int) -> dict:
        if code >= travel.PHONE_CODE_BASE:
            return self.key(Subject("phone", code - travel.PHONE_CODE_BASE))
        return self.key(Subject("plate", code))


def travel_truth(world: World, planner: Planner, plan: dict, gangs: list[Gang]) -> dict:
    """The co-travel part of truth.json."""
    truth = TravelTruth(world, planner.frame())
    groups = [truth.group(m, r, f"planted:CT{i + 1}") for i, (r, m) in enumerate(plan["groups"])]
    groups += [truth.group(g.convoy, g.spec.operates[0], f"gang:{g.spec.id}") for g in gangs]
    return {
        "cotravel_groups": groups,
        "near_misses": [truth.near_miss(k, p, r) for k, r, p in plan["misses"]],
        "commuters": truth.commuters(plan["commuters"]),
        "cross_region_pair": truth.cross_pair(plan["cross"], (0, 1)),
        "planted_qualifying_pairs": truth.qualifying_pairs(),
    }


def planted_subjects(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Vehicle and phone indices that background traffic must never use."""
    reserved = world.persons.filter(pl.col("reserve"))["pid"]
    vehicles = world.vehicles.filter(pl.col("owner").is_in(reserved.implode()))["vehicle_ix"]
    phones = world.phones.filter(pl.col("owner").is_in(reserved.implode())
                                 | (pl.col("owner") == -2))["phone_ix"]
    return vehicles.to_numpy(), phones.to_numpy()
