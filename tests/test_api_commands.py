"""`fusion serve` and `fusion demo` as a user runs them (subprocess and CLI runner)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from bench._service import free_port
from fusion.cli import app

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]


def _env(settings, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSION_")}
    return {**env, "FUSION_HOME": str(settings.home),
            "FUSION_DB_BOLT_PORT": str(settings.db_bolt_port),
            "FUSION_DB_HTTP_PORT": str(settings.db_http_port), **extra}


def test_fusion_serve_answers_graphql(api):
    port = free_port()
    secret = api.settings.secret.get_secret_value()
    server = subprocess.Popen([sys.executable, "-m", "fusion.cli", "serve", "--port", str(port),
                               "--log-level", "warning"],
                              env=_env(api.settings, FUSION_SECRET=secret),
                              stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.3)
        response = httpx.post(f"{url}/graphql", json={"query": "{ savedQueries { name } }"},
                              headers={"Authorization": f"Bearer {api.token()}"})
        assert response.status_code == 200 and response.json()["data"]["savedQueries"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_fusion_serve_refuses_a_busy_port(api):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "fusion.cli", "serve", "--port",
                                 str(port)], env=_env(api.settings), capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 2 and f"127.0.0.1:{port}" in result.stderr


@pytest.fixture
def demo_env(neo4j_settings, driver, tmp_path: Path):
    """A fresh FUSION_HOME whose `fusion demo` uses the session's Neo4j (as an external one)."""
    from fusion.managed import ManagedNeo4j

    managed = ManagedNeo4j(neo4j_settings)
    yield {"FUSION_HOME": str(tmp_path / "home"), "FUSION_NEO4J_URI": managed.uri,
           "FUSION_NEO4J_USER": "neo4j", "FUSION_NEO4J_PASSWORD": managed.password()}
    with driver.session(database=neo4j_settings.neo4j_database) as session:  # others reload
        session.run("MATCH (n) WHERE NOT n:SavedQuery AND NOT n:JointOperation "
                    "CALL (n) { DETACH DELETE n } IN TRANSACTIONS").consume()


def test_fusion_demo_loads_once_runs_co_travel_and_prints_a_console_token(demo_env, driver,
                                                                           monkeypatch):
    for key in [k for k in os.environ if k.startswith("FUSION_")]:
        monkeypatch.delenv(key)
    for key, value in demo_env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    args = ["demo", "--no-serve", "--scale", "0.02", "--port", "8123"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    scenario = Path(demo_env["FUSION_HOME"]) / "demo" / "scenario-1-0.02"
    truth = json.loads((scenario / "truth.json").read_text())
    assert (scenario / ".loaded").exists() and (scenario / ".cotravel").exists()
    match = re.search(r"Workbench:\s+http://127\.0\.0\.1:8123/#token=(\S+)", first.output)
    assert match, first.output
    assert first.output.count(match.group(1)) == 1  # the token is printed once
    assert re.search(r"Console:\s+http://127\.0\.0\.1:8123/graphql\s", first.output)
    secret = (Path(demo_env["FUSION_HOME"]) / "secret").read_text().strip()
    claims = jwt.decode(match.group(1), secret, algorithms=["HS256"], issuer="fusion")
    assert claims["role"] == "analyst"
    assert claims["regions"] == sorted(r["code"] for r in truth["regions"])
    records, _, _ = driver.execute_query("MATCH ()-[r:CO_TRAVELED]->() RETURN count(r) AS n")
    assert records[0]["n"] == len(truth["cotravel_pairs"])
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "already loaded" in again.output
    assert re.search(r"read \d+, loaded \d+", first.output)
    assert not re.search(r"read \d+, loaded \d+", again.output)
    assert "Co-travel:" not in again.output
