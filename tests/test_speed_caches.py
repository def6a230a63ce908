"""What the per-request caches may remember and what they must still check every time:
verified tokens (expiry, key) and parsed and validated documents (only clean ones; the limits
refuse a document however often it is sent)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from fusion.api.doccache import MAX_TEXT, DocumentCache
from fusion.api.requests import new_request_id
from fusion.api.schema import build_schema
from fusion.auth.access import authenticate
from fusion.auth.tokens import SigningKey, VerifiedTokens, issue_token
from fusion.config import Settings
from fusion.errors import Unauthenticated

SECRET = b"s" * 32
OTHER = b"o" * 32


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_verified_token_is_remembered_by_its_key():
    key = SigningKey(SECRET)
    token = issue_token(key, "ana", "analyst", ["330100"], timedelta(hours=1))
    first = authenticate(bearer(token), key)
    assert key.verified.get(token) is not None
    assert authenticate(bearer(token), key) == first


def test_a_remembered_token_is_refused_once_it_expires():
    key = SigningKey(SECRET)
    issued = datetime.now(UTC) - timedelta(seconds=1)
    token = issue_token(key, "ana", "analyst", ["330100"], timedelta(seconds=3), now=issued)
    authenticate(bearer(token), key)
    time.sleep(max(0.0, issued.timestamp() + 3 - time.time()) + 0.05)
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(bearer(token), key)


def test_a_token_remembered_by_one_key_is_not_accepted_by_another():
    key = SigningKey(SECRET)
    token = issue_token(key, "ana", "analyst", ["330100"], timedelta(hours=1))
    authenticate(bearer(token), key)
    with pytest.raises(Unauthenticated):
        authenticate(bearer(token), SigningKey(OTHER))


def test_the_token_cache_keeps_at_most_its_size_oldest_out():
    cache = VerifiedTokens(size=2)
    later = {"exp": time.time() + 60}
    for name in ("a", "b", "c"):
        cache.put(name, later)
    assert cache.get("a") is None and cache.get("b") == later and cache.get("c") == later


def _run(schema, query: str):
    return asyncio.run(schema.execute(query))


@pytest.fixture(scope="module")
def schema():
    return build_schema(Settings(api_max_depth=2))


def test_a_valid_document_is_parsed_and_validated_once(schema):
    query = "query Once { __typename }"
    assert _run(schema, query).errors is None
    document = schema.documents.parse(query, Settings().api_max_tokens)
    assert schema.documents.is_valid(query)
    assert _run(schema, query).data == {"__typename": "Query"}
    assert schema.documents.parse(query, Settings().api_max_tokens) is document


def test_an_invalid_document_is_refused_every_time_and_never_remembered(schema):
    query = "query Bad { noSuchField }"
    for _ in range(2):
        result = _run(schema, query)
        assert result.errors and result.errors[0].extensions["code"] == "BAD_INPUT"
    assert not schema.documents.is_valid(query)


def test_a_too_deep_document_is_refused_every_time(schema):
    query = ('{ relationshipPaths(from: {kind: PERSON, key: "a"}, to: {kind: PERSON, key: "b"})'
             " { rels { from { key } } } }")
    for _ in range(2):
        result = _run(schema, query)
        assert result.errors and result.errors[0].extensions["code"] == "TOO_COMPLEX"
    assert not schema.documents.is_valid(query)


def test_the_document_cache_is_bounded_and_skips_long_texts():
    cache = DocumentCache(size=2)
    for i in range(3):
        cache.mark_valid(f"query Q{i} {{ __typename }}")
    assert cache.sizes() == (0, 2) and not cache.is_valid("query Q0 { __typename }")
    long = "query L { __typename }" + " " * MAX_TEXT
    cache.mark_valid(long)
    cache.parse(long)
    assert not cache.is_valid(long) and cache.sizes() == (0, 2)


def test_request_ids_are_16_hex_digits_and_distinct():
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
