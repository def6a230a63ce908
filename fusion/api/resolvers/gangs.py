"""gangs and gangOf: community detection over the scope's person graph (fusion.services.gangs),
run in a worker thread on the sync driver."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from fusion.api.enums import CommunityAlgorithm, ExportFormat
from fusion.api.exporting import export_document
from fusion.api.inputs import EntityRef, LinkWeightsInput
from fusion.api.nodes import Node, regions_in
from fusion.api.resolvers.entities import ScopeArg
from fusion.api.types.analysis import Gang, GangLinkCount, GangMember, LinkKind
from fusion.api.types.entity import entity_ref
from fusion.api.types.graph import ExportDocument
from fusion.api.workers import in_worker
from fusion.errors import BadInput, NotFound
from fusion.services import gangs as analysis
from fusion.services.entities import EntityRef as AnalysisRef
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
    found = await in_worker(ctx.services, analysis.gangs, ctx.services.sync_driver,
                            ctx.services.database, ctx.settings.home, **args)
    return [gang_of_analysis(g, regions, args) for g in found]


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
    kind, key = person.canonical()
    if kind != "PERSON":
        raise BadInput(f"gangOf takes a PERSON, not {kind}")
    if await ctx.loaders.node.load((kind, key, regions)) is None:
        raise NotFound(f"No person {key!r} in scope.")
    args = _args(regions, min_size, algorithm, resolution, weights, since, until)
    found = await in_worker(ctx.services, analysis.gang_of, ctx.services.sync_driver,
                            ctx.services.database, ctx.settings.home, AnalysisRef(kind, key),
                            **args)
    return None if found is None else gang_of_analysis(found, regions, args)


def _args(regions, min_size, algorithm, resolution, weights, since, until) -> dict:
    return {"scope": regions, "min_size": min_size, "algorithm": algorithm.value.lower(),
            "resolution": resolution, "since": since, "until": until,
            "weights": None if weights is None else weights.as_dict()}


def gang_of_analysis(g: analysis.Gang, regions: frozenset[str], args: dict) -> Gang:
    """The GraphQL gang of an analysis gang."""
    members = [GangMember(person=entity_ref("PERSON", m.person.key, regions), score=m.score,
                          rank=m.rank) for m in g.members]
    links = [GangLinkCount(type=LinkKind(kind), count=int(n))
             for kind, n in sorted(g.links.items())]
    return Gang(id=strawberry.ID(g.id), size=g.size, regions=regions_in(g.regions, regions),
                cohesion=g.cohesion, members=members, links=links, export_args=args)


async def export_gang(info: Info, gang: Gang, format: ExportFormat) -> ExportDocument:  # noqa: A002
    """Members and the evidence links between them, as a file."""
    ctx = info.context
    args = gang.export_args
    keys = {m.person.key for m in gang.members}
    links = await in_worker(ctx.services, analysis.gang_links, ctx.services.sync_driver,
                            ctx.services.database, ctx.settings.home, scope=args["scope"],
                            since=args["since"], until=args["until"])
    nodes = [await ctx.loaders.node.load(("PERSON", key, args["scope"])) for key in sorted(keys)]
    rels = [{"type": f"{row['kind'].upper()}_LINK",
             "from": {"kind": "PERSON", "key": row["a"]},
             "to": {"kind": "PERSON", "key": row["b"]}, "properties": {"count": row["count"]}}
            for row in links.iter_rows(named=True) if row["a"] in keys and row["b"] in keys]
    return export_document(format, [n.in_scope(args["scope"]) for n in nodes
                                    if isinstance(n, Node)], rels,
                           f"gang-{gang.id}")
