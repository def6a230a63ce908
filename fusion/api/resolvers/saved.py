"""savedQueries, runSavedQuery, saveQuery, approveSavedQuery and revokeSavedQueryApproval."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import OperationType
from strawberry.scalars import JSON
from strawberry.types import Info

from fusion.api.requests import result_count
from fusion.api.saved import (
    approve_saved_query,
    first_error,
    get_saved_query,
    list_saved_queries,
    parse_saved,
    revoke_saved_query_approval,
    save_query,
)
from fusion.api.types.admin import SavedQueryType
from fusion.errors import BadInput


async def resolve_saved_queries(info: Info) -> list[SavedQueryType]:
    """The saved queries the caller may see, by name."""
    ctx = info.context
    return [SavedQueryType.of(q) for q in await list_saved_queries(ctx.services, ctx.caller)]


async def resolve_run_saved_query(
    info: Info,
    name: Annotated[str, strawberry.argument(description="The saved query's name.")],
    variables: Annotated[JSON | None, strawberry.argument(
        description="Its variables, by name.")] = None,
) -> JSON:
    """The `data` of the saved query run with ``variables`` (its first error otherwise)."""
    ctx = info.context
    if ctx.saved_depth > 0:
        raise BadInput("A saved query cannot run another saved query.")
    if variables is not None and not isinstance(variables, dict):
        raise BadInput("variables must be an object keyed by variable name.")
    saved = await get_saved_query(ctx.services, ctx.caller, name)
    _ast, op = parse_saved(saved.document, info.schema._schema, ctx.settings.api_max_tokens)
    if op.operation != OperationType.QUERY:
        raise BadInput(f"{name} is a mutation: send its document to run it.")
    result = await info.schema.execute(saved.document, variable_values=variables,
                                       context_value=ctx.nested())
    if result.errors:
        raise first_error(result.errors)
    ctx.record.field_counts[info.path.key] = result_count(result.data) or 0
    return result.data


async def resolve_save_query(
    info: Info,
    name: Annotated[str, strawberry.argument(description="A unique name.")],
    description: Annotated[str, strawberry.argument(description="What it answers.")],
    document: Annotated[str, strawberry.argument(
        description="One GraphQL operation (plus its fragments), valid against this schema.")],
) -> SavedQueryType:
    """Validate and store the query (replacing one's own of the same name)."""
    ctx = info.context
    saved = await save_query(ctx.services, info.schema._schema, ctx.caller, name, description,
                             document)
    return SavedQueryType.of(saved)


NAME_ARGUMENT = strawberry.argument(description="The saved query's name.")


async def resolve_approve_saved_query(
    info: Info, name: Annotated[str, NAME_ARGUMENT],
    document_hash: Annotated[str | None, strawberry.argument(
        description="The documentHash you read: approve only if the text is still that one "
        "(BAD_INPUT otherwise).")] = None,
) -> SavedQueryType:
    """Approve the saved query's current text: operators may then list and run it."""
    ctx = info.context
    saved = await approve_saved_query(ctx.services, ctx.caller, name, document_hash)
    return SavedQueryType.of(saved)


async def resolve_revoke_saved_query_approval(
    info: Info, name: Annotated[str, NAME_ARGUMENT],
) -> SavedQueryType:
    """Withdraw the approval: operators can no longer list or run it."""
    ctx = info.context
    return SavedQueryType.of(await revoke_saved_query_approval(ctx.services, ctx.caller, name))
