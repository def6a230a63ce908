"""Helpers of the alert tests and bench: a running service, loads, a WebSocket subscriber.

The service runs in this process (uvicorn in a thread, :class:`bench._service.ThreadedService`)
and loads go through ``loaders.ingest.load_files`` exactly as ``fusion load`` runs them, in
another thread of control than the service's evaluation loop.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from websockets.sync.client import connect as ws_connect

from fusion.auth import issue_token
from fusion.config import Settings

SECRET = "alerts-test-secret-" + "y" * 40
WEBHOOK_KEY = "webhook-test-key"
REGION_A, REGION_B = "330100", "440300"
SIGHTING_COLUMNS = ("subject_type", "subject", "sensor_id", "seen_at", "lat", "lon")
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def token(user: str, regions: tuple[str, ...] = (REGION_A,), role: str = "analyst",
          ttl: timedelta = timedelta(hours=1)) -> str:
    """A bearer token of the test secret."""
    return issue_token(SECRET.encode(), user, role, list(regions), ttl)


def write_sightings(path: Path, rows: list[tuple[str, str, str, datetime]]) -> Path:
    """A sightings CSV of (subject_type, subject, sensor, time) rows."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(SIGHTING_COLUMNS)
        for kind, subject, sensor, at in rows:
            out.writerow([kind, subject, sensor, at.isoformat(), "30.25", "120.16"])
    return path


@dataclass
class Client:
    """GraphQL over HTTP as a real caller sends it."""

    url: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def post(self, query: str, variables: dict | None = None, *, user: str,
             regions: tuple[str, ...] = (REGION_A,), role: str = "analyst",
             purpose: str | None = "case 2026-0105") -> dict:
        headers = {"Authorization": f"Bearer {token(user, regions, role)}"}
        if purpose:
            headers["X-Purpose"] = purpose
        return self.http.post(f"{self.url}/graphql", json={"query": query,
                              "variables": variables or {}}, headers=headers).json()

    def gql(self, query: str, variables: dict | None = None, **kw) -> dict:
        body = self.post(query, variables, **kw)
        assert "errors" not in body, body
        return body["data"]


class Subscriber:
    """A graphql-transport-ws client subscribed to alertRaised."""

    QUERY = "subscription Watch { alertRaised { id summary subjects loadId source } }"

    def __init__(self, url: str, user: str, regions: tuple[str, ...] = (REGION_A,),
                 purpose: str = "case 2026-0105", via_payload: bool = False) -> None:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        auth = {"Authorization": f"Bearer {token(user, regions)}", "X-Purpose": purpose}
        self.ws = ws_connect(ws_url, subprotocols=["graphql-transport-ws"],
                             additional_headers=None if via_payload else auth).__enter__()
        self.ws.send(json.dumps({"type": "connection_init",
                                 "payload": auth if via_payload else {}}))
        ack = json.loads(self.ws.recv(timeout=10))
        assert ack["type"] == "connection_ack", ack
        self.ws.send(json.dumps({"id": "1", "type": "subscribe",
                                 "payload": {"query": self.QUERY}}))
        time.sleep(0.5)  # the server registers the subscription

    def next(self, timeout: float) -> dict | None:
        """The next alert pushed within ``timeout`` seconds, or None."""
        try:
            message = json.loads(self.ws.recv(timeout=timeout))
        except TimeoutError:
            return None
        assert message["type"] == "next", message
        return message["payload"]["data"]["alertRaised"]

    def close(self) -> None:
        self.ws.close()


def service_settings(base: Settings, **overrides) -> Settings:
    """The session's settings with the test secrets and a fast alert loop."""
    from pydantic import SecretStr

    return base.model_copy(update={
        "secret": SecretStr(SECRET), "alerts_webhook_secret": SecretStr(WEBHOOK_KEY),
        "alerts_poll_s": 0.2, "alerts_webhook_backoff_s": 0.05, **overrides})


def load(driver, settings: Settings, path: Path, region: str):
    """``fusion load sightings PATH --region REGION``; the LoadResult."""
    from loaders.ingest import load_files

    return load_files(driver, settings.neo4j_database, settings.home, "sightings", [path],
                      region).loads[0]


def wait_evaluated(driver, settings: Settings, load_id: str, timeout: float = 30) -> dict:
    """The load's evaluation marker, once the service wrote it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, _, _ = driver.execute_query(
            "MATCH (e:AlertEvaluation {load_id: $id}) RETURN e{.*} AS e", id=load_id,
            database_=settings.neo4j_database)
        if records:
            return records[0]["e"]
        time.sleep(0.1)
    raise AssertionError(f"load {load_id} was not evaluated within {timeout} s")


def alerts_of(driver, settings: Settings, owner: str) -> list[dict]:
    """The owner's Alert nodes, read straight from Neo4j."""
    records, _, _ = driver.execute_query(
        "MATCH (a:Alert {owner: $owner}) RETURN a{.*} AS a ORDER BY a.created_at",
        owner=owner, database_=settings.neo4j_database)
    return [r["a"] for r in records]
