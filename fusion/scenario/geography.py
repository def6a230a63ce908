"""Sensors on the map: checkpoint cameras along roads and Wi-Fi probes along metro lines.

A region's sensors lie on straight "roads" (checkpoints, kind ``KK``, which read plates and,
with their electronic fence, phones) and "lines" (Wi-Fi probes, kind ``WF``, phones only),
six positions each. Consecutive positions are a few minutes' travel apart. Road 0 of every
region is its busy arterial.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from fusion.scenario.regions import CANONICAL, GBK, Region, dialect_of

POSITIONS = 6
BUSY_ROAD = 0


def roads_per_region(scale: float) -> int:
    """Number of checkpoint roads (and of probe lines) per region.

    Linear in scale, so traffic per sensor (and chance co-travel per pair) stays realistic.
    """
    return max(4, round(10 * scale))


def sensor_id(region: Region, dialect: str, kind: str, road: int, pos: int) -> str:
    """A sensor's id in the house style of its region."""
    if dialect == GBK:
        return f"{region.code}{1 if kind == 'KK' else 2}{road:03d}{pos:02d}"
    if dialect == CANONICAL:
        return f"{region.code}-{kind}-{road:03d}{pos}"
    return f"{region.code}{kind}{road:03d}{pos}"


def build_sensors(regions: list[Region], scale: float, rng: np.random.Generator) -> pl.DataFrame:
    """All sensors: sensor_ix, sensor_id, region, kind, road, pos, lat, lon, heading, seg_s.

    ``seg_s`` is the typical travel time in seconds from this position to the next.
    """
    rows = []
    n_roads = roads_per_region(scale)
    for r, region in enumerate(regions):
        dialect = dialect_of(r)
        for kind in ("KK", "WF"):
            for road in range(n_roads):
                rows.extend(_road(region, dialect, r, kind, road, rng))
    frame = pl.DataFrame(rows, orient="row", schema=[
        ("sensor_id", pl.String), ("region", pl.Int64), ("kind", pl.String),
        ("road", pl.Int64), ("pos", pl.Int64), ("lat", pl.Float64), ("lon", pl.Float64),
        ("heading", pl.Int64), ("seg_s", pl.Int64)])
    return frame.with_row_index("sensor_ix").with_columns(pl.col("sensor_ix").cast(pl.Int64))


def _road(region: Region, dialect: str, r: int, kind: str, road: int,
          rng: np.random.Generator) -> list[tuple]:
    lat0 = region.lat + rng.uniform(-0.12, 0.12)
    lon0 = region.lon + rng.uniform(-0.12, 0.12)
    heading = int(rng.integers(0, 360))
    step = rng.uniform(0.01, 0.025)
    rows = []
    for pos in range(POSITIONS):
        lat = lat0 + pos * step * math.cos(math.radians(heading))
        lon = lon0 + pos * step * math.sin(math.radians(heading))
        seg = int(rng.integers(180, 720))
        rows.append((sensor_id(region, dialect, kind, road, pos), r, kind, road, pos,
                     round(lat, 6), round(lon, 6), heading, seg))
    return rows


def road_sensors(sensors: pl.DataFrame, region: int, kind: str, road: int) -> pl.DataFrame:
    """The sensors of one road in position order."""
    return sensors.filter((pl.col("region") == region) & (pl.col("kind") == kind)
                          & (pl.col("road") == road)).sort("pos")
