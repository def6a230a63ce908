"""One /graphql request as the audit log and metrics see it.

The record is filled as the request goes: the body (document, variables, operation name) as
sent, the caller once authenticated, the scopes resolvers resolved, and finally the outcome —
``allowed``, ``denied:<CODE>`` (authentication, role, scope or purpose refused it) or
``failed:<CODE>`` — and the number of top-level result items. ``statements`` counts the
Cypher statements run for it through :func:`fusion.api.db.run_cypher`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from graphql import GraphQLError, OperationDefinitionNode, parse
from graphql.error import GraphQLSyntaxError

from fusion.auth import Caller

DENIAL_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "PURPOSE_REQUIRED"})


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

    def read_body(self, body: bytes) -> None:
        """Take document, variables and operation name from a JSON body, if it is one."""
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if isinstance(data.get("query"), str):
            self.document = data["query"]
        if isinstance(data.get("variables"), dict):
            self.variables = data["variables"]
        if isinstance(data.get("operationName"), str):
            self.operation_name = data["operationName"]
        elif self.document is not None:
            self.operation_name = operation_name_of(self.document)

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


def operation_name_of(document: str) -> str | None:
    """The name of the document's only operation (None when several, unnamed or unparsable)."""
    try:
        ast = parse(document, max_tokens=20_000)
    except GraphQLSyntaxError:
        return None
    ops = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].name is None:
        return None
    return ops[0].name.value
