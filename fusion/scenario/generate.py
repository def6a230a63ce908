"""Generate a multi-region scenario: the five sources in three dialects, and truth.json.

Order of work follows the load order the truth file states: all persons files, then cases,
calls, waybills and sightings, region by region within each source. Calls, parcels and
sightings are produced one local day at a time for every region at once, so each file is
written in chunks and memory stays bounded at any scale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from fusion.scenario import background as bg
from fusion.scenario.accounting import NodeKeys
from fusion.scenario.background import Background
from fusion.scenario.geography import build_sensors
from fusion.scenario.pipeline import SourceFile
from fusion.scenario.planted import Reserve, plant_all
from fusion.scenario.population import build_world, region_size
from fusion.scenario.records import PlantedRecords, frame
from fusion.scenario.regions import GBK, SOURCES, dialect_of, period_for_seed, pick_regions
from fusion.scenario.travel import Planner
from fusion.scenario.travel_plan import plant_travel, travel_truth
from fusion.scenario.truth import assemble_truth, exact_pairs
from fusion.scenario.world_sightings import planted_sightings

CHUNK_ROWS = 20_000  # rows per region file per write, at least (one day at most scales)
EXACT_PAIRS_LIMIT = 3_000_000  # compute every co-travel pair exactly up to this many sightings
Progress = Callable[[int], None]
STREAMS = ("world", "sensors", "planted", "cases", "calls", "waybills", "sightings", "files")


class ScenarioError(ValueError):
    """Arguments that cannot produce a scenario."""


def expected_rows(source: str, scale: float) -> int:
    """Rough rows per region file, for planning bad rows and the progress bar."""
    per_region = {"persons": region_size(scale) * 1.2 + 60,
                  "cases": max(3, bg.CASES_PER_REGION * scale) * 1.8,
                  "calls": bg.CALLS_PER_REGION * scale,
                  "waybills": bg.WAYBILLS_PER_REGION * scale,
                  "sightings": bg.SIGHTINGS_PER_REGION * scale}
    return int(per_region[source])


def generate_scenario(out_dir: Path, regions: int = 3, scale: float = 1.0, seed: int = 1,
                      progress: Progress | None = None) -> dict:
    """Write the scenario into ``out_dir`` and return the truth (also written as truth.json)."""
    if not 0 < scale <= 1000:
        raise ScenarioError(f"--scale must be > 0 and <= 1000, got {scale}")
    try:
        chosen = pick_regions(regions)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    streams = dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)), strict=True))
    rng = {name: np.random.default_rng(s) for name, s in streams.items()}
    world = build_world(chosen, period_for_seed(seed), scale, rng["world"])
    world.sensors = build_sensors(chosen, scale, rng["sensors"])
    planner, records = Planner(world, rng["planted"]), PlantedRecords(world)
    reserve = Reserve(world)
    gangs, chain = plant_all(world, reserve, planner, records, rng["planted"])
    plan = plant_travel(world, reserve, planner)
    travel = travel_truth(world, planner, plan, gangs)
    writer = _Writer(out_dir, world, scale, rng["files"], progress or (lambda n: None))
    background = Background(world, scale, {r for r in range(regions) if dialect_of(r) == GBK})
    writer.whole("persons", bg.persons_rows(world, rng["world"]))
    cases = records.rows["cases"] + bg.background_cases(world, scale, records, rng["cases"])
    writer.whole("cases", frame("cases", cases))
    writer.daily("calls", frame("calls", records.rows["calls"]),
                 lambda d: background.calls(d, rng["calls"]))
    writer.daily("waybills", frame("waybills", records.rows["waybills"]),
                 lambda d: background.waybills(d, rng["waybills"], records))
    writer.daily("sightings", planted_sightings(world, planner),
                 lambda d: background.sightings(d, rng["sightings"]))
    truth = assemble_truth(world, seed, scale, writer, gangs, chain, travel)
    truth["cotravel_pairs"] = exact_pairs(world, writer.sightings) if writer.sightings else None
    (out_dir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1),
                                        encoding="utf-8")
    return truth


class _Writer:
    """Feeds canonical rows to the per-region files of each source, in load order."""

    def __init__(self, out_dir: Path, world, scale: float, rng: np.random.Generator,
                 progress: Progress):
        self.out_dir, self.world, self.scale, self.rng = out_dir, world, scale, rng
        self.progress = progress
        self.keys = NodeKeys()
        self.accounts: list = []
        self.sightings: list[pl.DataFrame] | None = []
        self._sighting_count = 0

    def _files(self, source: str, chunks: int) -> list[SourceFile]:
        return [SourceFile(self.out_dir, region, dialect_of(r), source,
                           expected_rows(source, self.scale), chunks, self.rng, self.keys)
                for r, region in enumerate(self.world.regions)]

    def whole(self, source: str, rows: pl.DataFrame) -> None:
        """A source written in one chunk per region (registries, cases)."""
        files = self._files(source, 1)
        for r, file in enumerate(files):
            self.progress(file.write(0, rows.filter(pl.col("_region") == r)))
        self._close(files)

    def daily(self, source: str, planted: pl.DataFrame, day_rows: Callable) -> None:
        """A source generated one local day at a time, planted rows merged into their day.

        Small scenarios write several days per chunk (fewer, larger writes).
        """
        days = self.world.period.days
        per_day = max(1, expected_rows(source, self.scale) // days)
        span = min(days, max(1, CHUNK_ROWS // per_day))
        batches = [range(d, min(d + span, days)) for d in range(0, days, span)]
        files = self._files(source, len(batches))
        time_col = {"calls": "start_time", "waybills": "shipped_at", "sightings": "seen_at"}
        day_of = ((pl.col(time_col[source]) - self.world.period.start_utc) // 86400).clip(
            0, days - 1)
        planted = planted.with_columns(_day=day_of)
        for chunk, batch in enumerate(batches):
            extra = planted.filter(pl.col("_day").is_in(list(batch))).drop("_day")
            rows = pl.concat([*(day_rows(day) for day in batch), extra],
                             how="diagonal_relaxed")
            if source == "sightings":
                self._keep_sightings(rows)
            for r, file in enumerate(files):
                self.progress(file.write(chunk, rows.filter(pl.col("_region") == r)))
        self._close(files)

    def _keep_sightings(self, rows: pl.DataFrame) -> None:
        """Keep the loaded sightings (compactly) while small enough for exact co-travel."""
        if self.sightings is None:
            return
        self._sighting_count += len(rows)
        if self._sighting_count > EXACT_PAIRS_LIMIT:
            self.sightings = None
            return
        self.sightings.append(rows.filter(~pl.col("_dup")).select("_code", "_sensor_ix",
                                                                 "seen_at"))

    def _close(self, files: list[SourceFile]) -> None:
        for file in files:
            file.close()
            self.accounts.append(file.account)


__all__ = ["SOURCES", "ScenarioError", "generate_scenario"]
