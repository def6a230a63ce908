"""Saved queries: named GraphQL documents stored in Neo4j, validated against the schema on save.

The documents in ``queries/saved/*.graphql`` ship with Fusion (the contract's operations and
queries written for operations units) and are installed at start-up. A saved document is also
what operators may send as-is (the trusted-documents allowlist, by sha256 of the text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from graphql import (
    DocumentNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
    validate,
    value_from_ast_untyped,
)
from graphql.error import GraphQLError, GraphQLSyntaxError

from fusion.api.db import read, write
from fusion.api.nodes import native_time
from fusion.api.services import Services
from fusion.auth import Caller, Role, document_hash
from fusion.errors import BadInput, Forbidden, NotFound
from queries.saved_queries import (
    GET_SAVED_QUERY,
    INSTALL_BUILTIN_QUERIES,
    LIST_SAVED_QUERIES,
    SAVE_QUERY,
    SAVED_QUERY_BY_HASH,
)

SAVED_DIR = Path(__file__).resolve().parents[2] / "queries" / "saved"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class SavedQuery:
    """One saved query."""

    name: str
    description: str
    document: str
    variables: list[dict]
    builtin: bool
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_record(cls, q: dict) -> SavedQuery:
        """From a row of queries.saved_queries."""
        return cls(name=q["name"], description=q["description"], document=q["document"],
                   variables=json.loads(q["variables"] or "[]"), builtin=bool(q["builtin"]),
                   created_by=q["created_by"], created_at=native_time(q["created_at"]),
                   updated_at=native_time(q["updated_at"]))


def parse_saved(document: str, schema: GraphQLSchema, max_tokens: int
                ) -> tuple[DocumentNode, OperationDefinitionNode]:
    """Parse and validate a document with exactly one operation; BadInput otherwise."""
    try:
        ast = parse(document, max_tokens=max_tokens)
    except GraphQLSyntaxError as err:
        raise BadInput(f"The document does not parse: {err.message}") from None
    ops = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1:
        raise BadInput("A saved query holds exactly one operation (and any fragments it uses).")
    errors = validate(schema, ast)
    if errors:
        raise BadInput("The document is not valid against the schema: "
                       + "; ".join(e.message for e in errors[:5]))
    if ops[0].operation == OperationType.SUBSCRIPTION:
        raise BadInput("Subscriptions cannot be saved.")
    return ast, ops[0]


def variables_of(operation: OperationDefinitionNode) -> list[dict]:
    """The operation's variables: name, GraphQL type and default value."""
    return [{"name": v.variable.name.value, "type": print_ast(v.type),
             "default": None if v.default_value is None
             else value_from_ast_untyped(v.default_value)}
            for v in operation.variable_definitions or ()]


def description_of(text: str) -> str:
    """The leading ``#`` comment lines of a shipped document, joined."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(x for x in lines if x)


def builtin_rows(schema: GraphQLSchema, max_tokens: int, directory: Path = SAVED_DIR
                 ) -> list[dict]:
    """The shipped saved queries, validated; named after their operation."""
    rows = []
    for path in sorted(directory.glob("*.graphql")):
        text = path.read_text("utf-8")
        try:
            _ast, op = parse_saved(text, schema, max_tokens)
        except BadInput as err:
            raise ValueError(f"{path.name}: {err}") from None
        if op.name is None or op.name.value != path.stem:
            raise ValueError(f"{path.name}: its operation must be named {path.stem}")
        rows.append({"name": path.stem, "description": description_of(text), "document": text,
                     "document_hash": document_hash(text),
                     "variables": json.dumps(variables_of(op))})
    return rows


async def install_builtin_queries(services: Services, rows: list[dict]) -> int:
    """Create or update the shipped saved queries (:func:`builtin_rows`); returns how many."""
    await write(services, INSTALL_BUILTIN_QUERIES, rows=rows, now=datetime.now(UTC))
    return len(rows)


async def list_saved_queries(services: Services) -> list[SavedQuery]:
    """Every saved query by name."""
    return [SavedQuery.from_record(r["query"]) for r in await read(services, LIST_SAVED_QUERIES)]


async def get_saved_query(services: Services, name: str) -> SavedQuery:
    """The saved query ``name``; NotFound when there is none."""
    records = await read(services, GET_SAVED_QUERY, name=name)
    if not records:
        raise NotFound(f"No saved query {name!r}.")
    return SavedQuery.from_record(records[0]["query"])


async def is_saved_document(services: Services, document: str | None) -> bool:
    """True when ``document`` is, byte for byte, the document of a saved query."""
    if not document:
        return False
    return bool(await read(services, SAVED_QUERY_BY_HASH, hash=document_hash(document)))


async def save_query(services: Services, schema: GraphQLSchema, caller: Caller, name: str,
                     description: str, document: str) -> SavedQuery:
    """Validate and store (or replace one's own) saved query."""
    if not NAME.match(name):
        raise BadInput("A saved query's name starts with a letter and holds up to 64 letters, "
                       "digits, '_' or '-'.")
    if not description.strip() or len(description) > MAX_DESCRIPTION:
        raise BadInput(f"A saved query needs a description of 1 to {MAX_DESCRIPTION} characters.")
    _ast, op = parse_saved(document, schema, services.settings.api_max_tokens)
    records = await write(services, SAVE_QUERY, name=name, description=description.strip(),
                          document=document, document_hash=document_hash(document),
                          variables=json.dumps(variables_of(op)), user=caller.user,
                          admin=caller.role is Role.ADMIN, now=datetime.now(UTC))
    if not records:
        raise Forbidden(f"The saved query {name!r} is shipped with Fusion or belongs to another "
                        "user; choose another name.")
    return SavedQuery.from_record(records[0]["query"])


def first_error(errors: list[GraphQLError]) -> GraphQLError:
    """The error a saved query's run reports (its code kept)."""
    error = errors[0]
    return GraphQLError(error.message, extensions=dict(error.extensions or {}))
