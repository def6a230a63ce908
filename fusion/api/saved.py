"""Saved queries as the GraphQL service uses them: documents checked against its schema, the
viewer a caller is, and what an operator may send.

The storage, the visibility rule and approval are :mod:`fusion.services.saved`'s; this module
gives it what is GraphQL's to decide: :func:`document_check` (one operation, valid against the
schema, within the service's limits) as the service's ``check`` hook, and :func:`viewer_of` a
caller. Operators run saved queries only, and only approved ones, because approval is where an
admin vouches for what a query costs and reveals: an operator may send a document that only
lists or runs saved queries, or the exact text of an approved saved query (by sha256);
anything else is refused before it runs (:func:`is_saved_document`).
"""

from __future__ import annotations

import asyncio
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

from fusion.api.limits import EXPANSION_PER_TOKEN, check_document
from fusion.api.resources import Resources
from fusion.auth import Caller, Role, document_hash
from fusion.auth.access import TRUSTED_DOCUMENTS_ONLY, TRUSTED_ROOT_FIELDS
from fusion.errors import BadInput, TooComplex
from fusion.services import saved
from fusion.services.saved import SAVED_DIR, Check, CheckedDocument, Viewer

# Operators' documents up to this size are parsed on the event loop (a few ms at most); larger
# ones (a 1 MiB body takes graphql-core some 100 ms or more) in a worker thread.
INLINE_PARSE_CHARS = 4096


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


def document_check(schema: GraphQLSchema, max_tokens: int, *, max_depth: int | None = None,
                   max_aliases: int | None = None) -> Check:
    """The saved-query service's ``check`` hook: :func:`parse_saved` with these limits."""
    def check(document: str) -> CheckedDocument:
        _ast, op = parse_saved(document, schema, max_tokens, max_depth=max_depth,
                               max_aliases=max_aliases)
        return CheckedDocument(None if op.name is None else op.name.value, variables_of(op),
                               document_hash(document))
    return check


def builtin_rows(schema: GraphQLSchema, max_tokens: int, directory: Path = SAVED_DIR
                 ) -> list[dict]:
    """The shipped saved queries, valid against ``schema``; named after their operation."""
    return saved.builtin_rows(document_check(schema, max_tokens), directory)


def viewer_of(caller: Caller) -> Viewer:
    """The saved-query service's viewer for ``caller``: admins see every saved query,
    operators (the roles that may send trusted documents only) approved ones only."""
    return Viewer(caller.user, caller.regions, admin=caller.role is Role.ADMIN,
                  approved_only=caller.role in TRUSTED_DOCUMENTS_ONLY)


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
    return await saved.is_approved_document(services.runtime, document_hash(document))


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


def first_error(errors: list[GraphQLError]) -> GraphQLError:
    """The error a saved query's run reports (its code kept)."""
    error = errors[0]
    return GraphQLError(error.message, extensions=dict(error.extensions or {}))
