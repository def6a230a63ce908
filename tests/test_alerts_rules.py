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


def _alert(n: int, owner: str):
    from fusion.services.alerts import Alert

    return Alert(f"A{n}", owner, "WATCHLIST", "w", "w", "s", ("VEHICLE:x",), [], None, ("R",),
                 "p", None, datetime(2024, 1, 1, tzinfo=UTC))


def test_a_subscriber_gets_only_its_owners_alerts_and_one_that_falls_behind_is_told(
        monkeypatch):
    import asyncio

    from fusion.api import alerthub
    from fusion.services.webhooks import WebhookPolicy

    monkeypatch.setattr(alerthub, "QUEUE_SIZE", 2)

    async def main():
        hub = alerthub.AlertHub(None, WebhookPolicy(b"k", 1, 0.0, None), 1.0)
        mine, other = hub.subscribe("ann"), hub.subscribe("bob")
        hub.publish([_alert(1, "ann"), _alert(2, "ann"), _alert(3, "ann"), _alert(4, "bob")])
        hub.publish([_alert(1, "ann")])                 # already handed: not again
        got = [mine.get_nowait().id for _ in range(mine.qsize())]
        state = (got, other.get_nowait().id, mine in hub.dropped, other in hub.dropped)
        hub.unsubscribe(mine)
        await hub.client.aclose()
        return state, mine in hub.dropped

    (got, others, dropped, other_dropped), still = asyncio.run(main())
    assert got == ["A1", "A2"] and others == "A4"
    assert dropped and not other_dropped and not still
