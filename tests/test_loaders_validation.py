"""Validation: the first failing rule gives a row's reason and column; good rows normalize."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from fusion.errors import BadInput
from loaders.ingest import load_files
from loaders.prepare import prepare_chunk, resolve_mapping
from loaders.profile import Profile
from loaders.readers import read_chunks, source_columns
from loaders.sources import source_for

HEADERS = {
    "persons": "id_no,name,phone,plate,address",
    "cases": "case_id,case_type,reported_at,id_no,name,phone,role,location,lat,lon,summary",
    "calls": "caller,callee,start_time,duration_s,call_type",
    "waybills": "waybill_no,sender_phone,receiver_phone,shipped_at,declared_value",
    "sightings": "subject_type,subject,sensor_id,seen_at,lat,lon",
}
GOOD = {
    "persons": "11010519491231002x,张三,138-1234-5678,浙d·12345,杭州市  西湖区",
    "cases": "A1,fraud,2024-03-01 08:00:00,11010519491231002X,张三,,suspect,杭州,30.2,120.1,x",
    "calls": "13812345678,13912345678,2024-03-01 08:00:00,60,voice",
    "waybills": "sf123,13812345678,13912345678,2024-03-01 08:00:00,99.5",
    "sightings": "plate,浙A12345,KK1,2024-03-01 08:00:00,30.2,120.1",
}
BAD = [
    ("persons", "330602199003071234,张三,,,", "BAD_ID_NO", "id_no"),
    ("persons", "11010519491231002X,,,,", "MISSING_FIELD", "name"),
    ("persons", "11010519491231002X,张三,12,,", "BAD_PHONE", "phone"),
    ("persons", "11010519491231002X,张三,,浙A#1,", "BAD_PLATE", "plate"),
    ("cases", "A1,fraud,2024-03-01 08:00:00,,,,suspect,,,,", "MISSING_FIELD", "id_no"),
    ("cases", "A1,fraud,2024-03-01 08:00:00,,,13812345678,嫌疑人,,,,", "UNKNOWN_VALUE", "role"),
    ("cases", "A1,fraud,yesterday,,,13812345678,victim,,,,", "BAD_TIMESTAMP", "reported_at"),
    ("cases", "A1,fraud,2024-03-01,,,13812345678,victim,,91,,", "BAD_COORDINATE", "lat"),
    ("calls", "13812345678,,2024-03-01 08:00:00,60,", "MISSING_FIELD", "callee"),
    ("calls", "13812345678,13912345678,2024-03-01 08:00:00,30s,", "BAD_NUMBER", "duration_s"),
    ("calls", "13812345678,13912345678,2024-03-01 08:00:00,3,video", "UNKNOWN_VALUE",
     "call_type"),
    ("calls", "1381234,bad,2024-03-01 08:00:00,-1,video", "BAD_PHONE", "caller"),
    ("waybills", ",13812345678,13912345678,2024-03-01 08:00:00,", "MISSING_FIELD",
     "waybill_no"),
    ("waybills", "w1,13812345678,13912345678,2024-03-01 08:00:00,lots", "BAD_NUMBER",
     "declared_value"),
    ("sightings", "face,浙A12345,KK1,2024-03-01 08:00:00,,", "UNKNOWN_VALUE", "subject_type"),
    ("sightings", "phone,浙A12345,KK1,2024-03-01 08:00:00,,", "BAD_PHONE", "subject"),
    ("sightings", "plate,13812345678999,KK1,2024-03-01 08:00:00,,", "BAD_PLATE", "subject"),
    ("sightings", "plate,浙A12345,KK1,2024-03-01 08:00:00,30,181", "BAD_COORDINATE", "lon"),
]


def _prepare(tmp_path: Path, kind: str, body: str):
    path = tmp_path / f"{kind}.csv"
    path.write_text(f"{HEADERS[kind]}\n{body}\n", encoding="utf-8")
    source, profile = source_for(kind), Profile()
    mapping = resolve_mapping(source, source_columns(path, profile), profile, path)
    return prepare_chunk(source, next(read_chunks(path, profile)), mapping, profile, "ZJ")


@pytest.mark.parametrize(("kind", "body", "reason", "column"), BAD)
def test_bad_row_is_quarantined_whole_with_reason_and_column(tmp_path, kind, body, reason,
                                                            column):
    prepared = _prepare(tmp_path, kind, body)
    assert prepared.records.height == 0
    q = prepared.quarantine
    assert q.select("_row", "_reason", "_column").row(0) == (1, reason, column)
    raw = body.split(",")
    assert [q[c][0] for c in HEADERS[kind].split(",")] == raw


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_row_loads(tmp_path, kind):
    prepared = _prepare(tmp_path, kind, GOOD[kind])
    assert prepared.quarantine.height == 0
    assert prepared.records.height == 1


def test_persons_row_is_normalized_per_the_contract(tmp_path):
    r = _prepare(tmp_path, "persons", GOOD["persons"]).records
    assert r.select("id_no", "phone", "plate", "address").row(0) == (
        "11010519491231002X", "+8613812345678", "浙D12345", "杭州市 西湖区")


def test_legacy_15_digit_id_is_upgraded(tmp_path):
    r = _prepare(tmp_path, "persons", "110105491231002,李四,,,").records
    assert r["id_no"][0] == "11010519491231002X"


def test_calls_default_call_type_is_voice_and_times_are_utc(tmp_path):
    r = _prepare(tmp_path, "calls", "13812345678,13912345678,2024-03-01 08:00:00,60,").records
    assert r["call_type"][0] == "voice"
    assert r.schema["start_time"] == pl.Datetime("us", "UTC")
    assert str(r["start_time"][0]) == "2024-03-01 00:00:00+00:00"


def test_case_with_only_a_phone_has_the_phone_as_person_key(tmp_path):
    r = _prepare(tmp_path, "cases", "A1,fraud,2024-03-01,,,13812345678,victim,,,,").records
    assert r["person"][0] == "+8613812345678"


def test_waybill_number_is_trimmed_and_upper_cased(tmp_path):
    assert _prepare(tmp_path, "waybills", GOOD["waybills"]).records["waybill_no"][0] == "SF123"


def test_short_csv_line_is_quarantined_not_fatal(tmp_path):
    prepared = _prepare(tmp_path, "calls", GOOD["calls"] + "\n13812345678,13912345678")
    assert prepared.records.height == 1
    assert prepared.quarantine.select("_reason", "_source_column").row(0) == (
        "MISSING_FIELD", "start_time")


# Every phone and time column reads its values the way the mapping profile says.
US_PROFILE = Profile(timezone="UTC", default_country="US")
FOLLOWS_PROFILE = [
    ("persons", "11010519491231002X,张三,(202) 555-0123,,", "phone", "+12025550123"),
    ("cases", "A1,fraud,2024-03-01 08:00:00,,,(202) 555-0123,victim,,,,", "reported_at",
     datetime(2024, 3, 1, 8, tzinfo=UTC)),
    ("cases", "A1,fraud,2024-03-01 08:00:00,,,(202) 555-0123,victim,,,,", "phone",
     "+12025550123"),
    ("calls", "2025550123,+8613812345678,2024-03-01 08:00:00,60,voice", "caller", "+12025550123"),
    ("calls", "+8613812345678,2025550123,2024-03-01 08:00:00,60,voice", "callee", "+12025550123"),
    ("calls", "+8613812345678,+8613912345678,2024-03-01 08:00:00,60,voice", "start_time",
     datetime(2024, 3, 1, 8, tzinfo=UTC)),
    ("waybills", "w1,2025550123,+8613812345678,2024-03-01 08:00:00,", "sender_phone",
     "+12025550123"),
    ("waybills", "w1,+8613812345678,2025550123,2024-03-01 08:00:00,", "receiver_phone",
     "+12025550123"),
    ("waybills", "w1,+8613812345678,+8613912345678,2024-03-01 08:00:00,", "shipped_at",
     datetime(2024, 3, 1, 8, tzinfo=UTC)),
    ("sightings", "plate,浙A12345,KK1,2024-03-01 08:00:00,,", "seen_at",
     datetime(2024, 3, 1, 8, tzinfo=UTC)),
    ("sightings", "phone,2025550123,KK1,2024-03-01 08:00:00,,", "subject", "+12025550123"),
]


@pytest.mark.parametrize(("kind", "body", "column", "expected"), FOLLOWS_PROFILE)
def test_phone_and_time_columns_follow_the_profile(tmp_path, kind, body, column, expected):
    path = tmp_path / f"{kind}.csv"
    path.write_text(f"{HEADERS[kind]}\n{body}\n", encoding="utf-8")
    source = source_for(kind)
    default = _prepare(tmp_path, kind, body)
    mapping = resolve_mapping(source, source_columns(path, US_PROFILE), US_PROFILE, path)
    prepared = prepare_chunk(source, next(read_chunks(path, US_PROFILE)), mapping, US_PROFILE,
                             "ZJ")
    assert prepared.quarantine.height == 0
    assert prepared.records[column][0] == expected
    # The default profile (CN, Asia/Shanghai) reads the same text differently.
    assert default.records.height == 0 or default.records[column][0] != expected


def test_unknown_source_is_bad_input_naming_the_known_ones(tmp_path):
    with pytest.raises(BadInput, match=r"unknown source 'texts'; expected one of persons, "
                                       r"cases, calls, waybills, sightings"):
        load_files(None, "neo4j", tmp_path, "texts", [tmp_path / "x.csv"], "ZJ")
