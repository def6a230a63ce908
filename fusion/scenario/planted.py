"""Planted criminal structures: gangs, a roving pickpocket gang, a gambling ring, a fraud chain.

Members are drawn from each region's reserve. Ties inside a structure are dense (shared
cases, many calls, parcels between members, convoys of their vehicles or phones) while
their ties to everyone else are the sparse background ones, so community detection on the
person graph can recover them. Planted calls use odd seconds (background: even).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fusion.scenario.population import World
from fusion.scenario.records import PlantedRecords
from fusion.scenario.travel import Planner, Subject


@dataclass(frozen=True)
class GangSpec:
    """What to plant: id, kind, size, registration regions, crime, where it operates."""

    id: str
    kind: str
    size: int
    regions: tuple[int, ...]
    crime: str
    operates: tuple[int, ...]
    cases: int
    convoy: str  # "plate" or "phone"


GANGS = (
    GangSpec("G1", "gang", 7, (0,), "robbery", (0,), 4, "plate"),
    GangSpec("G2", "gang", 9, (0, 1), "extortion", (0,), 4, "plate"),
    GangSpec("G3", "gang", 6, (1,), "drugs", (1,), 3, "plate"),
    GangSpec("G4", "gang", 11, (1, 2), "burglary", (2,), 5, "plate"),
    GangSpec("P1", "pickpocket", 8, (2,), "theft", (2, 0), 8, "phone"),
    GangSpec("B1", "gambling", 6, (1,), "gambling", (1,), 2, "phone"),
    GangSpec("F1", "fraud", 5, (1,), "fraud", (1,), 1, "phone"),
)


@dataclass
class Gang:
    """A planted structure as realized: its spec, members and their identifiers."""

    spec: GangSpec
    members: list[int]
    phones: list[int] = field(default_factory=list)
    plates: list[int] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)
    convoy: list[Subject] = field(default_factory=list)


class Reserve:
    """Hands out reserve people of each region, each at most once."""

    def __init__(self, world: World):
        self._left = {r: world.reserve(r) for r in range(len(world.regions))}

    def take(self, region: int, n: int = 1) -> list[int]:
        """``n`` unused reserve people of ``region``."""
        if len(self._left[region]) < n:
            raise RuntimeError(f"reserve of region {region} exhausted")
        taken, self._left[region] = self._left[region][:n], self._left[region][n:]
        return taken


def plant_gang(spec: GangSpec, world: World, reserve: Reserve, out: PlantedRecords,
               planner: Planner, rng: np.random.Generator) -> Gang:
    """Members, co-offending cases, dense calls, parcels and a convoy for one structure."""
    split = np.array_split(np.arange(spec.size), len(spec.regions))
    members = [pid for part, r in zip(split, spec.regions, strict=True)
               for pid in reserve.take(r, len(part))]
    gang = Gang(spec, members, [world.phones_of(p)[0] for p in members],
                [world.vehicle_of(p) for p in members])
    for c in range(spec.cases):
        where = spec.operates[c % len(spec.operates)]
        suspects = list(rng.choice(members, int(rng.integers(2, min(4, spec.size) + 1)),
                                   replace=False))
        victim = int(rng.choice(world.background(where)))
        gang.case_ids.append(out.case(where, spec.crime, suspects, [victim], rng))
    _dense_calls(gang, out, rng)
    for _ in range(int(rng.integers(2, 4))):
        a, b = rng.choice(len(members), 2, replace=False)
        out.parcel(gang.phones[a], gang.phones[b], rng, day=int(rng.integers(0, 27)))
    _convoy(gang, planner, rng)
    return gang


def _dense_calls(gang: Gang, out: PlantedRecords, rng: np.random.Generator) -> None:
    """A ring plus random chords (p = 0.6) between members, 3-9 calls per tie."""
    n = len(gang.phones)
    ties = {(i, (i + 1) % n) for i in range(n)}
    ties |= {(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.6}
    for i, j in sorted(ties):
        for _ in range(int(rng.integers(3, 10))):
            a, b = (i, j) if rng.random() < 0.5 else (j, i)
            out.call(gang.phones[a], gang.phones[b], rng)


def _convoy(gang: Gang, planner: Planner, rng: np.random.Generator) -> None:
    """Three members travel together in each region the structure operates in."""
    chosen = rng.choice(len(gang.members), 3, replace=False)
    kind = gang.spec.convoy
    subjects = [Subject(kind, gang.plates[i] if kind == "plate" else gang.phones[i])
                for i in chosen]
    for region in gang.spec.operates:
        planner.convoy(region, subjects, trips=3 if len(gang.spec.operates) == 1 else 2)
        for s in subjects:
            planner.solo(region, s, 1)
    gang.convoy = subjects


def plant_gambling_clients(gang: Gang, world: World, out: PlantedRecords,
                           rng: np.random.Generator) -> None:
    """The ring's organisers phone a crowd of gamblers a few times each."""
    region = gang.spec.operates[0]
    pool = world.phones.filter(world.phones["region"] == region)["phone_ix"].to_numpy()
    for client in rng.choice(pool, min(20, len(pool)), replace=False).tolist():
        organiser = gang.phones[int(rng.integers(0, 2))]
        for _ in range(int(rng.integers(1, 4))):
            out.call(organiser, int(client), rng)


def plant_fraud_chain(gang: Gang, world: World, reserve: Reserve, out: PlantedRecords,
                      rng: np.random.Generator) -> dict:
    """Victim (region 0) ships gold to a mule's phone; a member (region 1) keeps calling it."""
    victim = reserve.take(0)[0]
    victim_phone = world.phones_of(victim)[0]
    mule_phone = out.new_phone(0, rng)
    caller, boss = gang.phones[1], gang.phones[0]
    for day in (2, 3):
        out.call(caller, victim_phone, rng, day=day)
    waybill = out.parcel(victim_phone, mule_phone, rng, day=4, item="黄金首饰",
                         value=98_600.0, receiver_name="李先生")
    calls = [out.call(boss, mule_phone, rng, day=d) for d in (1, 2, 3, 4, 4, 5, 5, 6)]
    out.duplicate_call_in(calls[3], region=0)
    case_id = out.case(0, "fraud", [], [victim], rng, day=7,
                       summary="受害人被冒充公检法人员诈骗，购买黄金后快递寄出")
    return {"victim": victim, "mule_phone": mule_phone, "gang_member": gang.members[0],
            "waybill_no": waybill, "calls": len(calls), "case_id": case_id,
            "victim_phone": victim_phone}


def gang_truth(gang: Gang, world: World) -> dict:
    """The truth-file entry of one planted structure."""
    persons = world.persons
    return {
        "id": gang.spec.id, "kind": gang.spec.kind,
        "members": [persons["id_no"][p] for p in gang.members],
        "regions": sorted({world.regions[persons["region"][p]].code for p in gang.members}),
        "operates_in": [world.regions[r].code for r in gang.spec.operates],
        "phones": [world.phones["phone"][p] for p in gang.phones],
        "plates": [world.vehicles["plate"][v] for v in gang.plates if v is not None],
        "case_ids": gang.case_ids,
    }


def plant_all(world: World, reserve: Reserve, planner: Planner, out: PlantedRecords,
              rng: np.random.Generator) -> tuple[list[Gang], dict]:
    """Every planted structure; returns the gangs and the fraud chain's facts."""
    gangs = [plant_gang(spec, world, reserve, out, planner, rng) for spec in GANGS]
    for gang in gangs:
        if gang.spec.kind == "gambling":
            plant_gambling_clients(gang, world, out, rng)
    fraud = next(g for g in gangs if g.spec.kind == "fraud")
    chain = plant_fraud_chain(fraud, world, reserve, out, rng)
    return gangs, chain
