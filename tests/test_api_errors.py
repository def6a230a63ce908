"""Error codes, masking and document limits at the schema level (strawberry's own execution,
no server)."""

from __future__ import annotations

import asyncio
import time

import pytest
import strawberry
from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    TypeInfo,
    ValidationContext,
    get_introspection_query,
    parse,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.api.errors import ErrorCodes, error_code
from fusion.api.limits import MAX_MERGED_PAIRS, check_document, document_shapes, merged_pairs
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


# -- document limits (fusion.api.limits), checked before any validator expands a fragment --

def _bomb(levels: int) -> str:
    """The fragment bomb of issue #13: each fragment spreads the next one twice."""
    parts = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on Query {{ savedQueries {{ name }} }}")
    return "query Bomb { ...F0 } " + " ".join(parts)


def _served_schema():
    from fusion.api.schema import build_schema
    from fusion.config import Settings

    return build_schema(Settings())


def test_fragment_bomb_is_refused_in_linear_time():
    schema = _served_schema()
    document = _bomb(22)
    assert len(document) < 1000
    started = time.perf_counter()
    result = asyncio.run(schema.execute(document))
    elapsed = time.perf_counter() - started
    (error,) = result.errors
    assert error.extensions["code"] == "TOO_COMPLEX" and "expands to more than" in error.message
    assert elapsed < 0.05, elapsed
    assert document_shapes(parse(document))["Bomb"].size == 2 ** 24 - 1


@pytest.mark.parametrize("document,message", [
    ("{ ...Nope }", "Unknown fragment 'Nope'"),
    ("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
     "Cannot spread fragment 'A' within itself"),
    ("query { ...A } fragment A on Query { savedQueries { ...A } }",
     "Cannot spread fragment 'A' within itself"),
])
def test_unknown_and_cyclic_fragments_are_bad_input(document, message):
    (error,) = asyncio.run(_served_schema().execute(document)).errors
    assert error.extensions["code"] == "BAD_INPUT" and message in error.message


def test_null_for_a_non_null_argument_with_default_is_bad_input():
    @strawberry.type
    class Query:
        @strawberry.field
        def hits(self, limit: int = 20) -> int:
            return limit

    schema = strawberry.Schema(query=Query, extensions=[ErrorCodes])
    result = asyncio.run(schema.execute("query($l: Int) { hits(limit: $l) }",
                                        variable_values={"l": None}))
    (error,) = result.errors
    assert error.extensions["code"] == "BAD_INPUT" and "limit" in error.message


# Random documents over a small recursive type, fragments included (acyclic: each fragment
# spreads only fragments defined after it), to compare with strawberry's own limiters.
_NAMES = ("a", "b", "__typename")


def _selection(draw, depth: int, fragments: int, first: int) -> str:
    kind = draw(st.sampled_from(["leaf", "field", "spread", "inline", "intro"]))
    alias = draw(st.sampled_from(["", "x: ", "y: "]))
    if kind == "spread" and first < fragments:
        return f"...F{draw(st.integers(first, fragments - 1))}"
    if kind == "inline" and depth < 6:
        return "... on T { " + _selections(draw, depth + 1, fragments, first) + " }"
    if kind == "intro":
        return f"{alias}__type(name: \"T\") {{ name fields {{ name }} }}"
    if kind == "field" and depth < 6:
        return f"{alias}t {{ " + _selections(draw, depth + 1, fragments, first) + " }"
    return alias + draw(st.sampled_from(_NAMES))


def _selections(draw, depth: int, fragments: int, first: int) -> str:
    n = draw(st.integers(1, 3))
    return " ".join(_selection(draw, depth, fragments, first) for _ in range(n))


@st.composite
def _documents(draw) -> str:
    fragments = draw(st.integers(0, 4))
    parts = [f"query Q{i} {{ t {{ " + _selections(draw, 0, fragments, 0) + " } }"
             for i in range(draw(st.integers(1, 2)))]
    parts += [f"fragment F{i} on T {{ " + _selections(draw, 0, fragments, i + 1) + " }"
              for i in range(fragments)]
    return " ".join(parts)


@strawberry.type
class _T:
    a: int = 1
    b: str = "b"

    @strawberry.field
    def t(self) -> _T:
        return _T()


@strawberry.type
class _Root:
    @strawberry.field
    def t(self) -> _T:
        return _T()


@settings(max_examples=300, deadline=None)
@given(document=_documents())
def test_depth_and_aliases_are_counted_as_strawberry_counts_them(document):
    from strawberry.extensions.max_aliases import count_fields_with_alias
    from strawberry.extensions.query_depth_limiter import determine_depth

    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    context = ValidationContext(strawberry.Schema(query=_Root)._schema, ast, TypeInfo(
        strawberry.Schema(query=_Root)._schema), lambda e: None)
    shapes = document_shapes(ast)
    for op in operations:
        depth = determine_depth(op, fragments, 0, 10 ** 6, context, op.name.value, None)
        assert shapes[op.name.value].depth == depth, document
    aliases = sum(count_fields_with_alias(op, fragments) for op in operations)
    assert sum(s.aliases for s in shapes.values()) == aliases, document


_REPEATS = {
    "one field 790 times": "{ " + " ".join("savedQueries { name }" for _ in range(790)) + " }",
    "300 fragments of one field": "{ " + " ".join(f"...F{i}" for i in range(300)) + " } "
    + " ".join(f"fragment F{i} on Query {{ savedQueries {{ name }} }}" for i in range(300)),
    "sub-selections merging": "{ " + " ".join(
        "savedQueries { " + "name " * 40 + "}" for _ in range(45)) + " }",
}


@pytest.mark.parametrize("name", sorted(_REPEATS))
def test_documents_quadratic_for_overlap_validation_are_refused_before_it(name):
    document = _REPEATS[name]
    assert merged_pairs(parse(document, max_tokens=4000)) > MAX_MERGED_PAIRS
    (error,) = asyncio.run(_served_schema().execute(document)).errors
    assert error.extensions["code"] == "TOO_COMPLEX" and "repeats field names" in error.message


def test_shipped_and_console_documents_are_within_the_limits():
    from fusion.api.saved import builtin_rows

    schema = _served_schema()
    documents = [r["document"] for r in builtin_rows(schema._schema, 4000)]
    documents.append(get_introspection_query(descriptions=True))
    for document in documents:
        check_document(parse(document), max_depth=10, max_aliases=20, max_size=12_000)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_datetime_that_leaves_the_calendar_in_utc_is_bad_input(text):
    from fusion.api.scalars import parse_datetime

    with pytest.raises(BadInput, match="out of range"):
        parse_datetime(text)


def test_datetimes_arrive_in_utc():
    from datetime import UTC, datetime

    from fusion.api.scalars import parse_datetime

    assert parse_datetime("2024-05-01T08:30:00+08:00") == datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
    assert parse_datetime("2024-05-01T08:30:00+08:00").tzinfo is UTC
