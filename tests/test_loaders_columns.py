"""Column-at-a-time normalization is exact to the per-value reference rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders import columns as c
from loaders.normalize import InvalidValue, normalize_phone


def _reference(rule, raw):
    try:
        return rule(raw), None
    except InvalidValue as exc:
        return None, exc.reason


def _spellings(digits: str) -> list[str]:
    return [digits, f"+86{digits}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
            f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}", f"0086{digits}", f"86{digits}"]


def test_phone_column_equals_normalize_phone_for_every_mobile_prefix():
    rng = random.Random(20240301)
    raws = [s for prefix in range(1000, 2000)
            for s in _spellings(f"{prefix}{rng.randrange(10**7):07d}")]
    checked = c.phones("CN")(pl.Series("p", raws))
    for raw, value, reason in zip(raws, checked.value, checked.reason, strict=True):
        assert (value, reason) == _reference(normalize_phone, raw), raw


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.from_regex(r"\A\+?[0-9][0-9 \-]{4,16}\Z"),
    st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
    st.text(max_size=14)), min_size=1, max_size=20),
    st.sampled_from(["CN", "US", "GB"]))
def test_phone_column_equals_normalize_phone_on_any_text(raws, country):
    checked = c.phones(country)(pl.Series("p", raws, pl.String))
    for raw, value, reason in zip(raws, checked.value, checked.reason, strict=True):
        assert (value, reason) == _reference(lambda v: normalize_phone(v, country), raw), raw


def test_phone_memo_answers_later_chunks_like_the_rule(monkeypatch):
    """Spellings met in an earlier chunk are looked up, per default country, and the memo
    starts over past its bound; every answer stays the reference rule's."""
    memo = c._PhoneMemo(limit=8)
    monkeypatch.setattr(c, "_PHONE_MEMO", memo)
    first = ["13812345678", "+86 139 1234 5678", "not a phone", "2125551234"]
    later = [*first, "15012345678", None, "13812345678"]
    for country in ("CN", "US"):
        for raws in (first, later, later):
            checked = c.phones(country)(pl.Series("p", raws, pl.String))
            for raw, value, reason in zip(raws, checked.value, checked.reason, strict=True):
                expected = ((None, None) if raw is None else
                            _reference(lambda v, k=country: normalize_phone(v, k), raw))
                assert (value, reason) == expected, (country, raw)
    known, todo = memo.split("CN", pl.Series(["13812345678", "18612345678"]))
    assert known["t"].to_list() == ["13812345678"] and todo.to_list() == ["18612345678"]
    memo.add("CN", pl.DataFrame({"t": [f"x{i}" for i in range(8)], "v": [None] * 8,
                                 "r": ["BAD_PHONE"] * 8},
                                schema=c.TABLE_SCHEMA))
    known, _todo = memo.split("CN", pl.Series(["13812345678", "x1"]))
    assert known["t"].to_list() == ["x1"]  # past the bound: started over
    memo.add("CN", known)  # added twice, held once
    assert memo.split("CN", pl.Series(["x1"]))[0].height == 1


_INSTANTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2090, 12, 31))


def _forms(moment: datetime, rng: random.Random) -> list[str]:
    base = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    utc = moment.replace(tzinfo=UTC)
    offset = timedelta(hours=rng.choice([-5, 0, 8]), minutes=rng.choice([0, 30]))
    return [
        base.strftime("%Y-%m-%d %H:%M:%S"), base.strftime("%Y/%m/%d %H:%M:%S"),
        base.strftime("%Y-%m-%dT%H:%M:%S.%f"), base.strftime("%Y%m%d%H%M%S"),
        (utc.astimezone(__import__("datetime").timezone(offset))).isoformat(),
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"), str(int(utc.timestamp())),
        str(int(utc.timestamp() * 1000)), base.strftime("%Y-%m-%d"),
        base.strftime("%Y-%m-%d %H:%M"),
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(_INSTANTS, min_size=1, max_size=8), st.integers(0, 10**6),
       st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London"]),
       st.sampled_from([None, "%Y%m%d%H%M%S", "%d.%m.%Y %H:%M"]))
def test_timestamp_column_equals_the_reference_rule(moments, seed, zone, fmt):
    rng = random.Random(seed)
    raws = [f for m in moments for f in _forms(m, rng)] + ["2024-02-30 12:00:00", "昨天下午",
                                                         "24:00", "2024-13-01T00:00:00Z"]
    checked = c.timestamp(zone, fmt)(pl.Series("t", raws))
    for raw, value, reason in zip(raws, checked.value, checked.reason, strict=True):
        want = _reference(lambda v: c.timestamp_from_text(v, zone, fmt), raw)
        assert (value, reason) == want, raw


def test_numeric_text_is_epoch_seconds_or_milliseconds():
    checked = c.timestamp("Asia/Shanghai", None)(pl.Series(["1710010100", "1710010100000"]))
    assert checked.value.to_list() == [datetime(2024, 3, 9, 18, 48, 20, tzinfo=UTC)] * 2


@pytest.mark.parametrize("raw", [
    "0001-01-01 00:00:00",            # the .NET / Go zero time, a common filler
    "0000-01-01 00:00:00", "9999-12-31T23:59:59-01:00", "1899-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z", "20240101120000",   # a CDR time without its format: not an epoch
])
def test_implausible_instants_are_bad_timestamps_on_both_paths(raw):
    checked = c.timestamp("Asia/Shanghai", None)(pl.Series([raw]))
    assert (checked.value[0], checked.reason[0]) == (None, "BAD_TIMESTAMP")
    assert _reference(lambda v: c.timestamp_from_text(v, "Asia/Shanghai", None), raw) == (
        None, "BAD_TIMESTAMP")


def test_the_plausible_range_ends_are_kept():
    raws = ["1900-01-01T00:00:00Z", "2099-12-31T23:59:59Z"]
    checked = c.timestamp("Asia/Shanghai", None)(pl.Series(raws))
    assert checked.value.to_list() == [datetime(1900, 1, 1, tzinfo=UTC),
                                       datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)]


def test_profile_format_is_tried_first_and_is_local_time():
    checked = c.timestamp("Asia/Shanghai", "%Y%m%d%H%M%S")(pl.Series(["20240309184820"]))
    assert checked.value.to_list() == [datetime(2024, 3, 9, 10, 48, 20, tzinfo=UTC)]


@pytest.mark.parametrize(("raw", "value", "reason"), [
    ("12", 12, None), ("12.0", 12, None), ("0", 0, None), ("-1", None, "BAD_NUMBER"),
    ("1.5", None, "BAD_NUMBER"), ("30s", None, "BAD_NUMBER"), ("十二", None, "BAD_NUMBER"),
    ("inf", None, "BAD_NUMBER")])
def test_count_accepts_whole_numbers_only(raw, value, reason):
    checked = c.count(pl.Series([raw]))
    assert (checked.value[0], checked.reason[0]) == (value, reason)


@pytest.mark.parametrize(("raw", "limit", "ok"), [
    ("90", 90, True), ("-90.0", 90, True), ("90.5", 90, False), ("180", 180, True),
    ("-180.01", 180, False), ("north", 90, False), ("nan", 90, False)])
def test_coordinates_outside_the_range_are_bad_coordinate(raw, limit, ok):
    checked = c.coordinate(limit)(pl.Series([raw]))
    assert (checked.reason[0] is None) == ok
    assert checked.reason[0] in (None, "BAD_COORDINATE")


def test_closed_vocabulary_is_case_insensitive_and_rejects_the_rest():
    checked = c.one_of(("voice", "sms"))(pl.Series(["Voice", "SMS", "video", None]))
    assert checked.value.to_list() == ["voice", "sms", None, None]
    assert checked.reason.to_list() == [None, None, "UNKNOWN_VALUE", None]


def test_blank_values_become_missing():
    assert c.blank_to_null(pl.Series([" a ", "", "   ", None])).to_list() == ["a", None, None,
                                                                                None]
