"""Split loads (loaders.partitions): many partitions and chunks give the answers of one.

Files are small, so the partition size and the split's chunk are shrunk: the load runs through
dozens of partitions, each staged while the one before is written. The oracles are a row-by-row
recount of the file (CALLED, SEEN_AT, Sensor coordinates) and the same file loaded as one
partition in one chunk (graph, accounting, quarantine file, event store).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from fusion.errors import UnreadableFile
from loaders import partitions
from loaders.eventstore import scan_events
from loaders.ingest import load_files
from loaders.normalize import normalize_phone, normalize_plate, parse_timestamp
from loaders.partitions import partition_of
from loaders.prepare import resolve_mapping
from loaders.profile import DEFAULT_PROFILE
from loaders.sources import source_for
from tests.test_loaders_graph import _called, _expected_called, _snapshot


def _calls_text(rows: int = 600) -> tuple[str, str]:
    """Calls with three spellings of each phone, repeats, bad rows and unsplittable lines;
    and the same without its bad rows and lines (for the recount)."""
    lines = ["caller,callee,start_time,duration_s,call_type,region"]
    clean = lines[:]
    for i in range(rows):
        a, b = 13800000000 + i % 37, 13900000000 + (i * 7) % 23
        spelled = [str(a), f"+86 {str(a)[:3]} {str(a)[3:7]} {str(a)[7:]}",
                   f"{str(a)[:3]}-{str(a)[3:7]}-{str(a)[7:]}"][i % 3]
        region = "" if i % 5 else "JS"
        lines.append(f"{spelled},{b},2024-03-01 {i // 60 % 24:02d}:{i % 60:02d}:00,"
                     f"{i % 50},{'sms' if i % 9 == 0 else 'voice'},{region}")
        clean.append(lines[-1])
        if i % 31 == 0:
            lines.append(lines[-1])  # a repeat
        if i % 47 == 0:
            lines.append(f"{a},{b},not a time,1,voice,")  # a bad row
        if i % 101 == 0:
            lines.append(f"{a},{b}")  # a line with too few fields
    return "\n".join(lines) + "\n", "\n".join(clean) + "\n"


def _small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions, "PART_BYTES", 512)
    monkeypatch.setattr(partitions, "SPLIT_CHUNK_ROWS", 97)


def _store(home: Path, kind: str) -> pl.DataFrame:
    return scan_events(home, kind).drop("load_id").sort("row").collect()


pytestmark = pytest.mark.neo4j


def test_calls_in_many_partitions_equal_one_partition_and_the_recount(
        empty_graph, neo4j_settings, tmp_path, monkeypatch):
    text, clean = _calls_text()
    file = tmp_path / "calls.csv"
    file.write_text(text)
    db = neo4j_settings.neo4j_database
    # The same chunks both times: a chunk's unsplittable lines follow its rejected rows.
    monkeypatch.setattr(partitions, "SPLIT_CHUNK_ROWS", 97)
    with monkeypatch.context() as patch:
        patch.setattr(partitions, "PART_BYTES", 512)
        assert partitions.partition_count(file) > 20
        split = load_files(empty_graph, db, tmp_path / "split", "calls", [file], "ZJ")
    split_graph = _snapshot(empty_graph)
    called = _called(empty_graph)
    expected = _expected_called(clean)  # row by row, with the reference rules
    assert {k: (v["count"], v["total_duration_s"]) for k, v in called.items()} == {
        k: (v["count"], v["total_duration_s"]) for k, v in expected.items()}

    with empty_graph.session(database=db) as session:
        session.run("MATCH (n) DETACH DELETE n").consume()
    whole = load_files(empty_graph, db, tmp_path / "whole", "calls", [file], "ZJ")
    assert partitions.partition_count(file) == 1
    assert split.total.as_dict() == whole.total.as_dict()
    assert split.total.balanced and split.total.duplicates and split.total.quarantined
    assert split_graph == _snapshot(empty_graph)
    assert split.loads[0].quarantine_file.read_bytes() == \
        whole.loads[0].quarantine_file.read_bytes()
    assert _store(tmp_path / "split", "calls").equals(_store(tmp_path / "whole", "calls"))
    assert not any((tmp_path / "split" / "events" / "calls" / "spill").iterdir())


def _sightings_text(rows: int = 500) -> str:
    """Plates and phones at sensors whose reported coordinates drift from row to row."""
    lines = ["subject_type,subject,sensor_id,seen_at,lat,lon"]
    for i in range(rows):
        kind = "plate" if i % 4 else "phone"
        subject = f"浙A{i % 19:05d}" if kind == "plate" else f"1370000{i % 11:04d}"
        lat = "" if i % 7 == 0 else f"{30 + i / 1000:.4f}"
        lines.append(f"{kind},{subject},KK{i % 13:03d},2024-03-02 {i // 60 % 24:02d}:"
                     f"{i % 60:02d}:00,{lat},120.5")
    return "\n".join(lines) + "\n"


def _expected_sightings(text: str) -> tuple[dict, dict]:
    """SEEN_AT counts per (subject, sensor) and each sensor's last non-null latitude."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    lat: dict[str, float] = {}
    seen = set()
    for row in csv.DictReader(io.StringIO(text)):
        subject = (normalize_plate(row["subject"]) if row["subject_type"] == "plate"
                   else normalize_phone(row["subject"]))
        key = (row["subject_type"], subject, row["sensor_id"], parse_timestamp(row["seen_at"]))
        if key in seen:
            continue
        seen.add(key)
        counts[(subject, row["sensor_id"])] += 1
        if row["lat"]:
            lat[row["sensor_id"]] = float(row["lat"])
    return dict(counts), lat


def test_sightings_in_many_partitions_keep_file_order_properties(
        empty_graph, neo4j_settings, tmp_path, monkeypatch):
    text = _sightings_text()
    file = tmp_path / "sightings.csv"
    file.write_text(text)
    _small_partitions(monkeypatch)
    assert partitions.partition_count(file) > 20
    load_files(empty_graph, neo4j_settings.neo4j_database, tmp_path / "home", "sightings",
               [file], "ZJ")
    counts, lat = _expected_sightings(text)
    seen, _, _ = empty_graph.execute_query(
        "MATCH (a)-[r:SEEN_AT]->(s:Sensor) RETURN a.key AS a, s.key AS s, r.count AS n")
    assert {(x["a"], x["s"]): x["n"] for x in seen} == counts
    sensors, _, _ = empty_graph.execute_query("MATCH (s:Sensor) RETURN s.key AS k, s.lat AS lat")
    assert {x["k"]: x["lat"] for x in sensors} == lat


def test_a_bad_second_file_removes_the_first_files_split(empty_graph, neo4j_settings,
                                                         tmp_path, monkeypatch):
    _small_partitions(monkeypatch)
    good = tmp_path / "good.csv"
    good.write_text(_calls_text(200)[0])
    bad = tmp_path / "bad.csv"
    bad.write_bytes("caller,callee,start_time,duration_s\n张三,李四,x,1\n".encode("gbk"))
    home = tmp_path / "home"
    with pytest.raises(UnreadableFile):
        load_files(empty_graph, neo4j_settings.neo4j_database, home, "calls", [good, bad], "ZJ")
    records, _, _ = empty_graph.execute_query("MATCH (n) RETURN count(n) AS n")
    assert records[0]["n"] == 0
    assert not [p for p in (home / "events").rglob("*") if p.is_file() and p.name != ".lock"]
    assert not [p for p in (home / "quarantine").rglob("*") if p.is_file()]


@pytest.mark.parametrize("parts", [2, 7, 64])
def test_every_spelling_of_a_start_phone_lands_in_one_partition(tmp_path, parts):
    file = tmp_path / "c.csv"
    file.write_text(_calls_text(300)[1])
    source = source_for("calls")
    raw = pl.read_csv(file, infer_schema_length=0)
    mapping = resolve_mapping(source, raw.columns, DEFAULT_PROFILE, file)
    part = partition_of(source, raw, mapping, DEFAULT_PROFILE, parts)
    caller = raw["caller"].map_elements(normalize_phone, return_dtype=pl.String)
    per_phone = pl.DataFrame({"phone": caller, "part": part}).group_by("phone").agg(
        pl.col("part").n_unique().alias("n"))
    assert per_phone["n"].max() == 1
    assert pl.DataFrame({"part": part})["part"].n_unique() > 1


def test_read_ahead_yields_in_order_and_raises_the_readers_error_in_the_caller():
    def chunks():
        yield from range(5)
        raise UnreadableFile("bad.csv: cannot be decoded")

    got = []
    with pytest.raises(UnreadableFile, match="cannot be decoded"):
        for item in partitions.read_ahead(chunks()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]
    endless = partitions.read_ahead(iter(range(10**9)))
    assert [next(endless), next(endless)] == [0, 1]
    endless.close()  # stops the reader thread (the test would hang otherwise)
