"""truth.json: what the scenario contains, stated so tests can assert exact numbers.

Keys: seed, scale, generated_at_reference, regions, load_order (per-file accounting),
expected_nodes, gangs, cotravel_groups, near_misses, commuters, cross_region_pair,
fraud_chain, planted_qualifying_pairs, cotravel_pairs (every reported pair under the default
thresholds over all loaded sightings, or null above a size limit), cotravel_defaults.
"""

from __future__ import annotations

import polars as pl

from fusion.scenario.cotravel import pair_stats, qualifies
from fusion.scenario.planted import Gang, gang_truth
from fusion.scenario.population import World
from fusion.scenario.regions import dialect_of
from fusion.scenario.travel import PHONE_CODE_BASE
from queries.model import CO_TRAVEL_MIN_MEETINGS, CO_TRAVEL_MIN_SENSORS, CO_TRAVEL_WINDOW_S

DEFAULTS = {"window_s": CO_TRAVEL_WINDOW_S, "min_meetings": CO_TRAVEL_MIN_MEETINGS,
            "min_distinct_sensors": CO_TRAVEL_MIN_SENSORS}


def assemble_truth(world: World, seed: int, scale: float, writer, gangs: list[Gang],
                   chain: dict, travel: dict) -> dict:
    """The truth document (without the exact pair list)."""
    regions = [{"code": r.code, "name": r.name, "dialect": dialect_of(i)}
               for i, r in enumerate(world.regions)]
    return {
        "seed": seed, "scale": scale,
        "generated_at_reference": world.period.reference,
        "period": {"start_local": world.period.start_day.isoformat(), "days": world.period.days,
                   "timezone": "Asia/Shanghai"},
        "regions": regions,
        "load_order": [a.as_dict() for a in writer.accounts],
        "expected_nodes": writer.keys.counts(),
        "gangs": [gang_truth(g, world) for g in gangs],
        **travel,
        "fraud_chain": fraud_truth(world, chain),
        "cotravel_defaults": DEFAULTS,
    }


def fraud_truth(world: World, chain: dict) -> dict:
    """The fraud chain in canonical keys."""
    persons, phones = world.persons, world.phones
    victim, member = chain["victim"], chain["gang_member"]
    return {
        "victim": persons["id_no"][victim],
        "victim_region": world.regions[persons["region"][victim]].code,
        "victim_phone": phones["phone"][chain["victim_phone"]],
        "mule_phone": phones["phone"][chain["mule_phone"]],
        "gang_member": persons["id_no"][member],
        "gang_member_region": world.regions[persons["region"][member]].code,
        "gang_member_phone": phones["phone"][world.phones_of(member)[0]],
        "waybill_no": chain["waybill_no"], "calls": chain["calls"],
        "case_id": chain["case_id"],
    }


def exact_pairs(world: World, parts: list[pl.DataFrame]) -> list[dict]:
    """Every pair reported under the defaults, over all loaded sightings of all regions."""
    rows = pl.concat(parts).unique()
    stats = pair_stats(rows["_code"].to_numpy(), rows["_sensor_ix"].to_numpy(),
                       rows["seen_at"].to_numpy(), CO_TRAVEL_WINDOW_S)
    plates, phones = world.vehicles["plate"], world.phones["phone"]

    def key(code: int) -> dict:
        if code >= PHONE_CODE_BASE:
            return {"kind": "PHONE", "key": phones[code - PHONE_CODE_BASE]}
        return {"kind": "VEHICLE", "key": plates[code]}

    out = []
    for a, b, meetings, distinct in stats.iter_rows():
        if qualifies(meetings, distinct, DEFAULTS["min_meetings"],
                     DEFAULTS["min_distinct_sensors"]):
            out.append({"a": key(int(a)), "b": key(int(b)), "meetings": int(meetings),
                        "distinct_sensors": int(distinct)})
    return out
