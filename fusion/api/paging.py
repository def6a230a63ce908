"""Cursors and page types: one paging style for every list a caller may need in full.

A paged field takes ``first`` (items per page, 1 .. FUSION_API_MAX_RESULTS) and ``after`` (the
``nextCursor`` of the page before; omitted: the first page) and returns a ``...Page``: its
``items``, ``nextCursor``, ``hasNextPage``, ``totalCount`` and ``snapshot``.

A cursor is opaque and tamper-evident: base64url of (query digest, snapshot, offset, mark)
followed by an HMAC-SHA256 under a key derived from the service's signing secret. The query
digest covers the field, its arguments (``first`` and ``after`` aside) and the caller's
resolved scope, so a cursor is honoured only for the query and scope that produced it; a
changed, foreign or out-of-scope cursor is BAD_INPUT. The snapshot and offset say where the
next page starts in the held answer (:mod:`fusion.services.paging`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import polars as pl
import strawberry
from strawberry.scalars import JSON

from fusion.api.export import pair_arrays
from fusion.api.types.analysis import CoTravelPair
from fusion.errors import BadInput
from fusion.services import cotravel
from fusion.services.paging import Page as ServicePage
from fusion.services.paging import Position, check_first

__all__ = ["AfterArg", "CoTravelPairPage", "Cursor", "FirstArg", "Page", "decode", "encode",
           "page_fields", "page_of", "position", "query_digest"]

T = TypeVar("T")
_VERSION = 1
_LABEL = b"fusion paging cursor v1"
_MAC_BYTES = 16

FirstArg = Annotated[int, strawberry.argument(
    description="Most items in this page (1 .. FUSION_API_MAX_RESULTS).")]
AfterArg = Annotated[str | None, strawberry.argument(
    description="The previous page's nextCursor; omitted: the first page (a new snapshot).")]


@strawberry.type(description="One page of a list, in the list's stable order, from one "
                 "snapshot. Pass `nextCursor` as `after` for the next page.")
class Page(Generic[T]):
    items: list[T] = strawberry.field(description="This page's items.")
    next_cursor: str | None = strawberry.field(
        description="Opaque cursor of the next page (null: this is the last page).")
    has_next_page: bool = strawberry.field(description="True when more items follow.")
    total_count: int | None = strawberry.field(
        description="Items in the whole list at this snapshot (null: not known up front).")
    snapshot: str = strawberry.field(
        description="The snapshot every page of this walk is answered from.")


@dataclass(frozen=True)
class Cursor:
    """What a cursor carries: the query it belongs to and where the next page starts."""

    query: str
    snapshot: str
    offset: int
    mark: str = ""   # a list's own check of the position (the audit log: the record's hash)


def _key(secret: bytes) -> bytes:
    return hmac.new(bytes(secret), _LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """The bytes of unpadded base64url text that :func:`_b64` wrote, and only of such text:
    the decoder skips characters outside the alphabet and extra padding, so the bytes are
    encoded again and must give back ``text`` (binascii.Error otherwise)."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:
        raise binascii.Error("not unpadded base64url")
    return raw


def encode(secret: bytes, cursor: Cursor) -> str:
    """The opaque text of ``cursor``, signed with a key of ``secret``."""
    body = json.dumps([_VERSION, cursor.query, cursor.snapshot, cursor.offset, cursor.mark],
                      separators=(",", ":")).encode()
    mac = hmac.new(_key(secret), body, hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{_b64(body)}.{_b64(mac)}"


def decode(secret: bytes, text: str, query: str) -> Cursor:
    """The cursor ``text`` names, which must have been issued for ``query``; else BadInput."""
    try:
        body_text, mac_text = text.split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise BadInput("after is not a cursor this service issued.") from None
    expected = hmac.new(_key(secret), body, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise BadInput("after is not a cursor this service issued (or it was changed).")
    version, digest, snapshot, offset, mark = json.loads(body)
    if version != _VERSION or digest != query:
        raise BadInput("after is a cursor of another query or scope: page with the same "
                       "arguments and scope as the first page.")
    return Cursor(digest, snapshot, offset, mark)


def query_digest(field: str, scope: frozenset[str] | None, **args: Any) -> str:
    """The digest binding a cursor to one field, its arguments and the caller's scope."""
    text = json.dumps([field, None if scope is None else sorted(scope), args], sort_keys=True,
                      separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in sorted(vars(value).items())}
    if hasattr(value, "value"):
        return value.value
    return str(value)


def position(info: Any, first: int, after: str | None, query: str) -> Cursor | None:
    """The checked ``first`` and the decoded ``after`` (None: the first page)."""
    ctx = info.context
    check_first(first, ctx.settings.api_max_results)
    return None if after is None else decode(ctx.services.secret, after, query)


def at(cursor: Cursor | None) -> Position | None:
    """The service's position of a decoded cursor."""
    return None if cursor is None else Position(cursor.snapshot, cursor.offset)


def page_fields(info: Any, found: ServicePage, query: str) -> dict[str, Any]:
    """A page's cursor, flags, count and snapshot (the audit record counts its items)."""
    ctx = info.context
    ctx.field_counts[info.path.key] = len(found.items)
    nxt = found.next
    cursor = None if nxt is None else encode(ctx.services.secret,
                                             Cursor(query, nxt.snapshot, nxt.offset))
    return {"next_cursor": cursor, "has_next_page": nxt is not None,
            "total_count": found.total, "snapshot": found.snapshot}


def page_of(info: Any, found: ServicePage, query: str, items: list) -> Page:
    """The GraphQL page of a service page (``items``: its items as GraphQL types)."""
    return Page(items=items, **page_fields(info, found, query))


@strawberry.type(description="One page of coTravel's whole answer, in its order, from one "
                 "snapshot. Pass `nextCursor` as `after` for the next page. `rows` is the same "
                 "page as compact arrays, for services that fetch many pairs.")
class CoTravelPairPage:
    next_cursor: str | None = strawberry.field(
        description="Opaque cursor of the next page (null: this is the last page).")
    has_next_page: bool = strawberry.field(description="True when more items follow.")
    total_count: int | None = strawberry.field(
        description="Pairs in the whole list at this snapshot.")
    snapshot: str = strawberry.field(
        description="The snapshot every page of this walk is answered from.")
    frame: strawberry.Private[pl.DataFrame]
    asked: strawberry.Private[dict]

    @strawberry.field(description="This page's pairs.")
    def items(self) -> list[CoTravelPair]:
        return [CoTravelPair.of(p, cotravel.MeetingsOf.of(p, **self.asked))
                for p in cotravel.pairs_of(self.frame)]

    @strawberry.field(description="This page's pairs as arrays [aKind, aKey, bKind, bKey, "
                      "meetings, distinctSensors, firstAt, lastAt, significance, "
                      "expectedMeetings, distinctDays, leader, medianLeadSeconds, aReads, "
                      "bReads] (leader: \"a\", \"b\" or null): the items' values without a "
                      "GraphQL field each (far faster for bulk clients).")
    def rows(self) -> JSON:
        return pair_arrays(self.frame)
