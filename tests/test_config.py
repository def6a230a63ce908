"""Configuration: the contract's variables, precedence, documentation, external-URI mode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusion.cli import app
from fusion.config import Settings
from fusion.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
CONTRACT = REPO.parent / "shared" / "contract" / "README.md"

CONTRACT_DEFAULTS = {
    "FUSION_NEO4J_URI": None,
    "FUSION_DB_BOLT_PORT": 7687,
    "FUSION_DB_HTTP_PORT": 7474,
    "FUSION_REQUIRE_PURPOSE": True,
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.startswith("FUSION_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_defaults_are_the_contracts(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings()
    for var, expected in CONTRACT_DEFAULTS.items():
        assert getattr(s, var.removeprefix("FUSION_").lower()) == expected, var
    assert s.home == Path.home() / ".local" / "share" / "fusion"
    assert s.secret is None and s.neo4j_user is None and s.neo4j_password is None


def test_environment_overrides_defaults(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("FUSION_HOME", str(tmp_path))
    clean_env.setenv("FUSION_DB_BOLT_PORT", "27001")
    clean_env.setenv("FUSION_DB_HTTP_PORT", "27002")
    clean_env.setenv("FUSION_REQUIRE_PURPOSE", "false")
    clean_env.setenv("FUSION_SECRET", "s3cret")
    s = Settings()
    assert (s.home, s.db_bolt_port, s.db_http_port) == (tmp_path, 27001, 27002)
    assert s.require_purpose is False
    assert s.secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


def test_explicit_values_override_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FUSION_DB_BOLT_PORT", "27001")
    assert Settings(db_bolt_port=27005).db_bolt_port == 27005


def test_contract_variables_are_all_settings() -> None:
    documented = set(re.findall(r"`(FUSION_[A-Z_]+)`", CONTRACT.read_text()))
    fields = {f"FUSION_{name.upper()}" for name in Settings.model_fields}
    assert documented, "contract table not found"
    assert documented <= fields


def test_every_setting_has_help_and_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"FUSION_{name.upper()}" in readme, f"FUSION_{name.upper()} not documented"


def test_bad_external_uri_is_rejected(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FUSION_NEO4J_URI", "http://example.invalid:7474")
    with pytest.raises(ValueError, match="neo4j:// or bolt://"):
        Settings()


def test_external_uri_mode_db_commands_say_so(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    clean_env.setenv("FUSION_HOME", str(tmp_path))
    clean_env.setenv("FUSION_NEO4J_URI", "bolt://db.example.invalid:7687")
    runner = CliRunner()
    for command in (["db", "start"], ["db", "stop"], ["db", "status"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert "external Neo4j at bolt://db.example.invalid:7687" in result.output
    assert not (tmp_path / "neo4j").exists(), "the managed Neo4j must not be touched"


def test_external_uri_mode_targets_that_server(clean_env: pytest.MonkeyPatch) -> None:
    from fusion.db import target
    from fusion.managed import ManagedNeo4j

    clean_env.setenv("FUSION_NEO4J_URI", "neo4j://db.example.invalid:7687")
    clean_env.setenv("FUSION_NEO4J_USER", "fusion")
    clean_env.setenv("FUSION_NEO4J_PASSWORD", "pw-external")
    t = target(Settings())
    assert (t.uri, t.user, t.password, t.external) == (
        "neo4j://db.example.invalid:7687", "fusion", "pw-external", True)
    with pytest.raises(ConfigError, match="FUSION_NEO4J_URI"):
        ManagedNeo4j(Settings())


def test_external_uri_without_credentials_is_a_config_error(clean_env) -> None:
    from fusion.db import target

    clean_env.setenv("FUSION_NEO4J_URI", "bolt://db.example.invalid:7687")
    with pytest.raises(ConfigError, match="FUSION_NEO4J_USER"):
        target(Settings())


def test_token_max_ttl_defaults_to_12_hours_and_reads_durations(clean_env) -> None:
    from datetime import timedelta

    assert Settings().token_max_ttl == timedelta(hours=12)
    clean_env.setenv("FUSION_TOKEN_MAX_TTL", "1h30m")
    assert Settings().token_max_ttl == timedelta(hours=1, minutes=30)


@pytest.mark.parametrize("value", ["soon", "0h", "-1h", "12"])
def test_bad_token_max_ttl_is_refused(clean_env, value) -> None:
    clean_env.setenv("FUSION_TOKEN_MAX_TTL", value)  # a bare number: which unit? refused
    with pytest.raises(ValueError, match="duration|positive"):
        Settings()
