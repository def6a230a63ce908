"""Gangs as the service answers them, for the API, the CLI and the benchmarks alike: evidence
within the scope, communities in Python.

The person-to-person evidence of each kind (:mod:`fusion.services.gang_evidence`) is gathered
with the caller's scope and time range applied where it is read, so invisible people, phones,
vehicles, cases, parcels, relationships and events never contribute a link.
:func:`algorithms.gangs.gangs_from_links` then finds the communities and ranks their members;
the members' names and regions are read back for display. Arguments are checked here, once;
the graph is read over the runtime's async driver and the community detection runs in a worker
thread through :func:`fusion.services.runtime.in_worker`. :class:`Gang` is the one gang model the
GraphQL types and the CLI show: the algorithm's :class:`algorithms.gangs.Community` (person keys)
with its members as people (:meth:`Gang.of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from algorithms import gangs as algo
from algorithms.community import ALGORITHMS
from fusion.errors import BadInput, NotFound
from fusion.services.cotravel import Visible
from fusion.services.entities import Entity, EntityRef
from fusion.services.gang_evidence import gang_links, read_records
from fusion.services.runtime import Runtime, in_worker
from queries.gangs import PERSON_REGIONS
from queries.model import GANG_MIN_SIZE

__all__ = ["Gang", "GangLink", "GangMember", "gang_evidence", "gang_links", "gang_of", "gangs"]


@dataclass(frozen=True)
class GangMember:
    """A member: the person, the key-player score (betweenness within the gang), 1-based rank."""

    person: Entity
    score: float
    rank: int


@dataclass(frozen=True)
class GangLink:
    """Evidence of one kind between two members: ``count`` cases, calls, parcels or meetings."""

    a: str
    b: str
    kind: str
    count: int


@dataclass(frozen=True)
class Gang:
    """A gang: stable id, ranked members, cohesion, regions, evidence counts per link kind.

    A community of :mod:`algorithms.gangs` shown: its members are people (name and regions),
    and its regions are theirs. Build one with :meth:`of`.
    """

    id: str
    members: tuple[GangMember, ...]
    cohesion: float
    regions: tuple[str, ...]
    links: Mapping[str, int]

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)

    @property
    def keys(self) -> frozenset[str]:
        """Member person keys."""
        return frozenset(m.person.key for m in self.members)

    @classmethod
    def of(cls, found: algo.Community, people: Mapping[str, Entity]) -> Gang:
        """The gang of a community; ``people`` shows its members (bare when absent)."""
        members = tuple(
            GangMember(people.get(m.key, Entity("PERSON", m.key, None, ())), m.score, m.rank)
            for m in found.members)
        regions = tuple(sorted({g for m in members for g in m.person.regions}))
        return cls(found.id, members, found.cohesion, regions, dict(found.links))


async def gangs(
    runtime: Runtime,
    *,
    scope: frozenset[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
    weights: algo.LinkWeights | Mapping[str, float | None] | None = None,
    algorithm: str = "leiden",
    resolution: float = 1.0,
    min_size: int = GANG_MIN_SIZE,
    seed: int = 42,
) -> list[Gang]:
    """Gangs of the scope's person graph in [since, until], largest first, then by id."""
    checked, name = _checked(weights, algorithm, resolution, min_size)
    kinds = tuple(k for k in algo.LINK_KINDS if getattr(checked, k) > 0)
    links = await gang_links(runtime, scope=scope, since=since, until=until, kinds=kinds)
    found = await in_worker(runtime, algo.gangs_from_links, links, checked, name, resolution,
                            seed, min_size)
    people = await _people(runtime, sorted({k for g in found for k in g.keys}))
    return [Gang.of(g, people) for g in found]


async def gang_of(
    runtime: Runtime,
    person: EntityRef,
    *,
    visible: Visible | None = None,
    **options: Any,
) -> Gang | None:
    """The gang ``person`` belongs to in :func:`gangs`' answer for the same ``options`` (its
    keyword arguments), or None.

    ``visible`` (when given) must confirm the caller sees the person (NotFound otherwise).
    """
    if person.kind != "PERSON":
        raise BadInput(f"gangOf takes a PERSON, not {person.kind}")
    if visible is not None and not await visible(person):
        raise NotFound(f"No person {person.key!r} in scope.")
    found = await gangs(runtime, **options)
    return next((g for g in found if person.key in g.keys), None)


async def gang_evidence(
    runtime: Runtime,
    gang: Gang,
    *,
    scope: frozenset[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[GangLink]:
    """The evidence of every kind linking two members of ``gang`` (what its export shows)."""
    links = await gang_links(runtime, scope=scope, since=since, until=until)
    keys = gang.keys
    return [GangLink(row["a"], row["b"], row["kind"], row["count"])
            for row in links.iter_rows(named=True) if row["a"] in keys and row["b"] in keys]


def _checked(weights, algorithm: str, resolution: float,
             min_size: int) -> tuple[algo.LinkWeights, str]:
    """Validated weights and algorithm name (BadInput otherwise)."""
    name = algorithm.lower()
    if name not in ALGORITHMS:
        raise BadInput(f"algorithm must be one of {', '.join(a.upper() for a in ALGORITHMS)}")
    if not resolution > 0:
        raise BadInput("resolution must be positive")
    if min_size < 1:
        raise BadInput("minSize must be at least 1")
    try:
        return algo.LinkWeights.of(weights), name
    except (TypeError, ValueError) as err:
        raise BadInput(f"bad link weights: {err}") from err


async def _people(runtime: Runtime, keys: list[str]) -> dict[str, Entity]:
    """Label and regions of each person key."""
    records = await read_records(runtime, PERSON_REGIONS, keys=keys)
    return {r["key"]: Entity("PERSON", r["key"], r["label"], tuple(r["regions"] or ()))
            for r in records}

