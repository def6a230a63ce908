"""The three file dialects regions really deliver, and how canonical records are spelled in each.

- ``canonical``: canonical column names, UTF-8 CSV, ISO 8601 timestamps with offsets.
- ``gbk``: Chinese column headers, GBK, naive local timestamps ``%Y%m%d%H%M%S``, with a
  mapping profile per file (and a constant ``call_type`` for the voice-only call export).
- ``columnar``: Parquet and NDJSON with canonical names and native types.

Identifiers are spelled in every raw form the contract accepts, whatever the dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fusion.scenario import spelling as sp
from fusion.scenario.regions import CANONICAL, COLUMNAR, GBK

COMPACT = "%Y%m%d%H%M%S"
GBK_HEADERS: dict[str, dict[str, str]] = {
    "persons": {"身份证号": "id_no", "姓名": "name", "联系电话": "phone", "车牌号码": "plate",
                "户籍地址": "address"},
    "cases": {"案件编号": "case_id", "案件类别": "case_type", "报案时间": "reported_at",
              "身份证号": "id_no", "姓名": "name", "手机号码": "phone", "涉案角色": "role",
              "案发地点": "location", "纬度": "lat", "经度": "lon", "简要案情": "summary"},
    "calls": {"主叫号码": "caller", "被叫号码": "callee", "通话开始时间": "start_time",
              "通话时长(秒)": "duration_s", "基站编号": "cell_id", "串号": "imei"},
    "waybills": {"运单号": "waybill_no", "快递公司": "carrier", "寄件人": "sender_name",
                 "收件人": "receiver_name", "寄件人电话": "sender_phone",
                 "收件人电话": "receiver_phone", "寄件地址": "sender_address",
                 "收件地址": "receiver_address", "揽收时间": "shipped_at",
                 "签收时间": "delivered_at", "物品名称": "item", "保价金额": "declared_value",
                 "重量(千克)": "weight_kg"},
    "sightings": {"对象类型": "subject_type", "对象标识": "subject", "卡口编号": "sensor_id",
                  "过车时间": "seen_at", "纬度": "lat", "经度": "lon", "车速": "speed_kmh",
                  "方向": "direction"},
}
GBK_CONSTANTS = {"calls": {"call_type": "voice"}}
# Columns no contract field maps: kept by the loaders as source properties.
EXTRA_COLUMNS = {(CANONICAL, "calls"): "operator", (GBK, "calls"): "运营商",
                 (GBK, "sightings"): "车道编号", (COLUMNAR, "waybills"): "route_code"}
OPERATORS = {"00": "中国移动", "01": "中国联通", "11": "中国电信"}
FILE_NAMES = {
    CANONICAL: {"persons": "persons.csv", "cases": "cases.csv", "calls": "calls.csv",
                "waybills": "waybills.csv", "sightings": "sightings.csv.gz"},
    GBK: {s: f"{s}.csv" for s in GBK_HEADERS},
    COLUMNAR: {"persons": "persons.parquet", "cases": "cases.jsonl", "calls": "calls.parquet",
               "waybills": "waybills.jsonl", "sightings": "sightings.jsonl.gz"},
}
TIMES = {"cases": ("reported_at",), "calls": ("start_time",),
         "waybills": ("shipped_at", "delivered_at"), "sightings": ("seen_at",)}
PHONES = {"persons": ("phone",), "cases": ("phone",), "calls": ("caller", "callee"),
          "waybills": ("sender_phone", "receiver_phone")}
ADDRESSES = {"persons": ("address",), "cases": ("location",),
             "waybills": ("sender_address", "receiver_address")}


@dataclass(frozen=True)
class Dialect:
    """How one region spells its files."""

    name: str
    encoding: str = "utf-8"
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def file_name(self, source: str) -> str:
        """File name of ``source`` in this dialect."""
        return FILE_NAMES[self.name][source]

    def needs_profile(self) -> bool:
        """Whether files of this dialect come with a mapping profile."""
        return self.name == GBK


def dialect(name: str) -> Dialect:
    """The Dialect called ``name``."""
    if name == GBK:
        return Dialect(GBK, "gbk", GBK_HEADERS)
    return Dialect(name)


def render(source: str, dialect_name: str, rows: pl.DataFrame,
           rng: np.random.Generator) -> pl.DataFrame:
    """Canonical rows spelled as ``dialect_name`` writes them (canonical column names)."""
    out = rows.with_columns(_spelled_identifiers(source, rows, rng))
    out = out.with_columns(_times(source, dialect_name, rows, rng))
    if dialect_name == GBK and source == "calls":
        if (rows["call_type"] != "voice").any():
            raise ValueError("the GBK call export is voice-only (call_type is a constant)")
        out = out.drop("call_type")
    extra = EXTRA_COLUMNS.get((dialect_name, source))
    if extra:
        out = out.with_columns(_extra(source, rows, rng).alias(extra))
    if dialect_name != COLUMNAR:
        return out.with_columns(pl.col(c).cast(pl.String) for c in out.columns
                                if not c.startswith("_"))
    return out


def _spelled_identifiers(source: str, rows: pl.DataFrame,
                         rng: np.random.Generator) -> list[pl.Series]:
    out = [sp.spell_phones(rows[c], rng) for c in PHONES.get(source, ())]
    out += [sp.spell_addresses(rows[c], rng) for c in ADDRESSES.get(source, ())]
    if "id_no" in rows.columns:
        out.append(sp.spell_ids(rows["id_no"], rows["_legacy"], rng))
    if source == "persons":
        out.append(sp.spell_plates(rows["plate"], rng))
    if source == "waybills":
        out.append(sp.spell_upper(rows["waybill_no"], rng))
    if source == "sightings":
        plate = sp.spell_plates(rows["subject"], rng)
        phone = sp.spell_phones(rows["subject"], rng)
        out.append(pl.select(pl.when(rows["subject_type"] == "plate").then(plate)
                             .otherwise(phone).alias("subject")).to_series())
    return out


def _times(source: str, dialect_name: str, rows: pl.DataFrame,
           rng: np.random.Generator) -> list[pl.Series]:
    out = []
    for column in TIMES.get(source, ()):
        values = rows[column]
        if dialect_name == GBK:
            out.append(sp.local_format(values, COMPACT))
        elif dialect_name == CANONICAL:
            out.append(sp.spell_iso_times(values, rng))
        elif source == "calls":
            out.append(pl.from_epoch(values * 1000, time_unit="ms")
                       .dt.replace_time_zone("UTC").alias(column))
        elif column == "delivered_at":
            out.append(values)  # epoch seconds, numeric
        elif source == "cases":
            out.append(sp.iso_local(values))
        else:
            out.append(sp.iso_utc(values))
    return out


def _extra(source: str, rows: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """The unmapped column of a file: operator, lane or route code."""
    if source == "calls":
        mnc = rows["cell_id"].str.slice(4, 2)
        return mnc.replace_strict(OPERATORS, default=None, return_dtype=pl.String)
    if source == "sightings":
        return pl.Series(rng.integers(1, 5, len(rows))).cast(pl.String)
    route = pl.Series("r", rng.integers(100, 999, len(rows))).cast(pl.String)
    return pl.select(pl.concat_str([pl.lit("R"), route])).to_series()


def header_row(source: str, dialect_name: str, columns: list[str]) -> list[str]:
    """Column names as they appear in the file."""
    if dialect_name != GBK:
        return columns
    back = {canon: raw for raw, canon in GBK_HEADERS[source].items()}
    return [back.get(c, c) for c in columns]


def profile(source: str, dialect_name: str) -> dict | None:
    """The mapping profile (YAML data) of a GBK file, or None."""
    if dialect_name != GBK:
        return None
    doc = {"source": source, "encoding": "gbk", "delimiter": ",", "timezone": "Asia/Shanghai",
           "timestamp_format": COMPACT, "default_country": "CN",
           "columns": dict(GBK_HEADERS[source])}
    if source in GBK_CONSTANTS:
        doc["constants"] = dict(GBK_CONSTANTS[source])
    return doc
