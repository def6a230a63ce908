"""savedQueries, runSavedQuery, saveQuery, approveSavedQuery and revokeSavedQueryApproval: each
a call of the saved-query service (:mod:`fusion.services.saved`) as the caller's viewer, with
the schema's document check as its hook; running one executes it here, against the schema."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import OperationType
from strawberry.scalars import JSON
from strawberry.types import Info

from fusion.api.requests import result_count
from fusion.api.saved import document_check, first_error, parse_saved, viewer_of
from fusion.api.types.admin import SavedQueryType
from fusion.errors import BadInput
from fusion.services import saved as service


async def resolve_saved_queries(info: Info) -> list[SavedQueryType]:
    """The saved queries the caller may see, by name."""
    ctx = info.context
    found = await service.list_saved_queries(ctx.services.runtime, viewer_of(ctx.caller))
    return [SavedQueryType.of(q) for q in found]


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
    saved = await service.get_saved_query(ctx.services.runtime, viewer_of(ctx.caller), name)
    _ast, op = parse_saved(saved.document, info.schema._schema, ctx.settings.api_max_tokens)
    if op.operation != OperationType.QUERY:
        raise BadInput(f"{name} is a mutation: send its document to run it.")
    nested = ctx.nested()
    result = await info.schema.execute(saved.document, variable_values=variables,
                                       context_value=nested)
    if result.errors:
        raise first_error(result.errors)
    ctx.field_counts[info.path.key] = result_count(result.data, nested.field_counts) or 0
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
    settings = ctx.settings
    check = document_check(info.schema._schema, settings.api_max_tokens,
                           max_depth=settings.api_max_depth, max_aliases=settings.api_max_aliases)
    saved = await service.save_query(ctx.services.runtime, viewer_of(ctx.caller), name,
                                     description, document, check=check)
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
    saved = await service.approve_saved_query(ctx.services.runtime, viewer_of(ctx.caller), name,
                                              document_hash)
    return SavedQueryType.of(saved)


async def resolve_revoke_saved_query_approval(
    info: Info, name: Annotated[str, NAME_ARGUMENT],
) -> SavedQueryType:
    """Withdraw the approval: operators can no longer list or run it."""
    ctx = info.context
    saved = await service.revoke_saved_query_approval(ctx.services.runtime, viewer_of(ctx.caller),
                                                      name)
    return SavedQueryType.of(saved)
