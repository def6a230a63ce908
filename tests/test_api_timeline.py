"""timeline for every kind of entity, against the raw event store and direct Cypher, and within
scope."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from loaders.eventstore import scan_events

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

QUERY = """query($ref: EntityRef!, $limit: Int, $scope: ScopeInput) {
  timeline(ref: $ref, limit: $limit, scope: $scope) { at type summary entities { kind key }
                                                      regions details }
}"""


def _timeline(api, kind: str, key: str, **kw) -> list[dict]:
    return api.gql(QUERY, {"ref": {"kind": kind, "key": key}, "limit": 1000},
                   **kw)["timeline"]


def _at(events: list[dict], kind: str | None = None) -> list[datetime]:
    return [datetime.fromisoformat(e["at"]) for e in events if kind is None or e["type"] == kind]


def test_vehicle_timeline_is_its_sightings(api):
    plate = api.truth["cotravel_groups"][0]["members"][0]["key"]
    seen = scan_events(api.settings.home, "sightings").filter(
        (pl.col("subject_type") == "plate") & (pl.col("subject") == plate)).collect()
    got = _timeline(api, "VEHICLE", plate)
    assert {e["type"] for e in got} == {"SIGHTING"}
    assert _at(got) == sorted(seen["seen_at"].to_list())
    assert all({"kind": "VEHICLE", "key": plate} in e["entities"] for e in got)


def test_sensor_timeline_is_cut_at_the_limit_in_time_order(api):
    sensor = api.truth["cotravel_groups"][0]["sensors"][0]
    seen = scan_events(api.settings.home, "sightings").filter(
        pl.col("sensor_id") == sensor).collect()
    got = api.gql(QUERY, {"ref": {"kind": "SENSOR", "key": sensor}, "limit": 5})["timeline"]
    assert _at(got) == sorted(seen["seen_at"].to_list())[:5]


def test_parcel_timeline_is_its_waybill(api):
    waybill = api.truth["fraud_chain"]["waybill_no"]
    got = _timeline(api, "PARCEL", waybill)
    assert [e["type"] for e in got] == ["PARCEL"]
    assert {"kind": "PARCEL", "key": waybill} in got[0]["entities"]
    assert got[0]["details"]["carrier"]


def test_case_timeline_is_the_case(api, cypher):
    case = api.truth["fraud_chain"]["case_id"]
    (row,) = cypher("MATCH (c:Case {key: $k}) RETURN c.reported_at AS at", k=case)
    got = _timeline(api, "CASE", case)
    assert [(e["type"], datetime.fromisoformat(e["at"])) for e in got] == [
        ("CASE", row["at"].to_native())]


def test_address_timeline_is_its_parcels_and_cases(api, cypher):
    rows = cypher("MATCH (a:Address)<-[:OCCURRED_AT]-(c:Case) "
                  "WITH a, count(c) AS n ORDER BY n DESC, a.key LIMIT 1 RETURN a.key AS k")
    address = rows[0]["k"]
    parcels = cypher("MATCH (:Address {key: $a})<-[:FROM_ADDRESS|TO_ADDRESS]-(x:Parcel) "
                     "RETURN DISTINCT x.shipped_at AS at", a=address)
    cases = cypher("MATCH (:Address {key: $a})<-[:OCCURRED_AT]-(c) RETURN c.reported_at AS at",
                   a=address)
    got = _timeline(api, "ADDRESS", address)
    assert _at(got, "CASE") == sorted(c["at"].to_native() for c in cases)
    assert _at(got, "PARCEL") == sorted(p["at"].to_native() for p in parcels)


def test_timeline_sees_only_events_in_scope(api):
    phone = api.truth["fraud_chain"]["victim_phone"]
    region = api.truth["fraud_chain"]["victim_region"]
    calls = scan_events(api.settings.home, "calls").filter(
        (pl.col("caller") == phone) | (pl.col("callee") == phone)).collect()
    inside = calls.filter(pl.col("regions").list.contains(region))
    got = _timeline(api, "PHONE", phone, regions=(region,))
    assert all(region in e["regions"] for e in got)
    assert _at(got, "CALL") + _at(got, "SMS") == sorted(
        [t for t, k in inside.select("start_time", "call_type").rows() if k != "sms"]) + sorted(
        [t for t, k in inside.select("start_time", "call_type").rows() if k == "sms"])
