"""Canonical record layouts of the five sources and the store of planted records.

Records are kept canonical (E.164 phones, 18-character IDs, epoch-second timestamps) until a
dialect writer spells them. Two control columns travel with every record: ``_region`` (index
of the region whose file carries it) and ``_dup`` (its natural key was loaded before it, in
load order), from which the truth file's accounting is computed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fusion.scenario import ids
from fusion.scenario.population import World
from queries.model import VOCABULARY

# Source -> canonical column -> the generator's type (timestamps as epoch seconds); the names
# are the vocabulary's (tests/test_extending.py holds them together).
COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "persons": {"id_no": pl.String, "name": pl.String, "phone": pl.String,
                "plate": pl.String, "address": pl.String},
    "cases": {"case_id": pl.String, "case_type": pl.String, "reported_at": pl.Int64,
              "id_no": pl.String, "name": pl.String, "phone": pl.String, "role": pl.String,
              "location": pl.String, "lat": pl.Float64, "lon": pl.Float64,
              "summary": pl.String},
    "calls": {"caller": pl.String, "callee": pl.String, "start_time": pl.Int64,
              "duration_s": pl.Int64, "call_type": pl.String, "cell_id": pl.String,
              "imei": pl.String},
    "waybills": {"waybill_no": pl.String, "carrier": pl.String, "sender_name": pl.String,
                 "receiver_name": pl.String, "sender_phone": pl.String,
                 "receiver_phone": pl.String, "sender_address": pl.String,
                 "receiver_address": pl.String, "shipped_at": pl.Int64,
                 "delivered_at": pl.Int64, "item": pl.String, "declared_value": pl.Float64,
                 "weight_kg": pl.Float64},
    "sightings": {"subject_type": pl.String, "subject": pl.String, "sensor_id": pl.String,
                  "seen_at": pl.Int64, "lat": pl.Float64, "lon": pl.Float64,
                  "speed_kmh": pl.Float64, "direction": pl.Int64},
}
CONTROL = {"_region": pl.Int64, "_dup": pl.Boolean, "_legacy": pl.Boolean}
TIME_COLUMN = {s.name: s.time_column for s in VOCABULARY.sources}
ITEMS = ("衣物", "电子产品", "文件", "食品", "日用品", "书籍", "化妆品", "配件")
OPERATOR_MNC = ("00", "01", "11")
CASE_NAMES = {"robbery": "抢劫", "extortion": "敲诈勒索", "drugs": "贩毒", "burglary": "入室盗窃",
              "theft": "扒窃", "gambling": "赌博", "fraud": "诈骗", "assault": "故意伤害",
              "traffic": "交通肇事", "dispute": "纠纷"}


def frame(source: str, rows: list[dict]) -> pl.DataFrame:
    """Rows of ``source`` as a DataFrame with the canonical and control columns."""
    schema = COLUMNS[source] | CONTROL
    return pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)


def cell_id(rng: np.random.Generator, region_code: str) -> str:
    """A serving cell in ``MCC-MNC-LAC-CI`` form."""
    mnc = OPERATOR_MNC[int(rng.integers(0, 3))]
    return f"460-{mnc}-{region_code[:4]}-{int(rng.integers(1000, 65000))}"


class PlantedRecords:
    """Planted cases, calls and parcels (canonical rows), plus serial counters."""

    def __init__(self, world: World):
        self.world = world
        self.rows: dict[str, list[dict]] = {s: [] for s in COLUMNS}
        self.case_serial = [0] * len(world.regions)
        self.waybill_serial = 0

    def _time(self, rng: np.random.Generator, day: int | None) -> int:
        if day is None:
            day = int(rng.integers(0, self.world.period.days))
        start = self.world.period.day_start(day) + 8 * 3600
        return (start + int(rng.integers(0, 14 * 3600))) | 1

    def _phone(self, ix: int) -> dict:
        return self.world.phones.row(ix, named=True)

    def call(self, a: int, b: int, rng: np.random.Generator, day: int | None = None) -> dict:
        """A voice call from phone ``a`` to phone ``b``, in the caller's region's file."""
        caller = self._phone(a)
        row = {"caller": caller["phone"], "callee": self._phone(b)["phone"],
               "start_time": self._time(rng, day), "duration_s": int(rng.integers(15, 600)),
               "call_type": "voice", "imei": caller["imei"],
               "cell_id": cell_id(rng, self.world.regions[caller["region"]].code),
               "_region": caller["region"], "_dup": False, "_legacy": False}
        self.rows["calls"].append(row)
        return row

    def duplicate_call_in(self, call: dict, region: int) -> None:
        """The same call reported by ``region``'s operator; the later load is the duplicate."""
        copy = dict(call, _region=region)
        later = copy if region > call["_region"] else call
        later["_dup"] = True
        self.rows["calls"].append(copy)

    def parcel(self, sender: int, receiver: int, rng: np.random.Generator, day: int,
               item: str | None = None, value: float | None = None,
               receiver_name: str | None = None) -> str:
        """A parcel between two phones, in the sender's region's file; returns waybill_no."""
        s, r = self._phone(sender), self._phone(receiver)
        carrier = int(rng.integers(0, len(ids.CARRIERS)))
        number = ids.waybill_number(self.waybill_serial, carrier)
        self.waybill_serial += 1
        shipped = self._time(rng, day)
        self.rows["waybills"].append({
            "waybill_no": number, "carrier": ids.CARRIERS[carrier][0],
            "sender_name": self._name(s), "receiver_name": receiver_name or self._name(r),
            "sender_phone": s["phone"], "receiver_phone": r["phone"],
            "sender_address": s["address"], "receiver_address": r["address"],
            "shipped_at": shipped, "delivered_at": shipped + int(rng.integers(20, 60)) * 3600,
            "item": item or ITEMS[int(rng.integers(0, len(ITEMS)))],
            "declared_value": value if value is not None else float(rng.integers(50, 2000)),
            "weight_kg": round(float(rng.uniform(0.2, 5.0)), 2),
            "_region": s["region"], "_dup": False, "_legacy": False})
        return number

    def _name(self, phone: dict) -> str:
        if phone["owner"] >= 0:
            return self.world.persons["name"][phone["owner"]]
        return ids.SURNAMES[phone["phone_ix"] % len(ids.SURNAMES)] + "先生"

    def case(self, region: int, case_type: str, suspects: list[int], victims: list[int],
             rng: np.random.Generator, day: int | None = None,
             summary: str | None = None) -> str:
        """One case in ``region`` with its suspects and victims; returns case_id."""
        reported = self._time(rng, day)
        case_id = self.next_case_id(region, reported)
        place = self.world.regions[region]
        location = self.new_address(region, rng)
        lat = round(place.lat + float(rng.uniform(-0.1, 0.1)), 6)
        lon = round(place.lon + float(rng.uniform(-0.1, 0.1)), 6)
        for pid, role in [(p, "suspect") for p in suspects] + [(p, "victim") for p in victims]:
            person = self.world.persons.row(int(pid), named=True)
            phones = self.world.phones_of(int(pid))
            self.rows["cases"].append({
                "case_id": case_id, "case_type": case_type, "reported_at": reported,
                "id_no": person["id_no"], "name": person["name"],
                "phone": self._phone(phones[0])["phone"] if phones else None, "role": role,
                "location": location, "lat": lat, "lon": lon,
                "summary": summary or f"{CASE_NAMES[case_type]}案件，涉案人员{len(suspects)}名",
                "_region": region, "_dup": False, "_legacy": person["legacy"]})
        return case_id

    def next_case_id(self, region: int, epoch_s: int) -> str:
        """The next case number of ``region`` for a case reported at ``epoch_s``."""
        self.case_serial[region] += 1
        month = np.datetime64(epoch_s + 8 * 3600, "s").astype("datetime64[M]")
        yyyymm = str(month).replace("-", "")
        return ids.case_number(self.world.regions[region].code, yyyymm,
                               self.case_serial[region])

    def new_address(self, region: int, rng: np.random.Generator) -> str:
        """A fresh address in ``region`` (a scene, a shop, a parcel locker)."""
        place = self.world.regions[region]
        return ids.addresses(rng, place.province, place.name,
                             [d for _, d in place.districts], 1,
                             self.world.taken_addresses)[0]

    def new_phone(self, region: int, rng: np.random.Generator) -> int:
        """A phone that belongs to nobody on record and never appears in background traffic."""
        number = ids.phones(rng, 1, self.world.taken_phones)[0]
        ix = len(self.world.phones)
        extra = pl.DataFrame({"phone_ix": [ix], "owner": [-2], "region": [region],
                              "address": [self.new_address(region, rng)], "phone": [number],
                              "imei": ids.imeis(rng, 1)}, schema=self.world.phones.schema)
        self.world.phones = pl.concat([self.world.phones, extra])
        return ix
