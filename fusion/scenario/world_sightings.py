"""Planted trajectory points as canonical sighting records."""

from __future__ import annotations

import polars as pl

from fusion.scenario.population import World
from fusion.scenario.records import COLUMNS
from fusion.scenario.travel import PHONE_CODE_BASE, Planner


def planted_sightings(world: World, planner: Planner) -> pl.DataFrame:
    """Canonical sightings of the planner's rows, with sensor position and plate speed."""
    rows = planner.frame()
    sensors = world.sensors.select("sensor_ix", "sensor_id", "lat", "lon", "heading")
    plates = world.vehicles.select(ix="vehicle_ix", plate="plate")
    phones = world.phones.select(ix="phone_ix", phone="phone")
    is_plate = pl.col("subject_type") == "plate"
    out = (rows.join(sensors, on="sensor_ix", how="left", maintain_order="left")
           .join(plates, on="ix", how="left", maintain_order="left")
           .join(phones, on="ix", how="left", maintain_order="left")
           .with_columns(
               subject=pl.when(is_plate).then(pl.col("plate")).otherwise(pl.col("phone")),
               speed_kmh=pl.when(is_plate).then(45.0 + pl.col("seen_at") % 30),
               direction=pl.when(is_plate).then(pl.col("heading")),
               _code=pl.when(is_plate).then(pl.col("ix")).otherwise(pl.col("ix")
                                                                   + PHONE_CODE_BASE),
               _sensor_ix=pl.col("sensor_ix"), _region=pl.col("region"), _dup=pl.lit(False),
               _legacy=pl.lit(False)))
    columns = COLUMNS["sightings"]
    return out.select([pl.col(c).cast(t) for c, t in columns.items()]
                      + ["_region", "_dup", "_legacy", "_sensor_ix", "_code"])
