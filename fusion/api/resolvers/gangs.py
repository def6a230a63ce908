"""gangs and gangOf: arguments to one call of the gang service (fusion.services.gangs), its
answer as GraphQL types (a gang's export asks the service for the evidence it shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.enums import CommunityAlgorithm
from fusion.api.inputs import EntityRef, LinkWeightsInput
from fusion.api.paging import AfterArg, FirstArg, Page, at, page_of, position, query_digest
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.types.analysis import Gang
from fusion.services import gangs as service
from fusion.services import paged
from fusion.services.entities import EntityRef as Ref
from queries.model import GANG_MIN_SIZE

MinSizeArg = Annotated[int, strawberry.argument(description="Smallest gang reported.")]
AlgorithmArg = Annotated[CommunityAlgorithm, strawberry.argument(
    description="Community detection algorithm.")]
ResolutionArg = Annotated[float, strawberry.argument(
    description="Resolution: higher finds smaller, tighter gangs.")]
WeightsArg = Annotated[LinkWeightsInput | None, strawberry.argument(
    description="Weight per unit of each kind of evidence; omitted: the defaults.")]
SinceArg = Annotated[datetime | None, strawberry.argument(
    description="Only evidence at or after this time.")]
UntilArg = Annotated[datetime | None, strawberry.argument(
    description="Only evidence at or before this time.")]


async def resolve_gangs(
    info: Info,
    scope: ScopeArg = None,
    min_size: MinSizeArg = GANG_MIN_SIZE,
    algorithm: AlgorithmArg = CommunityAlgorithm.LEIDEN,
    resolution: ResolutionArg = 1.0,
    weights: WeightsArg = None,
    since: SinceArg = None,
    until: UntilArg = None,
) -> list[Gang]:
    """Gangs within scope, largest first."""
    ctx = info.context
    regions = await ctx.scope(scope)
    args = _args(regions, min_size, algorithm, resolution, weights, since, until)
    found = await service.gangs(ctx.services.runtime, **args)
    return [Gang.of(g, regions, args) for g in found]


async def resolve_gangs_page(
    info: Info,
    scope: ScopeArg = None,
    min_size: MinSizeArg = GANG_MIN_SIZE,
    algorithm: AlgorithmArg = CommunityAlgorithm.LEIDEN,
    resolution: ResolutionArg = 1.0,
    weights: WeightsArg = None,
    since: SinceArg = None,
    until: UntilArg = None,
    first: FirstArg = 100,
    after: AfterArg = None,
) -> Page[Gang]:
    """gangs' whole answer, a page at a time, largest first, from one snapshot."""
    ctx = info.context
    regions = await ctx.scope(scope)
    args = _args(regions, min_size, algorithm, resolution, weights, since, until)
    query = query_digest("gangsPage", regions, **{k: v for k, v in args.items() if k != "scope"})
    cursor = position(info, first, after, query)
    found = await paged.gang_page(ctx.services.runtime, at(cursor), first, **args)
    return page_of(info, found, query, [Gang.of(g, regions, args) for g in found.items])


async def resolve_gang_of(
    info: Info,
    person: Annotated[EntityRef, strawberry.argument(description="A person.")],
    scope: ScopeArg = None,
    algorithm: AlgorithmArg = CommunityAlgorithm.LEIDEN,
    min_size: MinSizeArg = GANG_MIN_SIZE,
    resolution: ResolutionArg = 1.0,
    weights: WeightsArg = None,
    since: SinceArg = None,
    until: UntilArg = None,
) -> Gang | None:
    """The gang the person belongs to in `gangs` for the same arguments (null: none)."""
    ctx = info.context
    regions = await ctx.scope(scope)

    async def visible(ref: Ref) -> bool:
        return await ctx.loaders.node.load((ref.kind, ref.key, regions)) is not None

    args = _args(regions, min_size, algorithm, resolution, weights, since, until)
    found = await service.gang_of(ctx.services.runtime, Ref(*person.canonical()),
                                  visible=visible, **args)
    return None if found is None else Gang.of(found, regions, args)


def _args(regions, min_size, algorithm, resolution, weights, since, until) -> dict:
    """The service's keyword arguments of the GraphQL ones."""
    return {"scope": regions, "min_size": min_size, "algorithm": algorithm.value.lower(),
            "resolution": resolution, "since": since, "until": until,
            "weights": None if weights is None else weights.as_dict()}
