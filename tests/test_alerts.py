"""Watchlists, standing queries and alerts end to end: a real Neo4j, the service under uvicorn,
loads as `fusion load` runs them, a real WebSocket client and a real local webhook receiver.

Expectations come from the rows each test writes (which plates it puts in which region) and,
for co-travel, from a brute-force meeting count of the contract's definition.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import combinations

import pytest

from bench._service import ThreadedService
from fusion.api.app import create_app
from loaders.normalize import InvalidValue, canonical_key
from queries.model import CO_TRAVEL_MIN_MEETINGS, CO_TRAVEL_MIN_SENSORS, CO_TRAVEL_WINDOW_S
from tests.alerts_support import (
    REGION_A,
    REGION_B,
    T0,
    WEBHOOK_KEY,
    Client,
    Subscriber,
    alerts_of,
    load,
    service_settings,
    token,
    wait_evaluated,
    write_sightings,
)

pytestmark = pytest.mark.neo4j

ALERTS = "query Mine { alerts { id regions evidence } }"

ADD_WATCHLIST = """
mutation Add($name: String!, $entries: [WatchEntryInput!]!, $scope: ScopeInput, $hook: String) {
  addWatchlist(name: $name, entries: $entries, scope: $scope, webhook: $hook) {
    id name entries regions jointOperation purpose
  }
}"""


@pytest.fixture
def settings(neo4j_settings, empty_graph):
    """The session's settings with a fresh graph and event store."""
    shutil.rmtree(neo4j_settings.home / "events", ignore_errors=True)
    shutil.rmtree(neo4j_settings.home / "alerts", ignore_errors=True)
    return service_settings(neo4j_settings)


@pytest.fixture
def service(settings):
    with ThreadedService(create_app(settings), start_timeout=60) as server:
        yield server


def background(n: int, region_tag: str, start: datetime = T0) -> list[tuple]:
    """``n`` sightings of plates nobody watches, one sensor each, hours apart."""
    return [("plate", f"沪{region_tag}{k:05d}", f"BG-{k % 7}", start + timedelta(hours=k))
            for k in range(n)]


def watch(client: Client, user: str, plates: list[str], **kw) -> dict:
    entries = [{"kind": "VEHICLE", "key": p} for p in plates]
    variables = {"name": kw.pop("name", "gang plates"), "entries": entries, **kw}
    return client.gql(ADD_WATCHLIST, variables, user=user,
                      regions=kw.pop("regions", (REGION_A,)))["addWatchlist"]


def test_watched_plate_raises_exactly_one_alert_and_a_reload_none(service, settings, driver,
                                                                 tmp_path):
    client = Client(service.url)
    added = watch(client, "ana", ["浙a 12345"])  # raw form: normalized like the loaders
    assert added["entries"] == ["VEHICLE:" + canonical_key("VEHICLE", "浙a 12345")]
    subscriber = Subscriber(service.url, "ana")
    try:
        rows = background(40, "A") + [("plate", "浙A12345", "S-1", T0),
                                      ("plate", "浙A12345", "S-2", T0 + timedelta(minutes=9))]
        path = write_sightings(tmp_path / "day1.csv", rows)
        result = load(driver, settings, path, REGION_A)
        pushed = subscriber.next(timeout=15)
        assert pushed is not None and pushed["subjects"] == ["VEHICLE:浙A12345"]
        assert pushed["loadId"] == result.load_id
        assert subscriber.next(timeout=1.5) is None  # exactly one
        stored = alerts_of(driver, settings, "ana")
        assert [a["id"] for a in stored] == [pushed["id"]]
        assert len(json.loads(stored[0]["evidence"])) == 2  # both sightings are evidence

        again = load(driver, settings, path, REGION_A)
        assert again.status == "reloaded"
        assert subscriber.next(timeout=2) is None
        assert len(alerts_of(driver, settings, "ana")) == 1
    finally:
        subscriber.close()
    listed = client.gql("{ alerts { id state subjects } }", user="ana")["alerts"]
    assert [a["id"] for a in listed] == [pushed["id"]]
    assert client.gql("{ alerts { id } }", user="someone-else")["alerts"] == []


def test_triage_keeps_who_when_why_and_is_audited(service, settings, driver, tmp_path):
    client = Client(service.url)
    watch(client, "tri", ["浙B77777"])
    path = write_sightings(tmp_path / "t.csv", [("plate", "浙B77777", "S-1", T0)])
    wait_evaluated(driver, settings, load(driver, settings, path, REGION_A).load_id)
    (alert,) = alerts_of(driver, settings, "tri")
    triage = """mutation Triage($id: ID!) { triageAlert(id: $id, state: CONFIRMED,
                reason: "seen by patrol") { state triagedBy triagedAt triageReason } }"""
    done = client.gql(triage, {"id": alert["id"]}, user="tri")["triageAlert"]
    assert (done["state"], done["triagedBy"], done["triageReason"]) == (
        "CONFIRMED", "tri", "seen by patrol")
    body = client.post(triage, {"id": alert["id"]}, user="tri")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # triaged once
    lines = _audit_records(settings)
    assert any(r.get("user") == "tri" and r.get("purpose") == "case 2026-0105"
               and r.get("operation_name") == "Triage" and r.get("outcome") == "allowed"
               for r in lines)


def _audit_records(settings) -> list[dict]:
    from fusion.auth.audit import audit_path

    return [json.loads(x) for x in audit_path(settings.home).read_text().splitlines()]


def test_region_b_data_reaches_a_region_a_owner_only_within_an_open_joint_operation(
        service, settings, driver, tmp_path):
    client = Client(service.url)
    watch(client, "amy", ["浙C55555"])
    first = write_sightings(tmp_path / "b1.csv", background(10, "B") + [
        ("plate", "浙C55555", "S-9", T0)])
    wait_evaluated(driver, settings, load(driver, settings, first, REGION_B).load_id)
    assert alerts_of(driver, settings, "amy") == []  # region-B-only data

    op = client.gql("""mutation { createJointOperation(name: "Op Fox", regions: ["330100",
        "440300"], members: ["amy"], validUntil: "2099-01-01T00:00:00Z") { id } }""",
                    user="boss", role="admin")["createJointOperation"]["id"]
    joint = watch(client, "amy", ["浙C55555"], name="joint", scope={"jointOperation": op})
    assert joint["jointOperation"] == op and set(joint["regions"]) == {REGION_A, REGION_B}
    second = write_sightings(tmp_path / "b2.csv", [("plate", "浙C55555", "S-9",
                                                    T0 + timedelta(days=1))])
    wait_evaluated(driver, settings, load(driver, settings, second, REGION_B).load_id)
    (alert,) = alerts_of(driver, settings, "amy")
    assert alert["source_id"] == joint["id"] and alert["joint_operation"] == op
    served = client.gql(ALERTS, user="amy")["alerts"]   # a home-region token, op open
    assert [a["id"] for a in served] == [alert["id"]]
    assert set(served[0]["regions"]) == {REGION_A, REGION_B}

    client.gql("mutation C($id: ID!) { closeJointOperation(id: $id) { id } }", {"id": op},
               user="boss", role="admin")
    assert client.gql(ALERTS, user="amy")["alerts"] == []   # region B's data is no longer
    listing = [r for r in _audit_records(settings)
               if r.get("user") == "amy" and r.get("operation_name") == "Mine"]
    assert [(r["scope"], r["result_count"]) for r in listing] == [
        (sorted({REGION_A, REGION_B}), 1), (None, 0)]
    third = write_sightings(tmp_path / "b3.csv", [("plate", "浙C55555", "S-9",
                                                   T0 + timedelta(days=2))])
    wait_evaluated(driver, settings, load(driver, settings, third, REGION_B).load_id)
    assert len(alerts_of(driver, settings, "amy")) == 1  # closing the operation stopped it


def _brute_meetings(rows: list[tuple], a: str, b: str, window: float) -> tuple[int, int]:
    """meetings(a, b) and distinct sensors, by the contract's definition, pair by pair."""
    def met(x: str, y: str) -> set[int]:
        return {i for i, r in enumerate(rows) if r[1] == x and any(
            s[1] == y and s[2] == r[2] and abs((s[3] - r[3]).total_seconds()) <= window
            for s in rows)}
    ma, mb = met(a, b), met(b, a)
    sensors = {rows[i][2] for i in ma | mb}
    return min(len(ma), len(mb)), len(sensors)


def _qualifies(rows: list[tuple], a: str, b: str) -> bool:
    meetings, sensors = _brute_meetings(rows, a, b, CO_TRAVEL_WINDOW_S)
    return meetings >= CO_TRAVEL_MIN_MEETINGS and sensors >= CO_TRAVEL_MIN_SENSORS


def test_standing_cotravel_alerts_when_a_new_partner_appears_and_not_before(
        service, settings, driver, tmp_path):
    client = Client(service.url)
    add = """mutation Add($saved: String) { addStandingQuery(name: "fox partners",
        kind: COTRAVEL, params: {subjects: [["VEHICLE", "浙D00001"]]}, savedQuery: $saved) {
        name } }"""
    missing = client.post(add, {"saved": "NoSuchQuery"}, user="cole")
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    client.gql(add, {"saved": "PlateCoTravellers"}, user="cole")
    target, partner = "浙D00001", "浙D00002"
    days: list[list[tuple]] = [
        [("plate", target, f"S-{k}", T0 + timedelta(hours=k)),
         ("plate", partner, f"S-{k}", T0 + timedelta(hours=k, seconds=40))] for k in range(4)]
    seen: list[tuple] = []
    for n, day in enumerate(days):
        seen += day
        path = write_sightings(tmp_path / f"c{n}.csv", day + background(5, f"C{n}"))
        wait_evaluated(driver, settings, load(driver, settings, path, REGION_A).load_id)
        expected = 1 if _qualifies(seen, target, partner) else 0
        alerts = alerts_of(driver, settings, "cole")
        assert len(alerts) == expected, (n, alerts)
    (alert,) = alerts
    assert alert["subjects"] == [f"VEHICLE:{target}|VEHICLE:{partner}"]
    assert not any(_qualifies(seen, a, b) for a, b in combinations(
        {r[1] for r in seen} - {target, partner}, 2))


def test_a_load_made_while_the_service_was_down_is_evaluated_once_on_restart(
        settings, driver, tmp_path):
    with ThreadedService(create_app(settings), start_timeout=60) as first:
        watch(Client(first.url), "dan", ["浙E24680"])
    path = write_sightings(tmp_path / "down.csv", [("plate", "浙E24680", "S-3", T0)])
    result = load(driver, settings, path, REGION_A)  # the service is down
    time.sleep(1)
    assert alerts_of(driver, settings, "dan") == []
    with ThreadedService(create_app(settings), start_timeout=60):
        marker = wait_evaluated(driver, settings, result.load_id)
    assert len(alerts_of(driver, settings, "dan")) == 1
    with ThreadedService(create_app(settings), start_timeout=60):
        time.sleep(1.5)
    assert len(alerts_of(driver, settings, "dan")) == 1
    assert wait_evaluated(driver, settings, result.load_id) == marker  # evaluated once

    # Killed after writing the alert but before the marker: evaluated again, nothing twice.
    driver.execute_query("MATCH (e:AlertEvaluation {load_id: $id}) DELETE e",
                         id=result.load_id, database_=settings.neo4j_database)
    with ThreadedService(create_app(settings), start_timeout=60):
        again = wait_evaluated(driver, settings, result.load_id)
    assert again["alerts"] == 0 and len(alerts_of(driver, settings, "dan")) == 1


class _Receiver(BaseHTTPRequestHandler):
    """Fails the first ``fail`` POSTs with 503, then keeps each Idempotency-Key once."""

    fail = 3
    posts: list[tuple[str, bool]] = []
    processed: dict[str, dict] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        good = hmac.compare_digest(
            self.headers["X-Fusion-Signature"],
            "sha256=" + hmac.new(WEBHOOK_KEY.encode(), body, hashlib.sha256).hexdigest())
        key = self.headers["Idempotency-Key"]
        with self.lock:
            type(self).posts.append((key, good))
            failing = len(type(self).posts) <= type(self).fail
            if not failing and good:
                type(self).processed.setdefault(key, json.loads(body))
        self.send_response(503 if failing else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.posts, _Receiver.processed, _Receiver.fail = [], {}, 3
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver
    server.shutdown()


def test_webhook_failing_three_times_then_succeeding_gets_the_alert_once(
        service, settings, driver, tmp_path, receiver):
    url, state = receiver
    watch(Client(service.url), "web", ["浙F13579"], hook=url)
    path = write_sightings(tmp_path / "w.csv", [("plate", "浙F13579", "S-4", T0)])
    wait_evaluated(driver, settings, load(driver, settings, path, REGION_A).load_id)
    deadline = time.monotonic() + 15
    while not state.processed and time.monotonic() < deadline:
        time.sleep(0.1)
    (alert,) = alerts_of(driver, settings, "web")
    assert list(state.processed) == [alert["id"]]
    assert state.posts == [(alert["id"], True)] * 4  # three failures, one success, one key
    assert state.processed[alert["id"]]["alert"]["subjects"] == ["VEHICLE:浙F13579"]
    time.sleep(0.5)
    assert alerts_of(driver, settings, "web")[0]["delivered_at"] is not None


def test_an_undeliverable_alert_goes_to_the_dead_letter_file(service, settings, driver,
                                                             tmp_path, receiver):
    url, state = receiver
    state.fail = 10**6
    watch(Client(service.url), "dead", ["浙G11111"], hook=url)
    path = write_sightings(tmp_path / "d.csv", [("plate", "浙G11111", "S-4", T0)])
    wait_evaluated(driver, settings, load(driver, settings, path, REGION_A).load_id)
    letters = settings.home / "alerts" / "dead-letter.ndjson"
    deadline = time.monotonic() + 15
    while not letters.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    (line,) = [json.loads(x) for x in letters.read_text().splitlines()]
    (alert,) = alerts_of(driver, settings, "dead")
    assert line["alert"]["id"] == alert["id"]
    assert line["attempts"] == settings.alerts_webhook_attempts
    assert len(state.posts) == settings.alerts_webhook_attempts and not state.processed


@pytest.mark.parametrize(("kind", "raw"), [("VEHICLE", "NOT A PLATE!!"), ("PHONE", "12"),
                                           ("PERSON", "110101199003070000")])
def test_bad_watchlist_entries_are_refused_with_the_normalizers_reason(service, driver,
                                                                      settings, kind, raw):
    with pytest.raises(InvalidValue) as refused:
        canonical_key(kind, raw)
    body = Client(service.url).post(ADD_WATCHLIST, {"name": "bad", "entries": [
        {"kind": "VEHICLE", "key": "浙A00001"}, {"kind": kind, "key": raw}]}, user="bad")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert refused.value.reason in error["message"] and "entry 2" in error["message"]
    records, _, _ = driver.execute_query("MATCH (w:Watchlist {owner: 'bad'}) RETURN count(w) AS n",
                                         database_=settings.neo4j_database)
    assert records[0]["n"] == 0  # nothing stored


def test_a_websocket_without_a_valid_token_is_refused_and_audited(service, settings):
    from websockets.sync.client import connect

    with connect(service.url.replace("http://", "ws://") + "/graphql",
                 subprotocols=["graphql-transport-ws"]) as ws:
        ws.send(json.dumps({"type": "connection_init",
                            "payload": {"Authorization": "Bearer x"}}))
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=10)
    assert getattr(closed.value, "rcvd", None) is not None and closed.value.rcvd.code == 4403
    assert any(r.get("outcome") == "denied:UNAUTHENTICATED"
               and r.get("operation_name") == "websocketConnect"
               for r in _audit_records(settings))


def test_a_subscription_through_the_connection_payload_is_audited_with_its_purpose(
        service, settings, driver, tmp_path):
    client = Client(service.url)
    watch(client, "pay", ["浙H22222"])
    subscriber = Subscriber(service.url, "pay", purpose="case 9", via_payload=True)
    try:
        path = write_sightings(tmp_path / "p.csv", [("plate", "浙H22222", "S-5", T0)])
        load(driver, settings, path, REGION_A)
        assert subscriber.next(timeout=15)["subjects"] == ["VEHICLE:浙H22222"]
    finally:
        subscriber.close()
    time.sleep(0.5)
    mine = [r for r in _audit_records(settings) if r.get("user") == "pay"
            and r.get("operation_name") == "Watch"]
    assert [r["outcome"] for r in mine] == ["allowed", "allowed"]
    assert {r["purpose"] for r in mine} == {"case 9"} and mine[-1]["result_count"] == 1


def _cli(settings, *args: str):
    from typer.testing import CliRunner

    from fusion.cli import app
    from fusion.managed.server import ADMIN_USER, ManagedNeo4j

    env = {"FUSION_HOME": str(settings.home),
           "FUSION_NEO4J_URI": f"bolt://127.0.0.1:{settings.db_bolt_port}",
           "FUSION_NEO4J_USER": ADMIN_USER,
           "FUSION_NEO4J_PASSWORD": ManagedNeo4j(settings).password(),
           "FUSION_NEO4J_DATABASE": settings.neo4j_database}
    return CliRunner().invoke(app, list(args), env=env)


def test_the_command_line_adds_lists_and_removes_watchlists_and_lists_alerts(
        service, settings, driver, tmp_path):
    more = tmp_path / "entries.txt"
    more.write_text("# from the briefing\nphone:138 0013 8000\n\nparcel:SF1234567890\n")
    added = _cli(settings, "watch", "add", "briefing", "plate:浙j 98765", "--owner", "cli-user",
                 "--purpose", "case 77", "--region", REGION_A, "--from-file", str(more))
    assert added.exit_code == 0, added.output
    listed = json.loads(_cli(settings, "watch", "list", "--owner", "cli-user", "--json").stdout)
    assert [w["entries"] for w in listed] == [[
        "VEHICLE:" + canonical_key("VEHICLE", "浙j 98765"),
        "PHONE:" + canonical_key("PHONE", "138 0013 8000"), "PARCEL:SF1234567890"]]
    bad = _cli(settings, "watch", "add", "oops", "phone:12", "--owner", "cli-user",
               "--purpose", "case 77", "--region", REGION_A)
    assert bad.exit_code != 0 and "BAD_PHONE" in str(bad.exception)  # main() prints it

    path = write_sightings(tmp_path / "cli.csv", [("plate", "浙J98765", "S-6", T0)])
    wait_evaluated(driver, settings, load(driver, settings, path, REGION_A).load_id)
    alerts = json.loads(_cli(settings, "alerts", "list", "--owner", "cli-user", "--json").stdout)
    assert [a["subjects"] for a in alerts] == [["VEHICLE:浙J98765"]]

    removed = _cli(settings, "watch", "remove", listed[0]["id"], "--owner", "cli-user")
    assert removed.exit_code == 0, removed.output
    assert json.loads(_cli(settings, "watch", "list", "--owner", "cli-user", "--json").stdout) == []


def _write_csv(path, header: list[str], rows: list[list[str]]):
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", "utf-8")
    return path


def test_standing_fraud_parcels_follows_cases_and_waybills_loads(service, settings, driver,
                                                                 tmp_path):
    from loaders.ingest import load_files

    def load_kind(kind: str, path) -> str:
        result = load_files(driver, settings.neo4j_database, settings.home, kind, [path],
                            REGION_A).loads[0]
        wait_evaluated(driver, settings, result.load_id)
        return result.load_id

    Client(service.url).gql("""mutation { addStandingQuery(name: "fraud parcels",
        kind: FRAUD_PARCELS, params: {case_type: "fraud"}) { name } }""", user="fp")
    head = ["waybill_no", "sender_phone", "receiver_phone", "shipped_at"]
    at = T0.isoformat()
    waybills = [["SF0000000001", "13800138001", "13900139000", at]]
    load_kind("waybills", _write_csv(tmp_path / "w1.csv", head, waybills))
    assert alerts_of(driver, settings, "fp") == []  # no case yet
    cases = [["C-1", "fraud", at, "13800138001", "suspect"],
             ["C-2", "theft", at, "13800138002", "suspect"]]
    load_kind("cases", _write_csv(tmp_path / "c.csv", ["case_id", "case_type", "reported_at",
                                                        "phone", "role"], cases))
    more = [["SF0000000002", "13800138001", "13900139000", at],
            ["SF0000000003", "13800138002", "13900139000", at]]
    waybills += more
    load_kind("waybills", _write_csv(tmp_path / "w2.csv", head, more))
    fraud_phones = {canonical_key("PHONE", c[3]) for c in cases if c[1] == "fraud"}
    expected = [{f"PARCEL:{canonical_key('PARCEL', w[0])}"} for w in waybills
                if canonical_key("PHONE", w[1]) in fraud_phones]
    got = [set(a["subjects"]) for a in alerts_of(driver, settings, "fp")]
    assert got == expected  # one alert per new result, in load order, none twice


def test_a_subscription_posted_over_http_is_refused_cleanly(service):
    response = Client(service.url).http.post(
        f"{service.url}/graphql", json={"query": Subscriber.QUERY},
        headers={"Authorization": f"Bearer {token('http-sub')}", "X-Purpose": "case 1"})
    assert response.status_code < 500, response.text
    assert response.status_code != 200 or response.json().get("errors")


def test_a_scheduled_standing_query_runs_in_full_when_due_and_reports_once(settings, driver,
                                                                           tmp_path):
    from fusion.services.alerts import run_scheduled
    from fusion.services.blocking import blocking_calls
    from fusion.services.watchlists import Owner, add_standing_query
    from loaders.ingest import load_files

    at = T0.isoformat()
    for kind, head, rows in (
            ("cases", ["case_id", "case_type", "reported_at", "phone", "role"],
             [["C-9", "fraud", at, "13800138009", "suspect"]]),
            ("waybills", ["waybill_no", "sender_phone", "receiver_phone", "shipped_at"],
             [["SF0000000009", "13800138009", "13900139000", at],
              ["SF0000000010", "13900139000", "13800138009", at]])):
        load_files(driver, settings.neo4j_database, settings.home, kind,
                   [_write_csv(tmp_path / f"{kind}.csv", head, rows)], REGION_A)
    with blocking_calls(settings) as call:
        query = call(add_standing_query, Owner("sched", "case 9", (REGION_A,)), "fraud sweep",
                     "FRAUD_PARCELS", {}, None, None, 60.0)
        assert call(run_scheduled, query.created_at + timedelta(seconds=30)) == []  # not due
        (alert,) = call(run_scheduled, query.created_at + timedelta(seconds=61))
        assert alert.load_id is None and alert.subjects == (
            f"PARCEL:{canonical_key('PARCEL', 'SF0000000009')}",)  # sent, not received
        assert call(run_scheduled, query.created_at + timedelta(seconds=200)) == []


def _socket(url: str, user: str, ttl: timedelta = timedelta(hours=1)):
    """A graphql-transport-ws connection, acknowledged."""
    from websockets.sync.client import connect

    ws = connect(url.replace("http://", "ws://") + "/graphql",
                 subprotocols=["graphql-transport-ws"],
                 additional_headers={"Authorization": f"Bearer {token(user, ttl=ttl)}",
                                     "X-Purpose": "case 2026-0105"}).__enter__()
    ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
    return ws


def _error_code(message: dict) -> str:
    """The code of the first error a graphql-transport-ws message carries."""
    payload = message["payload"]
    errors = payload if message["type"] == "error" else payload["errors"]
    return errors[0]["extensions"]["code"]


@pytest.mark.parametrize("document", [
    "query Peek { alerts { id evidence } }",
    'mutation Poke { triageAlert(id: "x", state: DISMISSED, reason: "r") { id } }',
], ids=["query", "mutation"])
def test_queries_and_mutations_are_not_run_over_the_websocket_and_are_audited(
        service, settings, document):
    user = f"sock-{document.split()[1].lower()}"
    ws = _socket(service.url, user)
    try:
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}}))
        message = json.loads(ws.recv(timeout=10))
    finally:
        ws.close()
    assert _error_code(message) == "FORBIDDEN"
    assert "data" not in message["payload"] or not message["payload"].get("data")
    time.sleep(0.3)
    mine = [r for r in _audit_records(settings) if r.get("user") == user]
    assert [(r["operation_name"], r["outcome"]) for r in mine] == [
        ("websocketConnect", "allowed"), (document.split()[1], "denied:FORBIDDEN")]


def test_a_subscription_ends_when_its_token_expires(service, settings, monkeypatch):
    from fusion.api.resolvers import alerts as alert_resolvers

    monkeypatch.setattr(alert_resolvers, "RECHECK_S", 0.2)
    ws = _socket(service.url, "brief", ttl=timedelta(seconds=3))
    try:
        ws.send(json.dumps({"id": "1", "type": "subscribe",
                            "payload": {"query": Subscriber.QUERY}}))
        message = json.loads(ws.recv(timeout=20))
    finally:
        ws.close()
    assert _error_code(message) == "UNAUTHENTICATED"
    time.sleep(0.3)
    mine = [r["outcome"] for r in _audit_records(settings)
            if r.get("user") == "brief" and r.get("operation_name") == "Watch"]
    assert mine == ["allowed", "denied:UNAUTHENTICATED"]


def test_with_several_workers_a_subscriber_gets_alerts_another_worker_stored(
        settings, driver, tmp_path):
    """Two workers on one home and one Neo4j: the alert is stored by the one evaluating, the
    subscriber is connected to the other, and gets it once."""
    evaluating = ThreadedService(create_app(settings, worker="eval"), start_timeout=60)
    following = ThreadedService(create_app(settings.model_copy(update={
        "alerts_enabled": False}), worker="follow"), start_timeout=60)
    with evaluating, following:
        watch(Client(evaluating.url), "wen", ["浙K33333"])
        subscriber = Subscriber(following.url, "wen")
        try:
            path = write_sightings(tmp_path / "w.csv", [("plate", "浙K33333", "S-2", T0)])
            load(driver, settings, path, REGION_A)
            got = subscriber.next(timeout=15)
            again = subscriber.next(timeout=2)
        finally:
            subscriber.close()
    assert got is not None and got["subjects"] == ["VEHICLE:浙K33333"] and again is None
