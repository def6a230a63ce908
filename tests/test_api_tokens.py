"""Token revocation and lifetime through the running service, and who may read /metrics."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bench._service import ThreadedService
from fusion.api.app import create_app
from fusion.auth.audit import audit_path
from fusion.auth.tokens import issue_claims
from fusion.cli import app as cli

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

LIST = "{ savedQueries { name } }"
runner = CliRunner()


def _cli_env(api) -> dict[str, str]:
    s = api.settings
    return {"FUSION_HOME": str(s.home), "FUSION_DB_BOLT_PORT": str(s.db_bolt_port),
            "FUSION_DB_HTTP_PORT": str(s.db_http_port), "FUSION_NEO4J_URI": "",
            "FUSION_SECRET": _secret(api)}


def _secret(api) -> str:
    return api.settings.secret.get_secret_value()


def _fresh_token(api, user: str = "revokee") -> tuple[str, str]:
    token, claims = issue_claims(_secret(api).encode(), user, "analyst", ["330100"],
                                 timedelta(hours=1))
    return token, claims["jti"]


def _code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


def _revoke(api, jti: str, reason: str = "laptop stolen") -> None:
    result = runner.invoke(cli, ["token", "revoke", jti, "--reason", reason], env=_cli_env(api))
    assert result.exit_code == 0, result.output
    assert f"revoked {jti}" in result.stdout


def _until_refused(api, token: str, limit: float = 15.0) -> float:
    """Seconds until the service answers ``token`` with 401 (fails after ``limit``)."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if api.post(LIST, token=token, purpose=None).status_code == 401:
            waited = time.monotonic() - began
            print(f"revocation took effect after {waited:.2f} s")
            return waited
        time.sleep(0.1)
    pytest.fail(f"the revoked token was still accepted after {limit} s")


def test_revoked_token_is_401_and_audited(api):
    token, jti = _fresh_token(api)
    assert api.post(LIST, token=token, purpose=None).status_code == 200
    _revoke(api, jti)
    waited = _until_refused(api, token)
    assert waited <= api.settings.token_revocation_refresh + 2.0
    response = api.post(LIST, token=token, purpose=None)
    assert response.status_code == 401 and _code(response) == "UNAUTHENTICATED"
    assert "revoked" in response.json()["errors"][0]["message"]
    last = json.loads(audit_path(api.settings.home).read_text().splitlines()[-1])
    assert last["outcome"] == "denied:UNAUTHENTICATED" and last["user"] is None


def test_other_tokens_of_the_same_user_stay_valid(api):
    revoked, jti = _fresh_token(api, "twin")
    kept, _ = _fresh_token(api, "twin")
    _revoke(api, jti)
    _until_refused(api, revoked)
    assert api.post(LIST, token=kept, purpose=None).status_code == 200


def test_revocation_survives_a_service_restart(api):
    token, jti = _fresh_token(api)
    _revoke(api, jti, "left the unit")
    other, _ = _fresh_token(api, "colleague")
    with ThreadedService(create_app(api.settings), start_timeout=60) as server, \
            httpx.Client(timeout=60) as http:
        headers = {"Authorization": f"Bearer {token}"}
        response = http.post(f"{server.url}/graphql", json={"query": LIST}, headers=headers)
        assert response.status_code == 401 and _code(response) == "UNAUTHENTICATED"
        headers = {"Authorization": f"Bearer {other}"}
        assert http.post(f"{server.url}/graphql", json={"query": LIST},
                         headers=headers).status_code == 200


def test_list_revoked_shows_who_when_and_why(api):
    _, jti = _fresh_token(api)
    before = datetime.now(UTC)
    _revoke(api, jti, "case closed")
    result = runner.invoke(cli, ["token", "list-revoked", "--json"], env=_cli_env(api))
    assert result.exit_code == 0, result.output
    (mine,) = [r for r in json.loads(result.stdout) if r["jti"] == jti]
    assert mine["reason"] == "case closed" and mine["by"]
    assert datetime.fromisoformat(mine["at"]) >= before - timedelta(seconds=1)


def test_revoking_twice_keeps_the_first_record(api):
    _, jti = _fresh_token(api)
    _revoke(api, jti, "first")
    _revoke(api, jti, "second")
    result = runner.invoke(cli, ["token", "list-revoked", "--json"], env=_cli_env(api))
    assert [r["reason"] for r in json.loads(result.stdout) if r["jti"] == jti] == ["first"]


@pytest.mark.parametrize("jti", ["", "abc", "g" * 32, "0" * 31, "0" * 33])
def test_revoke_refuses_what_is_not_a_token_id(api, jti):
    result = runner.invoke(cli, ["token", "revoke", jti], env=_cli_env(api))
    assert result.exit_code == 2 and "not a token id" in result.output


def test_token_living_longer_than_the_cap_is_401(api):
    now = int(datetime.now(UTC).timestamp())
    for lifetime in (1000 * 7 * 86400, 12 * 3600 + 1):
        claims = {"iss": "fusion", "sub": "mallory", "role": "admin", "regions": ["330100"],
                  "iat": now, "exp": now + lifetime, "jti": "0" * 32}
        response = api.post(LIST, token=jwt.encode(claims, _secret(api), algorithm="HS256"),
                            purpose=None)
        assert response.status_code == 401 and _code(response) == "UNAUTHENTICATED"
        assert "FUSION_TOKEN_MAX_TTL" in response.json()["errors"][0]["message"]


def test_token_without_an_id_is_401(api):
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "fusion", "sub": "old", "role": "analyst", "regions": ["330100"],
              "iat": now, "exp": now + 600}
    response = api.post(LIST, token=jwt.encode(claims, _secret(api), algorithm="HS256"),
                        purpose=None)
    assert response.status_code == 401 and _code(response) == "UNAUTHENTICATED"


# -- /metrics ---------------------------------------------------------------------------------

def test_metrics_answer_loopback_without_a_scrape_token(api):
    response = api.http.get(f"{api.url}/metrics")
    assert response.status_code == 200 and "fusion_graphql_requests_total" in response.text


def test_metrics_refuse_other_clients_without_a_scrape_token(api):
    with TestClient(create_app(api.settings), client=("192.0.2.77", 50000)) as client:
        response = client.get("/metrics")
        assert response.status_code == 403 and "loopback" in response.json()["error"]
        assert "fusion_graphql" not in response.text
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("client_host", ["127.0.0.1", "192.0.2.77"])
def test_metrics_need_the_scrape_token_when_one_is_set(api, client_host):
    settings = api.settings.model_copy(update={"metrics_token": SecretStr("scrape-" + "k" * 30)})
    with TestClient(create_app(settings), client=(client_host, 50000)) as client:
        for header in (None, "Bearer wrong", "Basic scrape-" + "k" * 30, "Bearer "):
            headers = {"Authorization": header} if header else {}
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 401, header
        response = client.get("/metrics", headers={"Authorization": "Bearer scrape-" + "k" * 30})
        assert response.status_code == 200
        assert "fusion_graphql_requests_total" in response.text
