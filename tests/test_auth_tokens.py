"""Tokens and authentication: only a well-formed, correctly signed, unexpired token with a known
role and home regions yields a Caller; everything else is UNAUTHENTICATED."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from fusion.auth.access import Caller, Role, authenticate
from fusion.auth.tokens import (
    SigningKey,
    issue_claims,
    issue_token,
    load_secret,
    parse_ttl,
    secret_path,
)
from fusion.config import Settings
from fusion.errors import BadInput, ConfigError, Unauthenticated

SECRET = b"s" * 32
OTHER = b"o" * 32


@pytest.fixture(autouse=True)
def _no_secret_in_environment(monkeypatch):
    monkeypatch.delenv("FUSION_SECRET", raising=False)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_issued_token_authenticates_as_its_user_role_and_regions():
    token = issue_token(SECRET, "alice", Role.ANALYST, ["south", "north"], timedelta(hours=8))
    assert authenticate(bearer(token), SECRET) == Caller(
        "alice", Role.ANALYST, frozenset({"north", "south"}))


def test_token_claims_carry_sub_iat_and_exp():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = issue_token(SECRET, "bob", "auditor", ["east"], timedelta(minutes=30), now=now)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "bob"
    assert claims["iat"] == int(now.timestamp())
    assert claims["exp"] == int((now + timedelta(minutes=30)).timestamp())
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_expired_token_is_unauthenticated():
    past = datetime.now(UTC) - timedelta(hours=2)
    token = issue_token(SECRET, "alice", Role.ANALYST, ["north"], timedelta(hours=1), now=past)
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(bearer(token), SECRET)


def test_token_signed_with_another_secret_is_unauthenticated():
    token = issue_token(OTHER, "alice", Role.ADMIN, ["north"], timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        authenticate(bearer(token), SECRET)


def test_token_with_edited_claims_is_unauthenticated():
    token = issue_token(SECRET, "alice", Role.ANALYST, ["north"], timedelta(hours=1))
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthenticated):
        authenticate(bearer(f"{header}.{forged}.{signature}"), SECRET)


def test_unsigned_token_is_unauthenticated():
    claims = {"iss": "fusion", "sub": "alice", "role": "admin", "regions": ["north"],
              "iat": 0, "exp": 4_000_000_000}
    token = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(Unauthenticated):
        authenticate(bearer(token), SECRET)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "abc.def.ghi",
                                    "Bearer not-a-jwt", "Bearer a.b.c"])
def test_missing_or_malformed_header_is_unauthenticated(header):
    with pytest.raises(Unauthenticated):
        authenticate(header, SECRET)


@pytest.mark.parametrize("claims", [
    {"role": "superuser", "regions": ["north"]},
    {"role": None, "regions": ["north"]},
    {"role": "analyst", "regions": []},
    {"role": "analyst", "regions": "north"},
    {"role": "analyst"},
])
def test_token_without_known_role_or_regions_is_unauthenticated(claims):
    now = int(datetime.now(UTC).timestamp())
    token = jwt.encode({"iss": "fusion", "sub": "alice", "iat": now, "exp": now + 600,
                        "jti": "a" * 32, **claims}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        authenticate(bearer(token), SECRET)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "jti"])
def test_token_missing_a_required_claim_is_unauthenticated(missing):
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "fusion", "sub": "alice", "role": "analyst", "regions": ["north"],
              "iat": now, "exp": now + 600, "jti": "a" * 32}
    del claims[missing]
    with pytest.raises(Unauthenticated):
        authenticate(bearer(jwt.encode(claims, SECRET, algorithm="HS256")), SECRET)


def test_issue_rejects_unknown_role_and_empty_regions():
    with pytest.raises(BadInput):
        issue_token(SECRET, "alice", "superuser", ["north"], timedelta(hours=1))
    with pytest.raises(BadInput):
        issue_token(SECRET, "alice", "analyst", [], timedelta(hours=1))


@pytest.mark.parametrize(("text", "expected"), [
    ("8h", timedelta(hours=8)), ("30m", timedelta(minutes=30)), ("7d", timedelta(days=7)),
    ("90s", timedelta(seconds=90)), ("2w", timedelta(weeks=2)),
    ("1h30m", timedelta(hours=1, minutes=30)), (" 8H ", timedelta(hours=8)),
])
def test_parse_ttl_reads_durations(text, expected):
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["", "8", "h", "8x", "-1h", "0h", "1.5h", "8h junk", "h8"])
def test_parse_ttl_rejects_other_text(text):
    with pytest.raises(BadInput):
        parse_ttl(text)


def test_secret_is_generated_once_with_owner_only_permissions(tmp_path):
    settings = Settings(home=tmp_path / "home")
    first = load_secret(settings)
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(secret_path(settings)).st_mode) == 0o600
    assert load_secret(Settings(home=tmp_path / "home")) == first
    assert load_secret(Settings(home=tmp_path / "other")) != first


def test_fusion_secret_setting_wins_over_the_generated_one(tmp_path):
    value = "k" * 40
    assert load_secret(Settings(home=tmp_path, secret=value)) == value.encode()
    assert not secret_path(Settings(home=tmp_path)).exists()


def test_short_fusion_secret_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load_secret(Settings(home=tmp_path, secret="short"))


def test_secret_file_readable_by_others_is_refused(tmp_path):
    settings = Settings(home=tmp_path)
    load_secret(settings)
    os.chmod(secret_path(settings), 0o644)
    with pytest.raises(ConfigError, match="chmod"):
        load_secret(settings)


def test_every_token_carries_its_own_id():
    ids = {jwt.decode(issue_token(SECRET, "alice", "analyst", ["north"], timedelta(hours=1)),
                      SECRET, algorithms=["HS256"], issuer="fusion")["jti"] for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_issue_claims_returns_the_signed_claims():
    token, claims = issue_claims(SECRET, "alice", "analyst", ["north"], timedelta(hours=1))
    assert jwt.decode(token, SECRET, algorithms=["HS256"], issuer="fusion") == claims


@pytest.mark.parametrize("ttl", [timedelta(weeks=1000), timedelta(hours=12, seconds=1)])
def test_issue_refuses_a_lifetime_over_the_default_cap_of_12_hours(ttl):
    with pytest.raises(BadInput, match="FUSION_TOKEN_MAX_TTL"):
        issue_token(SECRET, "alice", "analyst", ["north"], ttl)
    issue_token(SECRET, "alice", "analyst", ["north"], timedelta(hours=12))


def test_the_cap_comes_from_the_key():
    key = SigningKey(SECRET, max_ttl=timedelta(minutes=30))
    with pytest.raises(BadInput, match="at most 0.5 h"):
        issue_token(key, "alice", "analyst", ["north"], timedelta(minutes=31))
    long = SigningKey(SECRET, max_ttl=timedelta(days=2))
    token = issue_token(long, "alice", "analyst", ["north"], timedelta(days=1))
    assert authenticate(bearer(token), long).user == "alice"
    with pytest.raises(Unauthenticated, match="FUSION_TOKEN_MAX_TTL"):
        authenticate(bearer(token), key)


def test_a_token_living_longer_than_the_cap_is_unauthenticated_even_if_signed():
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "fusion", "sub": "alice", "role": "admin", "regions": ["north"],
              "iat": now, "exp": now + 1000 * 7 * 86400, "jti": "a" * 32}
    with pytest.raises(Unauthenticated, match="FUSION_TOKEN_MAX_TTL"):
        authenticate(bearer(jwt.encode(claims, SECRET, algorithm="HS256")), SECRET)


def test_load_secret_carries_the_configured_cap(tmp_path):
    key = load_secret(Settings(home=tmp_path, token_max_ttl="90m"))
    assert isinstance(key, SigningKey) and key.max_ttl == timedelta(minutes=90)
    assert key.revocations is not None


def test_revocations_that_cannot_be_read_refuse_tokens_as_unavailable():
    from fusion.auth.revocation import RevocationList
    from fusion.errors import DatabaseError

    nowhere = Settings(neo4j_uri="bolt://127.0.0.1:9", neo4j_user="u", neo4j_password="p",
                       token_revocation_refresh=0.2)
    revocations = RevocationList(nowhere)
    key = SigningKey(SECRET, revocations=revocations)
    token = issue_token(key, "alice", "analyst", ["north"], timedelta(hours=1))
    try:
        with pytest.raises(DatabaseError, match="revocations cannot be checked") as raised:
            authenticate(bearer(token), key)
        assert raised.value.code == "UNAVAILABLE"
    finally:
        revocations.close()


@pytest.mark.parametrize("jti", ["0" * 32, "ABCDEF0123456789abcdef0123456789"])
def test_check_jti_accepts_token_ids(jti):
    from fusion.auth.revocation import check_jti

    assert check_jti(f" {jti} ") == jti.lower()
