"""GraphQL errors as clients see them: the contract's ``extensions.code``, nothing internal.

Every error leaving the service carries ``extensions.code`` and ``extensions.requestId``:

- a :class:`~fusion.errors.FusionError` raised anywhere keeps its (user-safe) message and code;
- parse and validation errors are ``BAD_INPUT``, except the query limits (depth, aliases,
  tokens, expanded size), which are ``TOO_COMPLEX``;
- an argument graphql-core cannot coerce at execution time (``null`` passed through a nullable
  variable to a non-null argument with a default, e.g. ``search(limit: $l)`` with ``$l: null``)
  is ``BAD_INPUT`` too;
- anything else is unexpected: logged in full with the request id, and replaced by a bare
  ``INTERNAL`` error naming that id (no message, stack trace or Cypher of the original).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from fusion.errors import FusionError

logger = logging.getLogger("fusion.api")

CONTRACT_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "PURPOSE_REQUIRED", "BAD_INPUT",
                            "NOT_FOUND", "TOO_COMPLEX", "UNAVAILABLE"})
INTERNAL = "INTERNAL"
# Messages of strawberry's and graphql-core's query-limit errors.
_LIMIT_MARKERS = ("exceeds maximum operation depth", "aliases found. Allowed",
                  "tokens. Parsing aborted")
# graphql-core's execution-time argument coercion errors start so (their original error, if
# any, is graphql-core's own unlocated GraphQLError, never an exception of a resolver).
_ARGUMENT_MARKER = "Argument '"


def fusion_code(error: FusionError) -> str:
    """The client code of a FusionError (server-side failures read as UNAVAILABLE)."""
    return error.code if error.code in CONTRACT_CODES else "UNAVAILABLE"


def error_code(error: GraphQLError) -> str:
    """The contract code a GraphQL error is reported with (INTERNAL: to be masked)."""
    given = (error.extensions or {}).get("code")
    if given:
        return given
    original = error.original_error
    if isinstance(original, FusionError):
        return fusion_code(original)
    if any(marker in error.message for marker in _LIMIT_MARKERS):
        return "TOO_COMPLEX"
    if error.path is None:  # parse, validation and variable-coercion errors
        return "BAD_INPUT"
    if isinstance(original, GraphQLError | None) and error.message.startswith(_ARGUMENT_MARKER):
        return "BAD_INPUT"
    return INTERNAL


def request_id_of(execution_context) -> str | None:
    """The request id of the context strawberry runs the operation with, if any."""
    record = getattr(execution_context.context, "record", None)
    return getattr(record, "id", None)


class ErrorCodes(MaskErrors):
    """Give every error its contract code and mask the unexpected ones."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: error_code(e) == INTERNAL,
                         error_message="Internal error.")

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            rid = request_id_of(self.execution_context)
            result.errors = [_coded(e, rid) for e in result.errors]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        rid = request_id_of(self.execution_context)
        message = f"Internal error; reference {rid}." if rid else "Internal error."
        return GraphQLError(message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path,
                            extensions={"code": INTERNAL})


def _coded(error: GraphQLError, request_id: str | None) -> GraphQLError:
    extensions = {**(error.extensions or {}), "code": error_code(error)}
    if request_id:
        extensions["requestId"] = request_id
    error.extensions = extensions
    return error


def log_errors(errors: list[GraphQLError], request_id: str | None) -> None:
    """Log the errors that will be masked in full; the others briefly."""
    for error in errors:
        if error_code(error) == INTERNAL:
            logger.error("request %s: unexpected error at %s", request_id, error.path,
                         exc_info=error.original_error or error)
        else:
            logger.info("request %s: %s (%s)", request_id, error.message, error_code(error))


def error_body(code: str, message: str, request_id: str | None) -> dict:
    """A GraphQL-shaped response body holding one request-level error."""
    extensions = {"code": code}
    if request_id:
        extensions["requestId"] = request_id
    return {"data": None, "errors": [{"message": message, "extensions": extensions}]}
