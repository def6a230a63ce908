"""The alert rules without a database: parameter checks, the delta's mentions, watch hits."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from fusion.errors import BadInput
from fusion.services.alertrules import alert_id, mentions, watch_hits
from fusion.services.watchlists import normalize_entries, standing_params
from loaders.normalize import canonical_key


@pytest.mark.parametrize("params", [
    {}, {"subjects": "浙A12345"}, {"subjects": [["VEHICLE"]]}, {"subjects": [[1, 2]]},
    {"subjects": [["PERSON", "110101199003074477"]]},
    {"subjects": [["VEHICLE", "浙A12345"]], "window_s": "60"},
    {"subjects": [["VEHICLE", "浙A12345"]], "min_meetings": 0},
    {"subjects": [["VEHICLE", "浙A12345"]], "min_sensors": 1.5},
    {"subjects": [["VEHICLE", "浙A12345"]], "window_s": 86_401},
    {"subjects": [["VEHICLE", "浙A12345"]], "window_s": 1e9},
])
def test_bad_cotravel_parameters_are_bad_input(params):
    with pytest.raises(BadInput):
        standing_params("COTRAVEL", params)


def test_cotravel_parameters_are_normalized_and_completed():
    checked = standing_params("COTRAVEL", {"subjects": [["VEHICLE", "浙a 12345"]],
                                           "window_s": 60})
    assert checked["subjects"] == [["VEHICLE", canonical_key("VEHICLE", "浙a 12345")]]
    assert checked["window_s"] == 60.0 and checked["min_meetings"] >= 1


def test_entries_are_deduplicated_after_normalization_and_kinds_checked():
    assert normalize_entries([("VEHICLE", "浙a12345"), ("VEHICLE", "浙A12345")]) == (
        ("VEHICLE", canonical_key("VEHICLE", "浙A12345")),)
    with pytest.raises(BadInput, match="SENSOR"):
        normalize_entries([("SENSOR", "S-1")])
    with pytest.raises(BadInput, match="at least one"):
        normalize_entries([])


def test_alert_ids_are_stable_and_distinct():
    assert alert_id("W", "a", "b") == alert_id("W", "a", "b")
    assert alert_id("W", "a", "b") != alert_id("W", "ab", "")


def test_mentions_and_hits_follow_subject_type_and_scope():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    delta = pl.DataFrame({
        "subject_type": ["plate", "phone", "plate"],
        "subject": ["浙A12345", "+8613800138000", "浙A12345"],
        "sensor_id": ["S1", "S1", "S2"], "seen_at": [at, at, at],
        "region": ["A", "A", "B"], "row": [1, 2, 3]})
    found = mentions(delta, "sightings")
    assert set(found.select("kind", "key").unique().rows()) == {
        ("VEHICLE", "浙A12345"), ("PHONE", "+8613800138000")}
    hits = watch_hits(found, [("VEHICLE", "浙A12345")], frozenset({"A"}))
    assert hits.rows() == [("VEHICLE", "浙A12345", [1])]  # row 3 is region B's
    assert watch_hits(found, [("PHONE", "浙A12345")], frozenset({"A", "B"})).height == 0
