"""An independent reading of a generated scenario, by the input contract's rules.

Written apart from the generator (no import of fusion.scenario): files are read with the csv,
json, gzip and pyarrow modules, mapped through their profiles, validated field by field with
the normalize functions, and de-duplicated across the load order. Every failing rule of a row
is collected, so a test can check that each bad row has exactly one reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from loaders.normalize import (
    InvalidValue,
    normalize_address,
    normalize_id_no,
    normalize_phone,
    normalize_plate,
    parse_timestamp,
)

ROLES = {"suspect", "victim", "witness", "reporter"}


@dataclass
class Row:
    """One data row: canonical values, every failing reason, its natural key and node keys."""

    values: dict
    reasons: set[str] = field(default_factory=set)
    key: tuple | None = None
    nodes: list[tuple[str, str]] = field(default_factory=list)
    sighting: tuple | None = None  # (subject_type, subject, sensor_id, epoch seconds)


def read_rows(root: Path, entry: dict) -> tuple[list[dict], dict]:
    """Rows of one load_order entry (canonical names, constants applied) and its profile."""
    profile = yaml.safe_load((root / entry["profile"]).read_text("utf-8")) if entry[
        "profile"] else {}
    path = root / entry["file"]
    name = path.name
    if name.endswith(".parquet"):
        rows = pq.read_table(path).to_pylist()
    elif ".jsonl" in name:
        data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
    else:
        data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        text = data.decode(profile.get("encoding", "utf-8"))
        rows = list(csv.DictReader(io.StringIO(text), delimiter=profile.get("delimiter", ",")))
    mapping = profile.get("columns", {})
    constants = profile.get("constants", {})
    out = [{mapping.get(k, k): v for k, v in row.items()} | constants for row in rows]
    return out, profile


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class Validator:
    """Validates rows of one file under one profile."""

    def __init__(self, profile: dict):
        self.tz = profile.get("timezone", "Asia/Shanghai")
        self.fmt = profile.get("timestamp_format")
        self.country = profile.get("default_country", "CN")

    def check(self, row: Row, column: str, fn, required: bool = True):
        """Apply ``fn`` to a column; record the reason on failure; return the value or None."""
        value = row.values.get(column)
        if _empty(value):
            if required:
                row.reasons.add("MISSING_FIELD")
            return None
        try:
            return fn(value)
        except InvalidValue as exc:
            row.reasons.add(exc.reason)
            return None

    def phone(self, value: object) -> str:
        return normalize_phone(str(value), self.country)

    def time(self, value: object) -> int:
        return int(parse_timestamp(value, self.tz, self.fmt).timestamp())

    def coordinate(self, row: Row, column: str, limit: float) -> None:
        value = row.values.get(column)
        if not _empty(value) and not -limit <= float(value) <= limit:
            row.reasons.add("BAD_COORDINATE")

    def validate(self, source: str, values: dict) -> Row:
        """A Row with reasons, natural key and node keys of ``values``."""
        row = Row(values)
        getattr(self, f"_{source}")(row)
        return row

    def _persons(self, row: Row) -> None:
        id_no = self.check(row, "id_no", normalize_id_no)
        name = self.check(row, "name", lambda v: str(v).strip())
        phone = self.check(row, "phone", self.phone, required=False)
        plate = self.check(row, "plate", normalize_plate, required=False)
        address = self.check(row, "address", normalize_address, required=False)
        row.key = ("persons", id_no, name, phone, plate, address)
        row.nodes = [("Person", id_no), ("Phone", phone), ("Vehicle", plate),
                     ("Address", address)]

    def _cases(self, row: Row) -> None:
        case_id = self.check(row, "case_id", lambda v: str(v).strip())
        self.check(row, "case_type", str)
        self.check(row, "reported_at", self.time)
        if self.check(row, "role", str) not in ROLES | {None}:
            row.reasons.add("UNKNOWN_VALUE")
        if _empty(row.values.get("id_no")) and _empty(row.values.get("phone")):
            row.reasons.add("MISSING_FIELD")
        id_no = self.check(row, "id_no", normalize_id_no, required=False)
        phone = self.check(row, "phone", self.phone, required=False)
        self.coordinate(row, "lat", 90)
        self.coordinate(row, "lon", 180)
        location = self.check(row, "location", normalize_address, required=False)
        row.key = ("cases", case_id, id_no or phone)
        row.nodes = [("Case", case_id), ("Person", id_no), ("Phone", phone),
                     ("Address", location)]

    def _calls(self, row: Row) -> None:
        caller = self.check(row, "caller", self.phone)
        callee = self.check(row, "callee", self.phone)
        start = self.check(row, "start_time", self.time)
        duration = row.values.get("duration_s")
        if _empty(duration):
            row.reasons.add("MISSING_FIELD")
        elif not re.fullmatch(r"\d+", str(duration)):
            row.reasons.add("BAD_NUMBER")
        call_type = row.values.get("call_type") or "voice"
        if call_type not in ("voice", "sms"):
            row.reasons.add("UNKNOWN_VALUE")
        row.key = ("calls", caller, callee, start, call_type)
        row.nodes = [("Phone", caller), ("Phone", callee)]

    def _waybills(self, row: Row) -> None:
        number = self.check(row, "waybill_no", lambda v: str(v).strip().upper())
        sender = self.check(row, "sender_phone", self.phone)
        receiver = self.check(row, "receiver_phone", self.phone)
        self.check(row, "shipped_at", self.time)
        self.check(row, "delivered_at", self.time, required=False)
        addresses = [self.check(row, c, normalize_address, required=False)
                     for c in ("sender_address", "receiver_address")]
        row.key = ("waybills", number)
        row.nodes = [("Parcel", number), ("Phone", sender), ("Phone", receiver)] + [
            ("Address", a) for a in addresses]

    def _sightings(self, row: Row) -> None:
        kind = self.check(row, "subject_type", str)
        if kind not in ("plate", "phone", None):
            row.reasons.add("UNKNOWN_VALUE")
        normalize = normalize_plate if kind == "plate" else self.phone
        subject = self.check(row, "subject", normalize) if kind in ("plate", "phone") else None
        sensor = self.check(row, "sensor_id", lambda v: str(v).strip())
        seen = self.check(row, "seen_at", self.time)
        self.coordinate(row, "lat", 90)
        self.coordinate(row, "lon", 180)
        row.key = ("sightings", kind, subject, sensor, seen)
        row.sighting = (kind, subject, sensor, seen)
        label = "Vehicle" if kind == "plate" else "Phone"
        row.nodes = [(label, subject), ("Sensor", sensor)]


@dataclass
class Replay:
    """The outcome of loading a whole scenario in its load order."""

    accounts: list[dict]
    nodes: dict[str, set]
    bad_rows: list[tuple[str, Row]]
    sightings: list[tuple]  # (region, subject_type, subject, sensor_id, epoch seconds)
    calls: list[tuple]      # (region, caller, callee, start, call_type)
    loaded: dict[str, list[tuple[str, Row]]]


def replay(root: Path) -> Replay:
    """Load every file of ``root`` in truth.json's load order, independently of the generator."""
    truth = json.loads((root / "truth.json").read_text("utf-8"))
    seen: set[tuple] = set()
    result = Replay([], {}, [], [], [], {})
    for entry in truth["load_order"]:
        rows, profile = read_rows(root, entry)
        validator = Validator(profile)
        account = {"read": len(rows), "loaded": 0, "duplicates": 0, "quarantined_by_reason": {}}
        for values in rows:
            row = validator.validate(entry["kind"], values)
            if row.reasons:
                result.bad_rows.append((entry["file"], row))
                for reason in row.reasons:
                    by = account["quarantined_by_reason"]
                    by[reason] = by.get(reason, 0) + 1
                continue
            if row.key in seen:
                account["duplicates"] += 1
                continue
            seen.add(row.key)
            account["loaded"] += 1
            _collect(result, entry, row)
        result.accounts.append(account)
    return result


def _collect(result: Replay, entry: dict, row: Row) -> None:
    for label, key in row.nodes:
        if key is not None:
            result.nodes.setdefault(label, set()).add(key)
    result.loaded.setdefault(entry["kind"], []).append((entry["region"], row))
    if row.sighting:
        result.sightings.append((entry["region"], *row.sighting))
    if entry["kind"] == "calls":
        result.calls.append((entry["region"], *row.key[1:]))


def as_epoch(value: datetime) -> int:
    """Epoch seconds of an aware datetime."""
    return int(value.timestamp())
