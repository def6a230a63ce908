"""Timelines: the calls, parcels, sightings and cases of an entity in time order.

Individual calls, parcels and sightings come from the event store (only records visible in
scope, read lazily and cut to the time range before anything is materialized, in a worker
thread); cases come from the graph. A person's timeline is that of the phones they use and
vehicles they own, plus the cases they are involved in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from fusion.errors import BadInput, NotFound
from fusion.services.arguments import check_limit
from fusion.services.cypher import read
from fusion.services.events import SUBJECT_KINDS, visible_events
from fusion.services.models import EntityRef
from fusion.services.runtime import Runtime, in_worker
from fusion.services.values import json_value, native_time
from queries.model import KIND_LABELS
from queries.timeline import ADDRESS_PARCELS, CASES, EXISTS, PERSON_SUBJECTS


@dataclass(frozen=True)
class Subjects:
    """What the events of an entity are keyed by."""

    phones: tuple[str, ...] = ()
    plates: tuple[str, ...] = ()
    sensors: tuple[str, ...] = ()
    parcels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    """One timeline event."""

    at: datetime
    type: str
    summary: str
    entities: tuple[tuple[str, str], ...]
    regions: tuple[str, ...]
    properties: dict = field(hash=False, compare=False)

    def sort_key(self) -> tuple:
        """Time order; ties by type and summary (a stable order for equal times)."""
        return self.at, self.type, self.summary


async def timeline(
    runtime: Runtime,
    entity: EntityRef,
    *,
    scope: frozenset[str],
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    limit_cap: int | None = None,
) -> list[Event]:
    """The first ``limit`` events of ``entity`` in ``[since, until]``, in time order
    (NotFound when the entity is not visible in ``scope``)."""
    check_limit(limit, limit_cap)
    if since is not None and until is not None and since > until:
        raise BadInput("since is after until")
    label = KIND_LABELS[entity.kind]
    params = {"key": entity.key, "scope": sorted(scope)}
    if not await read(runtime, EXISTS[label], **params):
        raise NotFound(f"No {entity.kind.lower()} {entity.key!r} in scope.")
    events: list[Event] = []
    if label in CASES:
        records = await read(runtime, CASES[label], since=since, until=until, limit=limit,
                             **params)
        events += [case_event(r) for r in records]
    subjects = await _subjects(runtime, entity, params)
    events += await in_worker(runtime, store_events, runtime.home, scope, subjects, since,
                              until, limit)
    return sorted(events, key=Event.sort_key)[:limit]


async def _subjects(runtime: Runtime, entity: EntityRef, params: dict) -> Subjects:
    """The phones, plates, sensors and parcels whose events belong to the entity."""
    if entity.kind == "PERSON":
        (r,) = await read(runtime, PERSON_SUBJECTS, **params)
        return Subjects(phones=tuple(r["phones"]), plates=tuple(r["plates"]))
    if entity.kind == "ADDRESS":
        (r,) = await read(runtime, ADDRESS_PARCELS, **params)
        return Subjects(parcels=tuple(r["parcels"]))
    key = entity.key
    return {"PHONE": Subjects(phones=(key,)), "VEHICLE": Subjects(plates=(key,)),
            "SENSOR": Subjects(sensors=(key,)), "PARCEL": Subjects(parcels=(key,))
            }.get(entity.kind, Subjects())


def store_events(home: Path, scope: frozenset[str], subjects: Subjects,
                 since: datetime | None, until: datetime | None, limit: int) -> list[Event]:
    """The first ``limit`` calls, parcels and sightings of the subjects, in time order."""
    found = (_calls(home, scope, subjects, since, until, limit)
             + _parcels(home, scope, subjects, since, until, limit)
             + _sightings(home, scope, subjects, since, until, limit))
    return sorted(found, key=Event.sort_key)[:limit]


def _first(lf: pl.LazyFrame, condition: pl.Expr, time: str, limit: int) -> list[dict]:
    return lf.filter(condition).sort(time).head(limit).collect().to_dicts()


def _calls(home, scope, s: Subjects, since, until, limit) -> list[Event]:
    if not s.phones:
        return []
    lf = visible_events(home, "calls", scope, "start_time", since, until)
    phones = list(s.phones)
    rows = _first(lf, pl.col("caller").is_in(phones) | pl.col("callee").is_in(phones),
                  "start_time", limit)
    return [Event(at=r["start_time"], type="SMS" if r["call_type"] == "sms" else "CALL",
                  summary=(f"{r['caller']} texted {r['callee']}" if r["call_type"] == "sms"
                           else f"{r['caller']} called {r['callee']} ({r['duration_s']} s)"),
                  entities=(("PHONE", r["caller"]), ("PHONE", r["callee"])),
                  regions=tuple(r["regions"]),
                  properties=_props(r, "duration_s", "call_type", "cell_id", "imei"))
            for r in rows]


def _parcels(home, scope, s: Subjects, since, until, limit) -> list[Event]:
    if not (s.phones or s.parcels):
        return []
    lf = visible_events(home, "waybills", scope, "shipped_at", since, until)
    phones = list(s.phones)
    condition = (pl.col("sender_phone").is_in(phones) | pl.col("receiver_phone").is_in(phones)
                 | pl.col("waybill_no").is_in(list(s.parcels)))
    return [Event(at=r["shipped_at"], type="PARCEL",
                  summary=(f"Parcel {r['waybill_no']} ({r['carrier'] or 'unknown carrier'}"
                           f"{': ' + r['item'] if r['item'] else ''}) from "
                           f"{r['sender_phone'] or '?'} to {r['receiver_phone'] or '?'}"),
                  entities=tuple([*((("PHONE", p),) if (p := r["sender_phone"]) else ()),
                                  *((("PHONE", p),) if (p := r["receiver_phone"]) else ()),
                                  ("PARCEL", r["waybill_no"])]),
                  regions=tuple(r["regions"]),
                  properties=_props(r, "carrier", "item", "declared_value", "weight_kg",
                                    "sender_name", "receiver_name", "sender_address",
                                    "receiver_address", "delivered_at"))
            for r in _first(lf, condition, "shipped_at", limit)]


def _sightings(home, scope, s: Subjects, since, until, limit) -> list[Event]:
    if not (s.phones or s.plates or s.sensors):
        return []
    lf = visible_events(home, "sightings", scope, "seen_at", since, until)
    condition = (((pl.col("subject_type") == "phone") & pl.col("subject").is_in(list(s.phones)))
                 | ((pl.col("subject_type") == "plate") & pl.col("subject").is_in(list(s.plates)))
                 | pl.col("sensor_id").is_in(list(s.sensors)))
    events = []
    for r in _first(lf, condition, "seen_at", limit):
        kind = SUBJECT_KINDS[r["subject_type"]]
        events.append(Event(
            at=r["seen_at"], type="SIGHTING",
            summary=f"{kind.capitalize()} {r['subject']} seen at sensor {r['sensor_id']}",
            entities=((kind, r["subject"]), ("SENSOR", r["sensor_id"])),
            regions=tuple(r["regions"]),
            properties=_props(r, "lat", "lon", "speed_kmh", "direction")))
    return events


def case_event(record) -> Event:
    """The timeline event of a case row of queries.timeline.CASES."""
    role = f"; role {record['role']}" if record["role"] else ""
    summary = f": {record['summary']}" if record["summary"] else ""
    return Event(at=native_time(record["at"]), type="CASE",
                 summary=f"Case {record['key']} ({record['case_type']}) reported{role}{summary}",
                 entities=(("CASE", record["key"]),), regions=tuple(record["regions"] or ()),
                 properties={"case_type": record["case_type"], "role": record["role"]})


def _props(row: dict, *names: str) -> dict:
    return {n: json_value(row[n]) for n in names if row.get(n) is not None}
