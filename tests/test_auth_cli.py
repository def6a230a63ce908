"""`fusion token issue` and `fusion audit verify` through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import jwt
import pytest
from typer.testing import CliRunner

from fusion.auth.access import Caller, Role, authenticate
from fusion.auth.audit import audit_path
from fusion.auth.tokens import load_secret
from fusion.cli import app
from fusion.config import Settings
from tests.test_audit import append_many, edited, lines, rewrite

runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FUSION_HOME", str(tmp_path))
    monkeypatch.delenv("FUSION_SECRET", raising=False)
    return tmp_path


def test_token_issue_prints_only_a_token_for_the_caller(home):
    result = runner.invoke(app, ["token", "issue", "--user", "alice", "--role", "analyst",
                                 "--region", "north", "--region", "south", "--ttl", "2h"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    secret = bytes(load_secret(Settings(home=home)))  # the key alone, no revocation list
    assert authenticate(f"Bearer {token}", secret) == Caller(
        "alice", Role.ANALYST, frozenset({"north", "south"}))
    claims = jwt.decode(token, secret, algorithms=["HS256"], issuer="fusion")
    assert claims["exp"] - claims["iat"] == 2 * 3600
    assert abs(claims["iat"] - datetime.now(UTC).timestamp()) < 60


def test_token_issue_defaults_to_eight_hours(home):
    result = runner.invoke(app, ["token", "issue", "--user", "a", "--role", "service",
                                 "--region", "north"])
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 8 * 3600


def test_tokens_survive_across_invocations(home):
    args = ["token", "issue", "--user", "a", "--role", "admin", "--region", "north"]
    first = runner.invoke(app, args).stdout.strip()
    runner.invoke(app, args)
    secret = bytes(load_secret(Settings(home=home)))
    assert authenticate(f"Bearer {first}", secret).role is Role.ADMIN


def test_fusion_secret_signs_the_token(home, monkeypatch):
    monkeypatch.setenv("FUSION_SECRET", "x" * 40)
    result = runner.invoke(app, ["token", "issue", "--user", "a", "--role", "auditor",
                                 "--region", "north"])
    assert authenticate(f"Bearer {result.stdout.strip()}", b"x" * 40).role is Role.AUDITOR


@pytest.mark.parametrize("args", [
    ["--user", "a", "--role", "boss", "--region", "north"],
    ["--user", "a", "--role", "admin", "--region", "north", "--ttl", "soon"],
    ["--user", "a", "--role", "admin"],
    ["--role", "admin", "--region", "north"],
])
def test_token_issue_rejects_bad_arguments(home, args):
    result = runner.invoke(app, ["token", "issue", *args])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_token_issue_prints_the_tokens_id_on_stderr(home):
    result = runner.invoke(app, ["token", "issue", "--user", "a", "--role", "analyst",
                                 "--region", "north"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert f"jti {claims['jti']}" in result.stderr


def test_token_issue_json_has_token_jti_and_expiry(home):
    result = runner.invoke(app, ["token", "issue", "--user", "a", "--role", "operator",
                                 "--region", "north", "--ttl", "30m", "--json"])
    assert result.exit_code == 0, result.output
    issued = json.loads(result.stdout)
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    assert issued["jti"] == claims["jti"] and issued["role"] == "operator"
    assert datetime.fromisoformat(issued["expires_at"]).timestamp() == claims["exp"]


@pytest.mark.parametrize("ttl", ["1000w", "13h", "12h1s", "1d"])
def test_token_issue_refuses_a_ttl_over_the_default_cap(home, ttl):
    result = runner.invoke(app, ["token", "issue", "--user", "a", "--role", "admin",
                                 "--region", "north", "--ttl", ttl])
    assert result.exit_code == 2 and result.stdout == ""
    assert "at most 12 h" in result.stderr and "FUSION_TOKEN_MAX_TTL" in result.stderr


def test_token_issue_follows_a_configured_cap(home, monkeypatch):
    monkeypatch.setenv("FUSION_TOKEN_MAX_TTL", "2d")
    args = ["token", "issue", "--user", "a", "--role", "admin", "--region", "north", "--ttl"]
    result = runner.invoke(app, [*args, "36h"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 36 * 3600
    assert runner.invoke(app, [*args, "3d"]).exit_code == 2


def test_audit_verify_reports_ok_and_the_count(home):
    append_many(audit_path(home), 7)
    result = runner.invoke(app, ["audit", "verify", "--no-checkpoint"])
    assert result.exit_code == 0
    assert "ok, 7 records" in result.stdout


def test_audit_verify_exits_1_naming_the_first_bad_record(home):
    path = audit_path(home)
    append_many(path, 7)
    original = lines(path)
    rewrite(path, original[:3] + [edited(original[3], purpose="nothing")] + original[4:])
    result = runner.invoke(app, ["audit", "verify", "--no-checkpoint"])
    assert result.exit_code == 1
    assert "line 4" in result.stdout and "edited" in result.stdout


def test_audit_verify_with_an_anchor_finds_a_cut_tail(home):
    path = audit_path(home)
    append_many(path, 5)
    head = json.loads(lines(path)[-1])["hash"]
    rewrite(path, lines(path)[:-2])
    assert runner.invoke(app, ["audit", "verify", "--no-checkpoint"]).exit_code == 0
    result = runner.invoke(app, ["audit", "verify", "--anchor", head])
    assert result.exit_code == 1 and "anchored" in result.stdout


def test_installed_entry_point_exits_1_on_a_broken_chain(home):
    path = audit_path(home)
    append_many(path, 3)
    rewrite(path, lines(path)[1:])
    done = subprocess.run([sys.executable, "-m", "fusion.cli", "audit", "verify",
                           "--no-checkpoint"],
                          capture_output=True, text=True, env={"FUSION_HOME": str(home),
                                                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and "line 1" in done.stdout
