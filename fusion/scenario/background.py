"""Background life at realistic sparsity: everyday calls, parcels, cases and traffic.

Calls, parcels and sightings are generated one local day at a time (vectorized), so memory is
bounded by a day's volume whatever the scale. Background events use even seconds (planted
ones odd) and are de-duplicated within the day, so no natural key repeats by accident.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fusion.scenario import ids
from fusion.scenario.geography import BUSY_ROAD, POSITIONS
from fusion.scenario.population import CONTACTS, World
from fusion.scenario.records import (
    CASE_NAMES,
    COLUMNS,
    CONTROL,
    ITEMS,
    OPERATOR_MNC,
    PlantedRecords,
    frame,
)
from fusion.scenario.travel_plan import planted_subjects

CALLS_PER_REGION = 3_400
WAYBILLS_PER_REGION = 1_000
SIGHTINGS_PER_REGION = 33_400
CASES_PER_REGION = 100
CROSS_REPORTED = 0.35  # share of inter-region calls the callee's operator also reports
CASE_TYPES = ("theft", "fraud", "assault", "traffic", "dispute", "burglary", "drugs")
# Start-hour profile of everyday activity (00..23), normalized where used.
HOURS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.5, 2, 5, 8, 7, 6, 6, 6, 6, 6, 6, 7, 8, 8, 7, 6, 5, 3, 2])


def _typed(data: dict, source: str, extra: dict[str, pl.DataType]) -> pl.DataFrame:
    """A background frame with the canonical schema of ``source`` plus ``extra`` columns."""
    schema = COLUMNS[source] | CONTROL | extra
    if not len(data["_region"]):
        return pl.DataFrame(schema=schema)
    return pl.DataFrame({k: data[k] for k in schema}).cast(schema)


def _hour_seconds(rng: np.random.Generator, n: int, first: int = 0, last: int = 23) -> np.ndarray:
    profile = HOURS[first:last + 1] / HOURS[first:last + 1].sum()
    hour = rng.choice(np.arange(first, last + 1), n, p=profile)
    return hour * 3600 + rng.integers(0, 3600, n)


def _per_day(total: float, days: int, rng: np.random.Generator) -> int:
    return int(rng.poisson(total / days))


class Background:
    """Draws a day of background events for every region."""

    def __init__(self, world: World, scale: float, gbk_regions: set[int]):
        self.world = world
        self.scale = scale
        self.gbk = gbk_regions
        phones = world.phones
        self.phone = phones["phone"].to_numpy()
        self.phone_region = phones["region"].to_numpy()
        self.phone_owner = phones["owner"].to_numpy()
        self.imei = phones["imei"].to_numpy()
        self.address = phones["address"].to_numpy()
        self.names = world.persons["name"].to_numpy()
        quiet_vehicles, quiet_phones = planted_subjects(world)
        self.callers = {r: np.flatnonzero(self.phone_region[:len(world.contacts)] == r)
                        for r in range(len(world.regions))}
        self.travelling_phones = {r: np.setdiff1d(ix, quiet_phones)
                                  for r, ix in self.callers.items()}
        vehicles = world.vehicles
        region_v = vehicles["region"].to_numpy()
        self.plate = vehicles["plate"].to_numpy()
        self.travelling_plates = {r: np.setdiff1d(np.flatnonzero(region_v == r), quiet_vehicles)
                                  for r in range(len(world.regions))}
        self.sensors = world.sensors
        self.waybill_serial = 0

    # -- calls --------------------------------------------------------------------------------
    def calls(self, day: int, rng: np.random.Generator) -> pl.DataFrame:
        """One day of calls, each in its caller's region's file; some reported twice."""
        parts = [self._region_calls(r, day, rng) for r in range(len(self.world.regions))]
        return self._cross_reported(pl.concat(parts), rng)

    def _region_calls(self, region: int, day: int, rng: np.random.Generator) -> pl.DataFrame:
        n = _per_day(CALLS_PER_REGION * self.scale, self.world.period.days, rng)
        pool = self.callers[region]
        caller = pool[rng.integers(0, len(pool), n)]
        callee = self.world.contacts[caller, rng.geometric(0.35, n).clip(1, CONTACTS) - 1]
        t = self.world.period.day_start(day) + _hour_seconds(rng, n)
        t -= t % 2
        keep = callee != caller
        caller, callee, t = caller[keep], callee[keep], t[keep]
        _, first = np.unique(np.stack([caller, callee, t]), axis=1, return_index=True)
        first.sort()
        caller, callee, t = caller[first], callee[first], t[first]
        n = len(t)
        sms = rng.random(n) < (0 if region in self.gbk else 0.15)
        duration = np.where(sms, 0, rng.lognormal(4.2, 1.0, n).astype(np.int64))
        mnc = np.array(OPERATOR_MNC)[rng.integers(0, 3, n)]
        cell = rng.integers(1000, 65000, n)
        code = self.world.regions[region].code[:4]
        return _typed({
            "caller": self.phone[caller], "callee": self.phone[callee], "start_time": t,
            "duration_s": duration, "call_type": np.where(sms, "sms", "voice"),
            "cell_id": [f"460-{m}-{code}-{c}" for m, c in zip(mnc, cell.tolist(), strict=True)],
            "imei": self.imei[caller], "_region": np.full(n, region), "_dup": np.zeros(n, bool),
            "_legacy": np.zeros(n, bool), "_callee_region": self.phone_region[callee],
        }, "calls", {"_callee_region": pl.Int64})

    def _cross_reported(self, calls: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        """Copies of inter-region calls in the callee's region; the later load is a duplicate.

        Returns the originals (re-flagged) followed by the copies.
        """
        draw = pl.Series(rng.random(len(calls)))
        target_gbk = pl.col("_callee_region").is_in(list(self.gbk))
        chosen = calls.with_row_index("_i").filter(
            (pl.col("_callee_region") != pl.col("_region")) & (draw < CROSS_REPORTED)
            & ~(target_gbk & (pl.col("call_type") != "voice")))
        return _with_copies(calls, chosen, "_callee_region")

    # -- parcels ------------------------------------------------------------------------------
    def waybills(self, day: int, rng: np.random.Generator, out: PlantedRecords) -> pl.DataFrame:
        """One day of parcels, each in its sender's region's file; a few also in the receiver's."""
        parts = [self._region_waybills(r, day, rng, out) for r in range(len(self.world.regions))]
        rows = pl.concat(parts)
        draw = pl.Series(rng.random(len(rows)))
        chosen = rows.with_row_index("_i").filter(
            (pl.col("_to_region") != pl.col("_region")) & (draw < 0.05))
        return _with_copies(rows, chosen, "_to_region")

    def _region_waybills(self, region: int, day: int, rng: np.random.Generator,
                         out: PlantedRecords) -> pl.DataFrame:
        n = _per_day(WAYBILLS_PER_REGION * self.scale, self.world.period.days, rng)
        pool = self.callers[region]
        sender = pool[rng.integers(0, len(pool), n)]
        everyone = len(self.world.contacts)
        receiver = np.where(rng.random(n) < 0.65, pool[rng.integers(0, len(pool), n)],
                            rng.integers(0, everyone, n))
        keep = receiver != sender
        sender, receiver = sender[keep], receiver[keep]
        n = len(sender)
        carrier = rng.integers(0, len(ids.CARRIERS), n)
        serial = out.waybill_serial + np.arange(n)
        out.waybill_serial += n
        shipped = self.world.period.day_start(day) + _hour_seconds(rng, n, 8, 20)
        shipped -= shipped % 2
        delivered = shipped + rng.integers(20, 72, n) * 3600
        return _typed({
            "waybill_no": [ids.waybill_number(s, c) for s, c in
                           zip(serial.tolist(), carrier.tolist(), strict=True)],
            "carrier": np.array([c[0] for c in ids.CARRIERS])[carrier],
            "sender_name": self._name(sender, rng), "receiver_name": self._name(receiver, rng),
            "sender_phone": self.phone[sender], "receiver_phone": self.phone[receiver],
            "sender_address": self.address[sender], "receiver_address": self.address[receiver],
            "shipped_at": shipped,
            "delivered_at": pl.Series(np.where(rng.random(n) < 0.9, delivered, -1)).replace(
                -1, None),
            "item": np.array(ITEMS)[rng.integers(0, len(ITEMS), n)],
            "declared_value": rng.integers(20, 3000, n).astype(np.float64),
            "weight_kg": np.round(rng.uniform(0.1, 8.0, n), 2),
            "_region": np.full(n, region), "_dup": np.zeros(n, bool),
            "_legacy": np.zeros(n, bool), "_to_region": self.phone_region[receiver],
        }, "waybills", {"_to_region": pl.Int64})

    def _name(self, phone_ix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        owner = self.phone_owner[phone_ix]
        anonymous = np.array([ids.SURNAMES[i % len(ids.SURNAMES)] + "先生" for i in
                              rng.integers(0, 10**6, len(phone_ix)).tolist()], dtype=object)
        return np.where(owner >= 0, self.names[np.maximum(owner, 0)], anonymous)

    # -- sightings ----------------------------------------------------------------------------
    def sightings(self, day: int, rng: np.random.Generator) -> pl.DataFrame:
        """One day of checkpoint and probe sightings in every region."""
        return pl.concat([self._region_sightings(r, day, rng)
                          for r in range(len(self.world.regions))])

    def _region_sightings(self, region: int, day: int, rng: np.random.Generator) -> pl.DataFrame:
        rows = _per_day(SIGHTINGS_PER_REGION * self.scale, self.world.period.days, rng)
        n = int(rows / 1.8)
        is_plate = rng.random(n) < 0.7
        plates, phones = self.travelling_plates[region], self.travelling_phones[region]
        subject = np.where(is_plate, plates[rng.integers(0, len(plates), n)],
                           phones[rng.integers(0, len(phones), n)])
        kind = np.where(is_plate | (rng.random(n) < 0.5), 0, 1)  # 0 KK, 1 WF
        grid, seg, lat, lon, heading = self._grid(region)
        n_roads = grid.shape[1]
        busy = rng.random(n) < 0.15
        road = np.where(busy & (kind == 0), BUSY_ROAD, rng.integers(0, n_roads, n))
        length = rng.choice([1, 2, 3, 4], n, p=[0.45, 0.35, 0.15, 0.05])
        start = (rng.random(n) * (POSITIONS - length + 1)).astype(np.int64)
        reverse = rng.random(n) < 0.5
        step = np.arange(4)
        pos = start[:, None] + step[None, :]
        pos = np.where(reverse[:, None], POSITIONS - 1 - pos, pos).clip(0, POSITIONS - 1)
        below = np.minimum(pos, np.roll(pos, 1, axis=1))  # segment travelled to reach pos
        seg_s = seg[kind[:, None], road[:, None], below]
        pace = rng.uniform(0.6, 1.6, n)[:, None]
        hops = (seg_s * pace).astype(np.int64) + rng.integers(-60, 61, (n, 4))
        hops[:, 0] = 0
        t0 = self.world.period.day_start(day) + _hour_seconds(rng, n, 6, 21)
        t = t0[:, None] + np.cumsum(hops, axis=1)
        mask = step[None, :] < length[:, None]
        sensor = grid[kind[:, None], road[:, None], pos][mask]
        t = t[mask]
        t -= t % 2
        subject = np.broadcast_to(subject[:, None], mask.shape)[mask]
        plate_row = np.broadcast_to(is_plate[:, None], mask.shape)[mask]
        code = subject * 2 + plate_row
        _, first = np.unique(np.stack([code, sensor, t]), axis=1, return_index=True)
        first.sort()
        sensor, t, subject, plate_row = sensor[first], t[first], subject[first], plate_row[first]
        reverse_row = np.broadcast_to(reverse[:, None], mask.shape)[mask][first]
        m = len(t)
        speed = np.round(rng.uniform(20, 90, m), 1)
        sensor_head = heading[sensor]
        return _typed({
            "subject_type": np.where(plate_row, "plate", "phone"),
            "subject": np.where(plate_row, self.plate[np.where(plate_row, subject, 0)],
                                self.phone[np.where(plate_row, 0, subject)]),
            "sensor_id": self.sensors["sensor_id"].to_numpy()[sensor], "seen_at": t,
            "lat": lat[sensor], "lon": lon[sensor],
            "speed_kmh": pl.Series(np.where(plate_row, speed, np.nan)).fill_nan(None),
            "direction": pl.Series(np.where(plate_row, (sensor_head + 180 * reverse_row) % 360,
                                            -1)).replace(-1, None),
            "_region": np.full(m, region), "_dup": np.zeros(m, bool),
            "_legacy": np.zeros(m, bool), "_sensor_ix": sensor,
            "_code": np.where(plate_row, subject, subject + 10**8),
        }, "sightings", {"_sensor_ix": pl.Int64, "_code": pl.Int64})

    def _grid(self, region: int) -> tuple[np.ndarray, ...]:
        """Sensor index by [kind, road, pos]; segment seconds likewise; sensor coordinates."""
        cache = getattr(self, "_grids", {})
        if region not in cache:
            s = self.sensors.filter(pl.col("region") == region)
            n_roads = int(s["road"].max()) + 1
            grid = np.zeros((2, n_roads, POSITIONS), dtype=np.int64)
            seg = np.zeros((2, n_roads, POSITIONS), dtype=np.int64)
            for ix, kind, road, pos, seg_s in s.select("sensor_ix", "kind", "road", "pos",
                                                        "seg_s").iter_rows():
                grid[0 if kind == "KK" else 1, road, pos] = ix
                seg[0 if kind == "KK" else 1, road, pos] = seg_s
            cache[region] = (grid, seg, self.sensors["lat"].to_numpy(),
                             self.sensors["lon"].to_numpy(), self.sensors["heading"].to_numpy())
            self._grids = cache
        return cache[region]


def _with_copies(rows: pl.DataFrame, chosen: pl.DataFrame, target: str) -> pl.DataFrame:
    """``rows`` plus copies of ``chosen`` in region column ``target``.

    Whichever of original and copy loads later (higher region index) is the duplicate.
    """
    copies = chosen.with_columns(_region=pl.col(target), _dup=pl.col(target) > pl.col("_region"))
    flagged = copies.filter(~pl.col("_dup"))["_i"].implode()
    rows = rows.with_row_index("_i").with_columns(
        _dup=pl.col("_dup") | pl.col("_i").is_in(flagged)).drop("_i")
    return pl.concat([rows, copies.drop("_i")])


def background_cases(world: World, scale: float, out: PlantedRecords,
                     rng: np.random.Generator) -> list[dict]:
    """Everyday cases: a victim or reporter, sometimes a suspect and a witness; some by phone."""
    main_phone = _main_phones(world)
    rows: list[dict] = []
    for region in range(len(world.regions)):
        people = np.array(world.background(region))
        for _ in range(max(3, round(CASES_PER_REGION * scale))):
            case_type = CASE_TYPES[int(rng.integers(0, len(CASE_TYPES)))]
            roles = ["victim" if rng.random() < 0.7 else "reporter"]
            roles += ["suspect"] * (rng.random() < 0.4) + ["witness"] * (rng.random() < 0.3)
            involved = rng.choice(people, len(roles), replace=False).tolist()
            rows.extend(_case_rows(world, out, region, case_type, roles, involved, main_phone,
                                   rng))
    return rows


def _case_rows(world: World, out: PlantedRecords, region: int, case_type: str,
               roles: list[str], involved: list[int], main_phone: dict[int, str],
               rng: np.random.Generator) -> list[dict]:
    reported = world.period.day_start(int(rng.integers(0, world.period.days)))
    reported += int(rng.integers(0, 86400)) & ~1
    case_id = out.next_case_id(region, reported)
    place = world.regions[region]
    common = {"case_id": case_id, "case_type": case_type, "reported_at": reported,
              "location": out.new_address(region, rng),
              "lat": round(place.lat + float(rng.uniform(-0.1, 0.1)), 6),
              "lon": round(place.lon + float(rng.uniform(-0.1, 0.1)), 6),
              "summary": f"{CASE_NAMES[case_type]}警情，已受理", "_region": region, "_dup": False}
    rows = []
    for role, pid in zip(roles, involved, strict=True):
        person = world.persons.row(pid, named=True)
        phone = main_phone.get(pid)
        by_phone_only = phone is not None and rng.random() < 0.1
        rows.append(common | {
            "role": role, "id_no": None if by_phone_only else person["id_no"],
            "name": None if by_phone_only else person["name"],
            "phone": phone if (by_phone_only or rng.random() < 0.6) else None,
            "_legacy": person["legacy"]})
    return rows


def _main_phones(world: World) -> dict[int, str]:
    owned = world.phones.filter(pl.col("owner") >= 0).unique("owner", keep="first",
                                                             maintain_order=True)
    return dict(zip(owned["owner"].to_list(), owned["phone"].to_list(), strict=True))


def persons_rows(world: World, rng: np.random.Generator) -> pl.DataFrame:
    """The registries: one row per person and phone; a few people registered in two regions."""
    owned = world.phones.filter(pl.col("owner") >= 0).select(pid="owner", phone="phone")
    plates = world.vehicles.filter(pl.col("owner") >= 0).select(pid="owner", plate="plate")
    rows = (world.persons.join(owned, on="pid", how="left", maintain_order="left")
            .join(plates, on="pid", how="left", maintain_order="left")
            .sort("pid", maintain_order=True))
    rows = rows.select("id_no", "name", "phone", "plate", "address", _legacy="legacy",
                       _region="region", _dup=pl.lit(False))
    moved = []
    for region in range(len(world.regions) - 1):
        twice = rng.choice(world.background(region), 2, replace=False).tolist()
        ids_twice = world.persons["id_no"].gather(twice).implode()
        moved.append(rows.filter(pl.col("id_no").is_in(ids_twice))
                     .with_columns(_region=pl.lit(region + 1, pl.Int64), _dup=pl.lit(True)))
    schema = frame("persons", []).schema
    return pl.concat([rows, *moved]).select(pl.col(c).cast(t) for c, t in schema.items())
