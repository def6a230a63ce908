"""The synthetic world: people, their phones, vehicles and addresses, and who calls whom.

Sizes scale with ``scale``; a fixed reserve of people per region is set aside for the planted
structures, whose vehicles and phones never appear in background traffic (so co-travel truth
about them can be computed exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fusion.scenario import ids
from fusion.scenario.regions import Period, Region

PERSONS_PER_REGION = 1000
RESERVE_PER_REGION = 60
EXTERNAL_PHONES_PER_REGION = 300
VISITING_PLATES_PER_REGION = 250
CONTACTS = 8
# Districts of prefectures outside the catalogue: residents registered elsewhere.
MIGRANT_DISTRICTS = ("412726", "411302", "362401", "431021", "522101", "130621", "230102",
                     "450102", "511302", "421122")
OTHER_PLATE_PREFIXES = ("豫A", "赣B", "湘C", "黔A", "冀F", "桂A", "皖B", "晋A")


@dataclass
class World:
    """Everything background and planted events are drawn from."""

    regions: list[Region]
    period: Period
    persons: pl.DataFrame   # pid, id_no, name, region, address, legacy, reserve
    phones: pl.DataFrame    # phone_ix, phone, region, owner, imei, address
    vehicles: pl.DataFrame  # vehicle_ix, plate, region, owner
    contacts: np.ndarray    # [n_phones, CONTACTS] phone_ix
    sensors: pl.DataFrame = field(default_factory=pl.DataFrame)
    taken_phones: set[int] = field(default_factory=set)
    taken_addresses: set[str] = field(default_factory=set)

    def reserve(self, region: int) -> list[int]:
        """Person ids set aside for planted structures in ``region``."""
        frame = self.persons.filter(pl.col("reserve") & (pl.col("region") == region))
        return frame["pid"].to_list()

    def background(self, region: int) -> list[int]:
        """Person ids of ``region`` that are not in the reserve."""
        frame = self.persons.filter(~pl.col("reserve") & (pl.col("region") == region))
        return frame["pid"].to_list()

    def person(self, pid: int) -> dict:
        """One person's row."""
        return self.persons.row(pid, named=True)

    def phones_of(self, pid: int) -> list[int]:
        """Phone indices owned by ``pid`` (first = main)."""
        return self.phones.filter(pl.col("owner") == pid)["phone_ix"].to_list()

    def vehicle_of(self, pid: int) -> int | None:
        """Vehicle index of ``pid``, if any."""
        found = self.vehicles.filter(pl.col("owner") == pid)["vehicle_ix"]
        return int(found[0]) if len(found) else None


def region_size(scale: float) -> int:
    """Background persons per region at ``scale`` (at least a handful)."""
    return max(20, round(PERSONS_PER_REGION * scale))


def build_world(regions: list[Region], period: Period, scale: float,
                rng: np.random.Generator) -> World:
    """People, phones, vehicles and the calling graph of every region."""
    persons = _persons(regions, scale, rng)
    taken_phones: set[int] = set()
    taken_addresses = set(persons["address"].to_list())
    phones = _phones(regions, persons, scale, rng, taken_phones, taken_addresses)
    vehicles = _vehicles(regions, persons, scale, rng)
    contacts = _contacts(phones, rng)
    return World(regions, period, persons, phones, vehicles, contacts,
                 taken_phones=taken_phones, taken_addresses=taken_addresses)


def _persons(regions: list[Region], scale: float, rng: np.random.Generator) -> pl.DataFrame:
    frames = []
    taken_ids: set[str] = set()
    taken_addr: set[str] = set()
    for r, region in enumerate(regions):
        n = region_size(scale) + RESERVE_PER_REGION
        native = [d for d, _ in region.districts]
        n_migrant = n // 10
        id_native, legacy_native = ids.id_numbers(rng, native, n - n_migrant, taken_ids)
        id_migrant, legacy_migrant = ids.id_numbers(rng, list(MIGRANT_DISTRICTS), n_migrant,
                                                    taken_ids)
        district_names = [name for _, name in region.districts]
        frames.append(pl.DataFrame({
            "id_no": id_native + id_migrant,
            "name": ids.names(rng, n),
            "region": np.full(n, r),
            "address": ids.addresses(rng, region.province, region.name, district_names, n,
                                     taken_addr),
            "legacy": np.concatenate([legacy_native, legacy_migrant]),
            "reserve": np.arange(n) >= n - RESERVE_PER_REGION,
        }))
    return pl.concat(frames).with_row_index("pid").with_columns(pl.col("pid").cast(pl.Int64))


def _phones(regions: list[Region], persons: pl.DataFrame, scale: float,
            rng: np.random.Generator, taken: set[int], taken_addr: set[str]) -> pl.DataFrame:
    """Each person 0-2 phones (reserve exactly one), plus unregistered numbers per region."""
    count = rng.choice(3, size=len(persons), p=[0.05, 0.75, 0.20])
    count = np.where(persons["reserve"].to_numpy(), 1, count)
    owner = np.repeat(persons["pid"].to_numpy(), count)
    owned = pl.DataFrame({"owner": owner}).join(
        persons.select("pid", "region", "address"), left_on="owner", right_on="pid",
        how="left", maintain_order="left")
    frames = [owned]
    for r, region in enumerate(regions):
        n = max(10, round(EXTERNAL_PHONES_PER_REGION * scale))
        frames.append(pl.DataFrame({
            "owner": np.full(n, -1, dtype=np.int64), "region": np.full(n, r),
            "address": ids.addresses(rng, region.province, region.name,
                                     [d for _, d in region.districts], n, taken_addr)}))
    table = pl.concat(frames, how="vertical_relaxed")
    return table.with_columns(
        phone=pl.Series(ids.phones(rng, len(table), taken)),
        imei=pl.Series(ids.imeis(rng, len(table))),
    ).with_row_index("phone_ix").with_columns(pl.col("phone_ix").cast(pl.Int64))


def _vehicles(regions: list[Region], persons: pl.DataFrame, scale: float,
              rng: np.random.Generator) -> pl.DataFrame:
    """Registered vehicles (about a third of people, all of the reserve) and visiting ones."""
    has = (rng.random(len(persons)) < 0.35) | persons["reserve"].to_numpy()
    owners = persons.filter(pl.Series(has)).select(owner="pid", region="region")
    taken: set[str] = set()
    plate = [ids.plates(rng, [regions[r].plate_prefix], 1, taken)[0]
             for r in owners["region"].to_list()]
    frames = [owners.with_columns(plate=pl.Series(plate, dtype=pl.String))]
    others = [reg.plate_prefix for reg in regions] + list(OTHER_PLATE_PREFIXES)
    for r, region in enumerate(regions):
        n = max(10, round(VISITING_PLATES_PER_REGION * scale))
        prefixes = [p for p in others if p != region.plate_prefix]
        frames.append(pl.DataFrame({"owner": np.full(n, -1, dtype=np.int64),
                                    "region": np.full(n, r),
                                    "plate": ids.plates(rng, prefixes, n, taken)}))
    table = pl.concat(frames, how="vertical_relaxed")
    return table.with_row_index("vehicle_ix").with_columns(pl.col("vehicle_ix").cast(pl.Int64))


def _contacts(phones: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Each phone's contacts: mostly near neighbours in its region, some far, some elsewhere."""
    n = len(phones)
    region = phones["region"].to_numpy()
    out = np.empty((n, CONTACTS), dtype=np.int64)
    members = {r: np.flatnonzero(region == r) for r in np.unique(region)}
    for ix in members.values():
        pos = np.arange(len(ix))
        near = (pos[:, None] + rng.integers(1, 25, (len(ix), CONTACTS))
                * rng.choice([-1, 1], (len(ix), CONTACTS))) % len(ix)
        far = rng.integers(0, len(ix), (len(ix), CONTACTS))
        elsewhere = rng.integers(0, n, (len(ix), CONTACTS))
        pick = rng.random((len(ix), CONTACTS))
        chosen = np.where(pick < 0.75, ix[near], np.where(pick < 0.9, ix[far], elsewhere))
        out[ix] = chosen
    return out
