"""Fixtures for the GraphQL service tests: the fixture scenario loaded once, a real uvicorn
server on a free port, and a client that sends tokens and purposes like a real caller.

Test modules opt in with ``pytest_plugins = ["tests.api_support"]``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bench._service import ThreadedService
from fusion.config import Settings

SECRET = "test-secret-" + "x" * 40
ALL_REGIONS = ("330100", "440300", "510100")


def _loaded(driver, database: str, truth: dict, home: Path) -> bool:
    """The scenario's nodes are in the graph and its loads, and no others, in the event store
    (a module that loaded extra rows into the shared service leaves an extra complete load)."""
    from loaders.eventstore import EventStore

    if not (home / "events").is_dir():
        return False
    loads = Counter(entry["kind"] for entry in truth["load_order"])
    store = EventStore(home)
    if any(len(store.complete_loads(d.name)) != loads[d.name]
           for d in (home / "events").iterdir() if d.is_dir()):
        return False
    for label, n in truth["expected_nodes"].items():
        records, _, _ = driver.execute_query(f"MATCH (n:{label}) RETURN count(n) AS n",
                                             database_=database)
        if records[0]["n"] != n:
            return False
    return True


def load_scenario(driver, settings: Settings, scenario_dir: Path) -> dict:
    """The fixture scenario in the graph and in ``settings.home``'s event store (idempotent)."""
    from loaders.ingest import load_files

    truth = json.loads((scenario_dir / "truth.json").read_text("utf-8"))
    db = settings.neo4j_database
    if _loaded(driver, db, truth, settings.home):
        return truth
    with driver.session(database=db) as session:
        session.run("MATCH (n) WHERE NOT n:SavedQuery AND NOT n:JointOperation "
                    "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
    shutil.rmtree(settings.home / "events", ignore_errors=True)
    for entry in truth["load_order"]:
        profile = scenario_dir / entry["profile"] if entry["profile"] else None
        load_files(driver, db, settings.home, entry["kind"], [scenario_dir / entry["file"]],
                   entry["region"], profile)
    return truth


@dataclass
class Api:
    """A client of the running service."""

    url: str
    settings: Settings
    truth: dict
    http: httpx.Client

    def token(self, role: str = "analyst", regions: tuple[str, ...] = ALL_REGIONS,
              user: str | None = None) -> str:
        """A valid bearer token."""
        from fusion.auth import issue_token

        return issue_token(SECRET.encode(), user or f"{role}-user", role, list(regions),
                           timedelta(hours=1))

    def post(self, query: str, variables: dict | None = None, *, role: str = "analyst",
             regions: tuple[str, ...] = ALL_REGIONS, user: str | None = None,
             purpose: str | None = "test case 1", token: str | None = None,
             operation_name: str | None = None) -> httpx.Response:
        """POST one GraphQL request."""
        headers = {"Authorization": f"Bearer {token or self.token(role, regions, user)}"}
        if purpose is not None:
            headers["X-Purpose"] = purpose
        body = {"query": query, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        return self.http.post(f"{self.url}/graphql", json=body, headers=headers)

    def gql(self, query: str, variables: dict | None = None, **kw) -> dict:
        """The ``data`` of a request that must succeed."""
        response = self.post(query, variables, **kw)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    def error(self, query: str, variables: dict | None = None, **kw) -> tuple[str, dict]:
        """(code, error) of the first error of a request that must fail."""
        body = self.post(query, variables, **kw).json()
        assert body.get("errors"), body
        error = body["errors"][0]
        return error["extensions"]["code"], error


def app_settings(base: Settings, **overrides) -> Settings:
    """The test session's settings with the test secret. The session-long service does not
    evaluate alerts (it would mark the loads later test modules make; tests/test_alerts.py runs
    its own evaluating services)."""
    return base.model_copy(update={"secret": __import__("pydantic").SecretStr(SECRET),
                                   "alerts_enabled": False, **overrides})


@pytest.fixture(scope="session")
def api_server(neo4j_settings: Settings, driver, scenario_dir: Path) -> Iterator[Api]:
    """The service, started once per session, with a client."""
    from fusion.api.app import create_app

    settings = app_settings(neo4j_settings)
    truth = load_scenario(driver, settings, scenario_dir)
    with ThreadedService(create_app(settings), start_timeout=60) as server, \
            httpx.Client(timeout=120) as http:
        yield Api(server.url, settings, truth, http)


@pytest.fixture(scope="module")
def api(api_server: Api, driver, scenario_dir: Path) -> Api:
    """The service with the fixture scenario and the shipped saved queries in the graph (both
    put back if another module wiped the graph)."""
    from fusion.api.saved import builtin_rows
    from fusion.api.schema import build_schema
    from queries.saved_queries import INSTALL_BUILTIN_QUERIES

    settings = api_server.settings
    load_scenario(driver, settings, scenario_dir)
    rows = builtin_rows(build_schema(settings)._schema, settings.api_max_tokens)
    driver.execute_query(INSTALL_BUILTIN_QUERIES, rows=rows, now=datetime.now(UTC),
                         database_=settings.neo4j_database)
    return api_server


@pytest.fixture(scope="session")
def cypher(driver, neo4j_settings: Settings):
    """Run a read statement directly (the independent side of a comparison)."""
    def run(statement: str, **params):
        records, _, _ = driver.execute_query(statement, params,
                                             database_=neo4j_settings.neo4j_database)
        return [r.data() for r in records]
    return run
