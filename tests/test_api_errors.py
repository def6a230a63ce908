"""Error codes and masking at the schema level (strawberry's own execution, no server)."""

from __future__ import annotations

import asyncio

import strawberry
from graphql import GraphQLError

from fusion.api.errors import ErrorCodes, error_code
from fusion.errors import BadInput, DatabaseError, NotFound, TooComplex


@strawberry.type
class _Query:
    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("MATCH (n) RETURN n -- internal detail")

    @strawberry.field
    def missing(self) -> str:
        raise NotFound("No such thing.")

    @strawberry.field
    def down(self) -> str:
        raise DatabaseError("The graph database is not reachable.")


_SCHEMA = strawberry.Schema(query=_Query, extensions=[ErrorCodes])


def _errors(query: str) -> list[dict]:
    result = asyncio.run(_SCHEMA.execute(query))
    return [e.formatted for e in result.errors or ()]


def test_unexpected_exceptions_are_masked_as_internal():
    (error,) = _errors("{ boom }")
    assert error["extensions"]["code"] == "INTERNAL"
    assert "MATCH" not in str(error) and error["message"].startswith("Internal error")


def test_fusion_errors_keep_their_code_and_message():
    assert _errors("{ missing }")[0]["extensions"]["code"] == "NOT_FOUND"
    assert _errors("{ missing }")[0]["message"] == "No such thing."
    assert _errors("{ down }")[0]["extensions"]["code"] == "UNAVAILABLE"


def test_validation_errors_pass_through_as_bad_input():
    (error,) = _errors("{ nosuch }")
    assert error["extensions"]["code"] == "BAD_INPUT" and "nosuch" in error["message"]


def test_error_code_of_each_kind():
    assert error_code(GraphQLError("x", original_error=TooComplex("t"))) == "TOO_COMPLEX"
    assert error_code(GraphQLError("x", original_error=BadInput("b"))) == "BAD_INPUT"
    assert error_code(GraphQLError("'Q' exceeds maximum operation depth of 3")) == "TOO_COMPLEX"
    assert error_code(GraphQLError("21 aliases found. Allowed: 20")) == "TOO_COMPLEX"
    assert error_code(GraphQLError("x", extensions={"code": "FORBIDDEN"})) == "FORBIDDEN"
