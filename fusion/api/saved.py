"""Saved queries: named GraphQL documents stored in Neo4j, validated against the schema on save.

The documents in ``queries/saved/*.graphql`` ship with Fusion (the contract's operations and
queries written for operations units), are installed at start-up and approved by the product.
A query an analyst saves belongs to them and their home regions: it is seen and run by them,
by users sharing one of those regions, and by admins. Operators run saved queries only, and only
approved ones, because approval is where an admin vouches for what a query costs and reveals:
an operator may send a document that only lists or runs saved queries, or the exact text of an
approved saved query (by sha256); anything else is refused before it runs.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    print_ast,
    validate,
    value_from_ast_untyped,
)
from graphql.error import GraphQLError, GraphQLSyntaxError

from fusion.api.cypher import read, write
from fusion.api.limits import EXPANSION_PER_TOKEN, check_document
from fusion.api.nodes import native_time
from fusion.api.resources import Resources
from fusion.auth import Caller, Role, document_hash
from fusion.auth.access import TRUSTED_DOCUMENTS_ONLY, TRUSTED_ROOT_FIELDS
from fusion.errors import BadInput, Forbidden, NotFound, TooComplex
from queries.saved_queries import (
    APPROVE_SAVED_QUERY,
    APPROVED_QUERY_BY_HASH,
    GET_SAVED_QUERY,
    INSTALL_BUILTIN_QUERIES,
    LIST_SAVED_QUERIES,
    REVOKE_SAVED_QUERY_APPROVAL,
    SAVE_QUERY,
)

SAVED_DIR = Path(__file__).resolve().parents[2] / "queries" / "saved"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_DESCRIPTION = 1000
# Operators' documents up to this size are parsed on the event loop (a few ms at most); larger
# ones (a 1 MiB body takes graphql-core some 100 ms or more) in a worker thread.
INLINE_PARSE_CHARS = 4096


@dataclass(frozen=True)
class SavedQuery:
    """One saved query."""

    name: str
    description: str
    document: str
    document_hash: str
    variables: list[dict]
    builtin: bool
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: str | None = None
    regions: tuple[str, ...] = ()
    approved: bool = False
    approved_by: str | None = None
    approved_at: datetime | None = None

    @classmethod
    def from_record(cls, q: dict) -> SavedQuery:
        """From a row of queries.saved_queries."""
        approved = bool(q["approved"])
        return cls(name=q["name"], description=q["description"], document=q["document"],
                   document_hash=q["document_hash"],
                   variables=json.loads(q["variables"] or "[]"), builtin=bool(q["builtin"]),
                   created_by=q["created_by"], created_at=native_time(q["created_at"]),
                   updated_at=native_time(q["updated_at"]), updated_by=q["updated_by"],
                   regions=tuple(q["regions"]),
                   approved=approved, approved_by=q["approved_by"] if approved else None,
                   approved_at=native_time(q["approved_at"]) if approved else None)


def parse_saved(document: str, schema: GraphQLSchema, max_tokens: int, *,
                max_depth: int | None = None, max_aliases: int | None = None
                ) -> tuple[DocumentNode, OperationDefinitionNode]:
    """Parse and validate a document with exactly one operation; BadInput otherwise.

    With ``max_depth`` and ``max_aliases`` the document must also keep the service's limits
    (measured in linear time before graphql-core's validation, which is not linear).
    """
    try:
        ast = parse(document, max_tokens=max_tokens)
    except GraphQLSyntaxError as err:
        raise BadInput(f"The document does not parse: {err.message}") from None
    ops = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1:
        raise BadInput("A saved query holds exactly one operation (and any fragments it uses).")
    if max_depth is not None and max_aliases is not None:
        check_document(ast, max_depth=max_depth, max_aliases=max_aliases,
                       max_size=EXPANSION_PER_TOKEN * max_tokens)
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


async def install_builtin_queries(services: Resources, rows: list[dict]) -> int:
    """Create or update the shipped saved queries (:func:`builtin_rows`); returns how many."""
    await write(services, INSTALL_BUILTIN_QUERIES, rows=rows, now=datetime.now(UTC))
    return len(rows)


def _viewer(caller: Caller) -> dict:
    """The parameters of queries.saved_queries' visibility rule for ``caller``."""
    return {"all": caller.role is Role.ADMIN,
            "approved_only": caller.role in TRUSTED_DOCUMENTS_ONLY,
            "user": caller.user, "regions": sorted(caller.regions)}


async def list_saved_queries(services: Resources, caller: Caller) -> list[SavedQuery]:
    """The saved queries ``caller`` may see, by name."""
    records = await read(services, LIST_SAVED_QUERIES, **_viewer(caller))
    return [SavedQuery.from_record(r["query"]) for r in records]


async def get_saved_query(services: Resources, caller: Caller, name: str) -> SavedQuery:
    """The saved query ``name`` if ``caller`` may see it; NotFound otherwise."""
    records = await read(services, GET_SAVED_QUERY, name=name, **_viewer(caller))
    if not records:
        raise NotFound(f"No saved query {name!r} that you may run.")
    return SavedQuery.from_record(records[0]["query"])


async def is_saved_document(services: Resources, document: str | None) -> bool:
    """True when an operator may send ``document``: its operations are queries whose root
    fields only list or run saved queries, or it is, byte for byte, an approved saved query.

    The document is parsed with the token limit (TooComplex beyond it, BadInput when it does
    not parse), and its root fields are collected visiting each fragment once: linear work.
    A large document is parsed in a worker thread so that the event loop keeps answering.
    """
    if not document:
        return False
    max_tokens = services.settings.api_max_tokens
    if len(document) <= INLINE_PARSE_CHARS:
        fields = root_field_set(document, max_tokens)
    else:
        fields = await asyncio.to_thread(root_field_set, document, max_tokens)
    if fields <= TRUSTED_ROOT_FIELDS:
        return True
    return bool(await read(services, APPROVED_QUERY_BY_HASH, hash=document_hash(document)))


def root_field_set(document: str, max_tokens: int) -> set[str]:
    """The root field names of ``document`` (see :func:`root_fields`), parsed with the limit."""
    return set(root_fields(parse_bounded(document, max_tokens)))


def parse_bounded(document: str, max_tokens: int) -> DocumentNode:
    """The document's AST; TooComplex past ``max_tokens`` tokens, BadInput if it does not parse."""
    try:
        return parse(document, max_tokens=max_tokens, no_location=True)
    except GraphQLSyntaxError as err:
        if "tokens. Parsing aborted" in err.message:
            raise TooComplex(f"The document holds more than {max_tokens} tokens.") from None
        raise BadInput(f"The document does not parse: {err.message}") from None


def root_fields(ast: DocumentNode) -> list[str]:
    """The root field names of every operation (``mutation``/``subscription`` for operations
    that are not queries; ``...Name`` for a spread of an undefined fragment)."""
    fragments = {d.name.value: d.selection_set for d in ast.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    names: list[str] = []
    pending: list[SelectionSetNode] = []
    for op in ast.definitions:
        if isinstance(op, OperationDefinitionNode):
            if op.operation != OperationType.QUERY:
                names.append(op.operation.value)
            pending.append(op.selection_set)
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen:
                    continue
                seen.add(name)
                if name in fragments:
                    pending.append(fragments[name])
                else:
                    names.append("..." + name)
    return names


async def save_query(services: Resources, schema: GraphQLSchema, caller: Caller, name: str,
                     description: str, document: str) -> SavedQuery:
    """Validate and store (or replace one's own) saved query."""
    if not NAME.match(name):
        raise BadInput("A saved query's name starts with a letter and holds up to 64 letters, "
                       "digits, '_' or '-'.")
    if not description.strip() or len(description) > MAX_DESCRIPTION:
        raise BadInput(f"A saved query needs a description of 1 to {MAX_DESCRIPTION} characters.")
    settings = services.settings
    _ast, op = await asyncio.to_thread(  # validation is not linear: off the event loop
        parse_saved, document, schema, settings.api_max_tokens,
        max_depth=settings.api_max_depth, max_aliases=settings.api_max_aliases)
    records = await write(services, SAVE_QUERY, name=name, description=description.strip(),
                          document=document, document_hash=document_hash(document),
                          variables=json.dumps(variables_of(op)), user=caller.user,
                          regions=sorted(caller.regions), admin=caller.role is Role.ADMIN,
                          now=datetime.now(UTC))
    if not records:
        raise Forbidden(f"The saved query {name!r} is shipped with Fusion or belongs to another "
                        "user; choose another name.")
    return SavedQuery.from_record(records[0]["query"])


async def approve_saved_query(services: Resources, caller: Caller, name: str,
                              expected_hash: str | None = None) -> SavedQuery:
    """Approve the current text of ``name`` for operators (the Guard admits admins only);
    BadInput when ``expected_hash`` is given and the text changed since the admin read it."""
    records = await write(services, APPROVE_SAVED_QUERY, name=name, hash=expected_hash,
                          user=caller.user, now=datetime.now(UTC))
    if not records:
        raise NotFound(f"No saved query {name!r}.")
    if not records[0]["matched"]:
        raise BadInput(f"The saved query {name!r} changed since you read it (documentHash is "
                       "now different); read it again before approving.")
    return SavedQuery.from_record(records[0]["query"])


async def revoke_saved_query_approval(services: Resources, caller: Caller, name: str
                                      ) -> SavedQuery:
    """Withdraw the approval of ``name``: operators can no longer list or run it."""
    records = await write(services, REVOKE_SAVED_QUERY_APPROVAL, name=name, user=caller.user,
                          now=datetime.now(UTC))
    if not records:
        raise NotFound(f"No saved query {name!r}.")
    return SavedQuery.from_record(records[0]["query"])


def first_error(errors: list[GraphQLError]) -> GraphQLError:
    """The error a saved query's run reports (its code kept)."""
    error = errors[0]
    return GraphQLError(error.message, extensions=dict(error.extensions or {}))
