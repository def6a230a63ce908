"""One /graphql request as the audit log and metrics see it, and its body read safely.

The body is read chunk by chunk and refused on the first chunk past :data:`MAX_BODY_BYTES`
(nothing more is buffered); it must be UTF-8 JSON, an object whose ``query`` is a string,
``variables`` an object or null and ``operationName`` a string or null, nested at most
:data:`MAX_JSON_DEPTH` deep. Anything else is BAD_INPUT with a message saying what was wrong —
never an exception escaping as HTTP 500.

The record is filled as the request goes: the body (document, variables, operation name) as
sent, the caller once authenticated, the scopes resolvers resolved, and finally the outcome —
``allowed``, ``denied:<CODE>`` (authentication, role, scope or purpose refused it) or
``failed:<CODE>`` — and the number of top-level result items. ``statements`` counts the
Cypher statements run for it (:func:`fusion.api.calling.observing`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass, field

from graphql import GraphQLError, OperationDefinitionNode, parse
from graphql.error import GraphQLSyntaxError

from fusion.auth import Caller
from fusion.errors import BadInput

DENIAL_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "PURPOSE_REQUIRED"})
MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 64
# Operation names the audit log keeps verbatim: GraphQL names of at most 100 characters.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class BodyTooLarge(BadInput):
    """The request body is larger than MAX_BODY_BYTES (HTTP 413)."""


@dataclass(frozen=True)
class GraphQLBody:
    """The fields of a well-formed request body."""

    query: str
    variables: dict | None
    operation_name: str | None


async def read_body(chunks: AsyncIterable[bytes], declared: str | None,
                    limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, refused as soon as it is known to exceed ``limit`` bytes."""
    if declared and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The request body is larger than {limit} bytes.")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The request body is larger than {limit} bytes.")
        parts.append(chunk)
    return b"".join(parts)


def parse_body(body: bytes, content_type: str | None) -> GraphQLBody:
    """The body's query, variables and operation name; BadInput saying what is wrong."""
    if "json" not in (content_type or "").lower():
        raise BadInput("Send the request body as JSON (Content-Type: application/json).")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise BadInput(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.") \
            from None
    except ValueError:
        raise BadInput("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadInput("The request body must be one JSON object with a `query` string "
                       "(batches are not accepted).")
    if json_depth(data) > MAX_JSON_DEPTH:
        raise BadInput(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.")
    if b"\\u" in body and not _encodable(data):
        raise BadInput("The request body holds an unpaired surrogate escape (such as \\ud800), "
                       "which is not Unicode text.")
    return _fields(data)


def _encodable(data: dict) -> bool:
    """Whether every string of ``data`` is Unicode text (JSON escapes can make lone surrogates)."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _fields(data: dict) -> GraphQLBody:
    """Check the types of query, variables and operationName."""
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise BadInput("`query` must be a GraphQL document (a non-empty string).")
    if not isinstance(variables, dict | None):
        raise BadInput("`variables` must be a JSON object or null.")
    if not isinstance(name, str | None):
        raise BadInput("`operationName` must be a string or null.")
    return GraphQLBody(query, variables, name)


def json_depth(value: object) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar: 0); no recursion."""
    if not isinstance(value, dict | list):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


def digest(value: object) -> dict:
    """sha256 and size of the canonical JSON of ``value``: what is kept of refused input."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                      ).encode()
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def audited_name(name: str | None) -> str | None:
    """An operation name as the audit log keeps it: verbatim if a GraphQL name, else hashed."""
    if name is None or _NAME.fullmatch(name):
        return name
    return "_invalid:" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:16]


@dataclass
class RequestRecord:
    """What is known about one request."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    started: float = field(default_factory=time.perf_counter)
    document: str | None = None
    variables: dict | None = None
    operation_name: str | None = None
    caller: Caller | None = None
    purpose: str | None = None
    scopes: set[str] = field(default_factory=set)
    outcome: str = "failed:INTERNAL"
    result_count: int | None = None
    field_counts: dict[str, int] = field(default_factory=dict)
    statements: int = 0
    admitted: bool = False     # authenticated and past the operators' allowlist

    def take(self, body: GraphQLBody, max_tokens: int) -> None:
        """Take document, variables and operation name from a well-formed body."""
        self.document, self.variables = body.query, body.variables
        self.operation_name = body.operation_name or operation_name_of(body.query, max_tokens)

    def audit_fields(self) -> dict:
        """Operation name and variables as the audit record keeps them.

        Variables are kept only when the request was admitted (an authenticated caller, past
        the operators' allowlist); of a refused one only their hash and size.
        """
        variables = self.variables
        if not self.admitted and variables is not None:
            variables = digest(variables)
        return {"operation_name": audited_name(self.operation_name), "variables": variables}

    def finish(self, data: object, errors: list[GraphQLError] | None) -> None:
        """Set outcome and result count from an execution result."""
        codes = [(e.extensions or {}).get("code", "INTERNAL") for e in errors or ()]
        self.outcome = outcome_of(codes)
        self.result_count = result_count(data, self.field_counts)

    def fail(self, code: str) -> None:
        """The request was refused or failed before execution."""
        self.outcome = outcome_of([code])
        self.result_count = None

    def elapsed(self) -> float:
        """Seconds since the request arrived."""
        return time.perf_counter() - self.started


def outcome_of(codes: list[str]) -> str:
    """allowed, denied:<CODE> (a denial among the codes wins) or failed:<first code>."""
    if not codes:
        return "allowed"
    denial = next((c for c in codes if c in DENIAL_CODES), None)
    return f"denied:{denial}" if denial else f"failed:{codes[0]}"


def result_count(data: object, overrides: dict[str, int] | None = None) -> int | None:
    """Top-level result items: a list counts its items, an object 1, null 0.

    ``overrides`` gives the count of some root fields by response key (``runSavedQuery``
    counts the top-level items of the saved query's own answer).
    """
    if not isinstance(data, dict):
        return None
    overrides = overrides or {}
    return sum(overrides.get(k, _items(v)) for k, v in data.items())


def _items(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, list):
        return len(value)
    return 1


def operation_name_of(document: str, max_tokens: int) -> str | None:
    """The name of the document's only operation (None when several, unnamed or unparsable)."""
    try:
        ast = parse(document, max_tokens=max_tokens)
    except (GraphQLSyntaxError, RecursionError):  # deep nesting exhausts the parser's stack
        return None
    ops = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].name is None:
        return None
    return ops[0].name.value
