"""Reading source files: formats, encodings, compression, mapping, and files that cannot load."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders.errors import ProfileError, SourceError
from loaders.prepare import prepare_chunk, resolve_mapping
from loaders.profile import Profile, load_profile
from loaders.readers import MAX_RECORD_BYTES, read_chunks, source_columns
from loaders.sources import source_for

CALLS = "caller,callee,start_time,duration_s\n13812345678,13912345678,2024-03-01 08:00:00,60\n"


def _rows(path: Path, profile: Profile = Profile(), chunk_rows: int = 1000) -> pl.DataFrame:
    return pl.concat([c.frame for c in read_chunks(path, profile, chunk_rows)])


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CALLS.encode())
    assert source_columns(path, Profile())[0] == "caller"
    assert _rows(path).columns[0] == "caller"


def test_gbk_with_chinese_headers_reads_through_the_profile_encoding(tmp_path):
    path = tmp_path / "calls.csv.gz"
    text = ("主叫号码,被叫号码,通话开始时间,通话时长(秒),备注\n"
            "13812345678,13912345678,20240301080000,60,夜间\n")
    path.write_bytes(gzip.compress(text.encode("gbk")))
    profile = Profile(encoding="gbk")
    frame = _rows(path, profile)
    assert frame.columns == ["主叫号码", "被叫号码", "通话开始时间", "通话时长(秒)", "备注"]
    assert frame.row(0) == ("13812345678", "13912345678", "20240301080000", "60", "夜间")


def test_utf16_with_bom_reads_when_declared(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes(CALLS.encode("utf-16"))
    assert _rows(path, Profile(encoding="utf-16")).height == 1


def test_undecodable_file_names_the_encoding(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes("主叫,被叫\n张三,李四\n".encode("gbk"))
    with pytest.raises(SourceError, match=r"calls\.csv: cannot be decoded as utf-8"):
        _rows(path)


def test_records_up_to_the_limit_read_and_a_longer_one_is_named(tmp_path):
    path = tmp_path / "cases.csv"
    near = "x" * (MAX_RECORD_BYTES - 100)
    path.write_text(f"case_id,summary\nC1,\"{near}\"\nC2,short\n")
    assert _rows(path)["summary"].str.len_bytes().to_list() == [len(near), 5]
    path.write_text(f"case_id,summary\nC1,short\nC2,\"{near}\n{near}\n{near}\"\nC3,short\n")
    with pytest.raises(SourceError, match=r"cases\.csv: a record is longer than 4 MB"):
        _rows(path)


def test_chunks_number_rows_from_one_across_chunk_boundaries(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("caller\n" + "".join(f"{i}\n" for i in range(2500)))
    chunks = list(read_chunks(path, Profile(), chunk_rows=1000))
    assert [c.first_row for c in chunks] == [1, 1001, 2001]
    assert sum(c.frame.height for c in chunks) == 2500


def test_parquet_native_types_become_text(tmp_path):
    path = tmp_path / "calls.parquet"
    pl.DataFrame({"caller": ["13812345678"], "duration_s": [60], "lat": [30.5],
                  "start_time": pl.Series(["2024-03-01T00:00:00"]).str.to_datetime()
                  .dt.replace_time_zone("UTC")}).write_parquet(path)
    frame = _rows(path)
    assert frame.schema == {c: pl.String for c in frame.columns}
    assert frame.row(0) == ("13812345678", "60", "30.5", "2024-03-01T00:00:00.000000+00:00")


def test_ndjson_gzip_reads_objects_with_missing_keys(tmp_path):
    path = tmp_path / "sightings.jsonl.gz"
    lines = [{"subject": "浙A12345", "seen_at": 1709251200}, {"subject": "浙A12346"}]
    path.write_bytes(gzip.compress("\n".join(json.dumps(x, ensure_ascii=False)
                                             for x in lines).encode()))
    frame = _rows(path)
    assert frame["seen_at"].to_list() == ["1709251200", None]


def test_ndjson_line_that_is_not_an_object_names_its_row(tmp_path):
    path = tmp_path / "calls.ndjson"
    path.write_text('{"caller": "1"}\n[1, 2]\n')
    with pytest.raises(SourceError, match=r"calls\.ndjson: row 2: expected a JSON object"):
        _rows(path)


@pytest.mark.parametrize("name", ["calls.xlsx", "calls", "calls.parquet.gz"])
def test_unknown_file_types_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_text(CALLS)
    with pytest.raises(SourceError, match="unknown file type"):
        _rows(path)


def test_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        _rows(tmp_path / "absent.csv")


def test_corrupt_parquet_is_a_source_error(tmp_path):
    path = tmp_path / "calls.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError, match="not a readable Parquet file"):
        _rows(path)


def test_required_column_absent_after_mapping_names_file_and_column(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("caller,start_time,duration_s\n1,2,3\n")
    with pytest.raises(SourceError, match=r"calls\.csv: row 0 \(header\): required column "
                                          r"'callee' is missing after mapping"):
        resolve_mapping(source_for("calls"), source_columns(path, Profile()), Profile(), path)


def test_constants_satisfy_required_columns_and_unmapped_columns_are_kept(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("A,B,T,D,operator\n13812345678,13912345678,2024-03-01 08:00:00,60,CMCC\n")
    profile = Profile(columns={"A": "caller", "B": "callee", "T": "start_time",
                               "D": "duration_s"}, constants={"call_type": "sms"})
    mapping = resolve_mapping(source_for("calls"), source_columns(path, profile), profile, path)
    assert mapping.unmapped == ("operator",)
    chunk = next(read_chunks(path, profile))
    records = prepare_chunk(source_for("calls"), chunk, mapping, profile, "ZJ").records
    assert records.select("caller", "call_type", "region", "source").row(0) == (
        "+8613812345678", "sms", "ZJ", '{"operator":"CMCC"}')


def test_region_column_wins_over_the_command_line_region(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CALLS.replace("duration_s\n", "duration_s,region\n").replace("60\n", "60,JS\n")
                    + "13812345678,13912345678,2024-03-01 09:00:00,1,\n")
    mapping = resolve_mapping(source_for("calls"), source_columns(path, Profile()), Profile(),
                              path)
    records = prepare_chunk(source_for("calls"), next(read_chunks(path, Profile())), mapping,
                            Profile(), "ZJ").records
    assert records["region"].to_list() == ["JS", "ZJ"]


def test_profile_yaml_is_validated_with_the_field_at_fault(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("source: calls\nencoding: no-such-codec\ncolumns: {A: caller}\n")
    with pytest.raises(ProfileError, match=r"p\.yaml: invalid profile: encoding: .*no-such-codec"):
        load_profile(path)


def test_profile_mapping_onto_an_unknown_column_is_refused(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CALLS)
    profile = Profile(source="calls", columns={"caller": "calling_party"})
    with pytest.raises(ProfileError, match="'calling_party' is not a column of calls"):
        resolve_mapping(source_for("calls"), source_columns(path, profile), profile, path)


def test_profile_mapping_and_setting_one_column_is_refused(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CALLS)
    profile = Profile(source="calls", columns={"kind": "call_type"},
                      constants={"call_type": "voice"})
    with pytest.raises(ProfileError, match="call_type is both mapped from a source column and "
                                           "set as a constant"):
        resolve_mapping(source_for("calls"), source_columns(path, profile), profile, path)


def test_profile_for_another_source_is_refused(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CALLS)
    with pytest.raises(ProfileError, match="the profile is for 'persons', not 'calls'"):
        resolve_mapping(source_for("calls"), ["caller"], Profile(source="persons"), path)


def test_profile_file_hash_changes_with_its_bytes(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("source: calls\n")
    b.write_text("source: calls\ntimezone: UTC\n")
    assert load_profile(a)[1] != load_profile(b)[1]
    assert load_profile(b)[0].timezone == "UTC"


def test_a_gzip_csv_named_in_capitals_reads(tmp_path):
    path = tmp_path / "CALLS.CSV.GZ"
    path.write_bytes(gzip.compress(CALLS.encode()))
    assert _rows(path)["caller"].to_list() == ["13812345678"]


def test_parquet_durations_read_as_seconds(tmp_path):
    path = tmp_path / "calls.parquet"
    pq.write_table(pa.table({"caller": ["13812345678"] * 2,
                             "duration_s": pa.array([60_000_000, 1_500_000], pa.duration("us"))}),
                   path)
    assert _rows(path)["duration_s"].to_list() == ["60", "1.5"]


@pytest.mark.parametrize("column", [
    pa.array([{"a": 1}], pa.map_(pa.string(), pa.int64())),
    pa.array([b"\xff\xfe"], pa.binary()),
], ids=["map", "non-utf8-binary"])
def test_a_parquet_column_with_no_text_form_is_a_clear_error(tmp_path, column):
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"caller": ["13812345678"], "odd": column}), path)
    with pytest.raises(SourceError, match=r"odd\.parquet: a column cannot be read as text"):
        _rows(path)


def test_ndjson_keys_are_every_lines_keys_in_every_chunk(tmp_path):
    """A key that first appears after the first chunk is read, and a chunk without it has it
    empty: the chunks line up (they are concatenated when a load is split)."""
    path = tmp_path / "calls.jsonl"
    first = [{"caller": "13812345678", "callee": "13912345678", "start_time": f"2024-03-01 "
              f"08:00:{i % 60:02d}", "duration_s": 60} for i in range(30)]
    later = [{"call_type": "sms", "duration_s": 1, "callee": "13912345678",
              "caller": "13812345678", "start_time": "2024-03-02 08:00:00"}]
    path.write_text("\n".join(json.dumps(o) for o in first + later) + "\n")
    chunks = list(read_chunks(path, Profile(), 10))
    (columns,) = {tuple(c.frame.columns) for c in chunks}     # one shape for all chunks
    assert sorted(columns) == sorted(["caller", "callee", "start_time", "duration_s",
                                      "call_type"])
    assert source_columns(path, Profile()) == list(columns)
    assert pl.concat([c.frame for c in chunks])["call_type"].to_list() == [None] * 30 + ["sms"]


def test_ndjson_with_a_utf8_byte_order_mark_reads(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"caller": "13812345678"}).encode() + b"\n")
    assert _rows(path)["caller"].to_list() == ["13812345678"]


def test_whole_floats_read_as_integers_and_others_as_written(tmp_path):
    """pandas writes an integer column with gaps as floats: a phone 13812345678.0 is the
    phone; 1.5, NaN and a number beyond float precision stay as written."""
    path = tmp_path / "persons.parquet"
    pq.write_table(pa.table({"phone": [13812345678.0, None, 1.5, float("nan"), 1e17]}), path)
    assert _rows(path)["phone"].to_list() == ["13812345678", None, "1.5", "NaN", "1e+17"]
