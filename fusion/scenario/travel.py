"""Planted trajectories: convoys, near misses, commuters and the cross-region pair.

Planted sightings use odd seconds and background sightings even seconds, so the two can never
produce the same natural key. Each planted trip takes its own one-hour slot of a region, and
the subjects used here never appear in background traffic; the truth about them is computed
from these sightings alone (``cotravel.pair_stats``), so it is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from fusion.scenario.geography import BUSY_ROAD, POSITIONS
from fusion.scenario.population import World

PHONE_CODE_BASE = 10**8  # subject code of a phone = base + phone_ix; of a plate = vehicle_ix


@dataclass(frozen=True)
class Subject:
    """A travelling identifier: ``plate`` (vehicle_ix) or ``phone`` (phone_ix)."""

    kind: str
    ix: int

    @property
    def code(self) -> int:
        """Integer code unique across plates and phones."""
        return self.ix + (PHONE_CODE_BASE if self.kind == "phone" else 0)


class Planner:
    """Allocates time slots and routes and records planted sightings."""

    def __init__(self, world: World, rng: np.random.Generator):
        self.world = world
        self.sensors = world.sensors
        self.rng = rng
        self.rows: list[tuple[int, str, int, int, int]] = []  # region, kind, ix, sensor_ix, t
        self._slots: dict[int, list[tuple[int, int]]] = {}

    def slot(self, region: int) -> int:
        """Start (epoch s) of a fresh one-hour slot between 09:00 and 21:00 in ``region``."""
        if region not in self._slots:
            free = [(d, h) for d in range(self.world.period.days) for h in range(9, 21)]
            order = self.rng.permutation(len(free))
            self._slots[region] = [free[i] for i in order]
        day, hour = self._slots[region].pop()
        return self.world.period.day_start(day) + hour * 3600 + int(self.rng.integers(0, 600))

    def route(self, region: int, kind: str, length: int, busy: bool = False) -> list[dict]:
        """``length`` consecutive sensors of a random road (KK) or line (WF)."""
        pool = self.sensors.filter((pl.col("region") == region) & (pl.col("kind") == kind))
        roads = sorted(set(pool["road"].to_list()))
        if kind == "KK" and not busy:
            roads = [r for r in roads if r != BUSY_ROAD]
        road = BUSY_ROAD if busy else roads[int(self.rng.integers(0, len(roads)))]
        start = int(self.rng.integers(0, POSITIONS - length + 1))
        stops = pool.filter(pl.col("road") == road).sort("pos").rows(named=True)
        stops = stops[start:start + length]
        return stops[::-1] if self.rng.random() < 0.5 else stops

    def trip(self, region: int, members: list[Subject], route: list[dict], start: int,
             offsets: list[int], jitter: int = 5, together: int | None = None) -> None:
        """Members pass ``route`` from ``start``; member m trails by offsets[m] (+- jitter).

        With ``together`` set, members other than the first leave after that many sensors.
        """
        t = start
        for k, stop in enumerate(route):
            if k:
                t += int(route[k - 1]["seg_s"] * self.rng.uniform(0.85, 1.15))
            for m, subject in enumerate(members):
                if together is not None and m and k >= together:
                    continue
                shift = offsets[m] + int(self.rng.integers(-jitter, jitter + 1)) if m else 0
                self.add(region, subject, stop["sensor_ix"], t + shift)

    def add(self, region: int, subject: Subject, sensor_ix: int, t: int) -> None:
        """Record one planted sighting at an odd second."""
        self.rows.append((region, subject.kind, subject.ix, sensor_ix, t | 1))

    def sensor_kind(self, members: list[Subject]) -> str:
        """Checkpoints when a plate is involved, else probes or checkpoints at random."""
        if any(s.kind == "plate" for s in members):
            return "KK"
        return "WF" if self.rng.random() < 0.6 else "KK"

    def convoy(self, region: int, members: list[Subject], trips: int) -> None:
        """Members travel together (within a minute) through 3-5 sensors, ``trips`` times."""
        for _ in range(trips):
            kind = self.sensor_kind(members)
            route = self.route(region, kind, int(self.rng.integers(3, 6)))
            offsets = [0] + [int(self.rng.integers(5, 41)) for _ in members[1:]]
            self.trip(region, members, route, self.slot(region), offsets)

    def solo(self, region: int, subject: Subject, trips: int) -> None:
        """Unremarkable trips of one subject alone."""
        for _ in range(trips):
            route = self.route(region, self.sensor_kind([subject]), int(self.rng.integers(2, 5)))
            self.trip(region, [subject], route, self.slot(region), [0])

    def frame(self) -> pl.DataFrame:
        """All planted sightings so far: region, subject_type, ix, sensor_ix, seen_at."""
        return pl.DataFrame(self.rows, orient="row", schema=[
            ("region", pl.Int64), ("subject_type", pl.String), ("ix", pl.Int64),
            ("sensor_ix", pl.Int64), ("seen_at", pl.Int64)]).unique(maintain_order=True)


def near_miss_two_sensors(planner: Planner, region: int, pair: list[Subject]) -> None:
    """Many meetings, always at the same two sensors; the leader alone goes further."""
    route = planner.route(region, planner.sensor_kind(pair), 4)
    for _ in range(4):
        offsets = [0, int(planner.rng.integers(5, 30))]
        planner.trip(region, pair, route, planner.slot(region), offsets, together=2)


def near_miss_too_far_apart(planner: Planner, region: int, pair: list[Subject]) -> None:
    """The same route, over and over, always 3-5 minutes apart (beyond the 120 s window)."""
    for _ in range(4):
        route = planner.route(region, planner.sensor_kind(pair), 4)
        lag = int(planner.rng.integers(200, 281))
        planner.trip(region, pair, route, planner.slot(region), [0, lag], jitter=14)


def commute(planner: Planner, region: int, subject: Subject, enter: int, length: int) -> None:
    """Every workday morning along the busy road, leaving between 07:45 and 08:15."""
    stops = planner.route(region, "KK", POSITIONS, busy=True)
    stops = sorted(stops, key=lambda s: s["pos"])[enter:enter + length]
    pace = planner.rng.uniform(0.9, 1.1)
    for day in range(planner.world.period.days):
        if planner.world.period.weekday(day) >= 5:
            continue
        t = planner.world.period.day_start(day) + 7 * 3600 + 45 * 60
        t += int(planner.rng.integers(0, 1800))
        for k, stop in enumerate(stops):
            if k:
                t += int(stops[k - 1]["seg_s"] * pace) + int(planner.rng.integers(-20, 21))
            planner.add(region, subject, stop["sensor_ix"], t)


def cross_region_leg(planner: Planner, region: int, pair: list[Subject]) -> None:
    """The pair meets at exactly two sensors of ``region``; the leader goes on alone."""
    route = planner.route(region, "KK", 3)
    planner.trip(region, pair, route, planner.slot(region), [0, 25], together=2)
