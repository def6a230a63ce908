"""Watchlists and standing queries: what a unit asks Fusion to watch for, owned and scoped.

A watchlist names plates, phones, ID numbers and parcels; a standing query names a rule of
:data:`queries.model.STANDING_KINDS` and its parameters. Both belong to one owner, state a
purpose, and carry a scope: the owner's home regions at creation, or a joint operation (whose
regions apply only while it is open and the owner is a member: closing it stops its alerts).
Entries are normalized here with the loaders' normalizers, so a malformed plate or phone is
refused with the normalizer's own reason and nothing is stored.

A standing query may name the saved query (by name) an analyst runs to see the same thing by
hand; the rule itself runs incrementally (:mod:`fusion.services.alerts`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fusion.errors import BadInput, NotFound
from fusion.services.cotravel import MAX_WINDOW
from fusion.services.cypher import read, write
from fusion.services.runtime import Runtime
from fusion.services.saved import Viewer, get_saved_query
from loaders.normalize import InvalidValue, canonical_key
from queries.alerts import (
    ACTIVE_WATCHLIST_NAMED,
    CREATE_STANDING,
    CREATE_WATCHLIST,
    LIST_STANDING,
    LIST_WATCHLISTS,
    REMOVE_STANDING,
    REMOVE_WATCHLIST,
    STANDING_NAMED,
)
from queries.model import (
    CO_TRAVEL_MIN_MEETINGS,
    CO_TRAVEL_MIN_SENSORS,
    CO_TRAVEL_WINDOW_S,
    STANDING_KINDS,
    WATCH_KINDS,
)

MAX_ENTRIES = 10_000
SEP = ":"  # entries are stored as "KIND:key" (kind names hold no colon)


@dataclass(frozen=True)
class Owner:
    """Who a watchlist or standing query belongs to, why, and over which regions."""

    user: str
    purpose: str
    regions: tuple[str, ...]
    joint_operation: str | None = None


@dataclass(frozen=True)
class Watchlist:
    """A named list of watched entities (``entries``: (kind, canonical key) pairs)."""

    id: str
    name: str
    owner: Owner
    entries: tuple[tuple[str, str], ...]
    webhook: str | None
    created_at: datetime


@dataclass(frozen=True)
class StandingQuery:
    """A rule evaluated after every load it depends on; ``results``: keys already reported."""

    name: str
    kind: str
    owner: Owner
    params: dict
    saved_query: str | None
    webhook: str | None
    every_s: float | None
    created_at: datetime
    results: frozenset[str] = field(default_factory=frozenset)
    last_run_at: datetime | None = None


def normalize_entries(entries: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(kind, raw) pairs as (kind, canonical key), in order, without repeats; BadInput naming
    every refused entry with the normalizer's reason."""
    if not entries:
        raise BadInput("A watchlist needs at least one entry.")
    if len(entries) > MAX_ENTRIES:
        raise BadInput(f"A watchlist holds at most {MAX_ENTRIES:,} entries.")
    kept: dict[tuple[str, str], None] = {}
    refused = []
    for n, (kind, raw) in enumerate(entries, 1):
        if kind not in WATCH_KINDS:
            refused.append(f"entry {n}: kind {kind!r} cannot be watched "
                           f"(one of {', '.join(WATCH_KINDS)})")
            continue
        try:
            kept[(kind, canonical_key(kind, raw))] = None
        except InvalidValue as err:
            refused.append(f"entry {n} ({kind} {raw!r}): {err.reason}: {err}")
    if refused:
        raise BadInput("Watchlist refused, nothing stored: " + "; ".join(refused[:20])
                       + (f"; and {len(refused) - 20} more" if len(refused) > 20 else ""))
    return tuple(kept)


def check_owner(owner: Owner) -> Owner:
    """The owner with a purpose and regions, or BadInput."""
    purpose = owner.purpose.strip()
    if not purpose:
        raise BadInput("State the purpose (case number or reason) of what is watched.")
    regions = tuple(sorted({r.strip() for r in owner.regions if r.strip()}))
    if not regions:
        raise BadInput("A watch needs at least one region in its scope.")
    return Owner(owner.user, purpose, regions, owner.joint_operation)


def check_webhook(url: str | None) -> str | None:
    """An http(s) URL with a host, or None; BadInput otherwise."""
    if url is None or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"The webhook must be an http(s) URL with a host, not {url!r}.")
    return url.strip()


async def add_watchlist(runtime: Runtime, owner: Owner, name: str,
                        entries: list[tuple[str, str]], webhook: str | None = None
                        ) -> Watchlist:
    """Store a new watchlist (names are unique per owner among active watchlists)."""
    owner, name = check_owner(owner), name.strip()
    if not name:
        raise BadInput("Name the watchlist.")
    normalized = normalize_entries(entries)
    webhook = check_webhook(webhook)
    if await read(runtime, ACTIVE_WATCHLIST_NAMED, owner=owner.user, name=name):
        raise BadInput(f"You already have a watchlist named {name!r}; remove it first.")
    props = {"id": uuid.uuid4().hex[:16], "name": name, **_owner_props(owner),
             "entries": [f"{k}{SEP}{v}" for k, v in normalized], "webhook": webhook,
             "created_at": datetime.now(UTC)}
    records = await write(runtime, CREATE_WATCHLIST, props=props)
    return watchlist_of(records[0]["watchlist"])


async def list_watchlists(runtime: Runtime, owner: str | None) -> list[Watchlist]:
    """Active watchlists of ``owner`` (None: everyone's, an administrator's view)."""
    records = await read(runtime, LIST_WATCHLISTS, owner=owner)
    return [watchlist_of(r["watchlist"]) for r in records]


async def remove_watchlist(runtime: Runtime, watchlist_id: str, owner: str | None,
                           by: str) -> Watchlist:
    """Stop a watchlist (kept, marked removed); NotFound unless ``owner`` has it active."""
    records = await write(runtime, REMOVE_WATCHLIST, id=watchlist_id, owner=owner,
                          now=datetime.now(UTC), by=by)
    if not records:
        raise NotFound(f"No active watchlist {watchlist_id!r} of yours.")
    return watchlist_of(records[0]["watchlist"])


def standing_params(kind: str, params: dict) -> dict:
    """The rule's parameters checked and completed with the vocabulary's defaults."""
    if kind == "COTRAVEL":
        subjects = params.get("subjects")
        if not isinstance(subjects, list) or not subjects or not all(
                isinstance(x, list | tuple) and len(x) == 2
                and all(isinstance(y, str) for y in x) for x in subjects):
            raise BadInput("A co-travel standing query names its plates or phones: "
                           'params.subjects = [["VEHICLE", "<plate>"], ["PHONE", "<phone>"]].')
        normalized = normalize_entries([(k, v) for k, v in subjects])
        if any(k not in ("VEHICLE", "PHONE") for k, _ in normalized):
            raise BadInput("Co-travel subjects are plates (VEHICLE) or phones (PHONE).")
        return {"subjects": [list(x) for x in normalized],
                "window_s": _number(params, "window_s", CO_TRAVEL_WINDOW_S, float,
                                    most=MAX_WINDOW),
                "min_meetings": _number(params, "min_meetings", CO_TRAVEL_MIN_MEETINGS, int),
                "min_sensors": _number(params, "min_sensors", CO_TRAVEL_MIN_SENSORS, int)}
    if kind == "FRAUD_PARCELS":
        case_type = params.get("case_type", "fraud")
        if not isinstance(case_type, str) or not case_type.strip():
            raise BadInput("params.case_type must name a case type (e.g. fraud).")
        return {"case_type": case_type.strip()}
    raise BadInput(f"Unknown standing-query kind {kind!r}; one of {', '.join(STANDING_KINDS)}.")


def _number(params: dict, name: str, default: float, kind: type, most: float = 10**9
            ) -> float:
    """A positive number parameter up to ``most`` (default when absent); BadInput otherwise."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (
            kind is int and value != int(value)) or value > most:
        raise BadInput(f"params.{name} must be a positive {kind.__name__} up to {most:g}, "
                       f"not {value!r}.")
    return kind(value)


async def add_standing_query(runtime: Runtime, owner: Owner, name: str, kind: str,
                             params: dict, saved_query: str | None = None,
                             webhook: str | None = None, every_s: float | None = None,
                             viewer: Viewer | None = None) -> StandingQuery:
    """Store a new standing query under a unique name. ``saved_query`` must name a saved
    query ``viewer`` (the owner, as the saved-query service sees them) may run."""
    owner, name = check_owner(owner), name.strip()
    if not name:
        raise BadInput("Name the standing query.")
    if every_s is not None and every_s < 10:
        raise BadInput("A scheduled standing query runs at most every 10 seconds.")
    if not isinstance(params, dict):
        raise BadInput("params must be a JSON object.")
    checked = standing_params(kind, params)
    if saved_query is not None and viewer is not None:
        await get_saved_query(runtime, viewer, saved_query)  # NotFound names it
    if await read(runtime, STANDING_NAMED, name=name):
        raise BadInput(f"A standing query named {name!r} exists (names are never reused).")
    props = {"name": name, "kind": kind, **_owner_props(owner), "params": json.dumps(checked),
             "saved_query": saved_query, "webhook": check_webhook(webhook),
             "every_s": every_s, "results": [], "created_at": datetime.now(UTC)}
    records = await write(runtime, CREATE_STANDING, props=props)
    return standing_of(records[0]["query"])


async def list_standing_queries(runtime: Runtime, owner: str | None) -> list[StandingQuery]:
    """Active standing queries of ``owner`` (None: everyone's)."""
    return [standing_of(r["query"]) for r in await read(runtime, LIST_STANDING, owner=owner)]


async def remove_standing_query(runtime: Runtime, name: str, owner: str | None, by: str
                                ) -> StandingQuery:
    """Stop a standing query; NotFound unless ``owner`` has it active."""
    records = await write(runtime, REMOVE_STANDING, name=name, owner=owner,
                          now=datetime.now(UTC), by=by)
    if not records:
        raise NotFound(f"No active standing query {name!r} of yours.")
    return standing_of(records[0]["query"])


def _owner_props(owner: Owner) -> dict:
    return {"owner": owner.user, "purpose": owner.purpose, "regions": list(owner.regions),
            "joint_operation": owner.joint_operation}


def native_time(value: object) -> datetime | None:
    """A driver temporal (or None) as an aware datetime."""
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    return native.astimezone(UTC)


def owner_of(props: dict) -> Owner:
    """The owner fields of a stored watchlist, standing query or alert."""
    return Owner(props["owner"], props.get("purpose") or "", tuple(props.get("regions") or ()),
                 props.get("joint_operation"))


def watchlist_of(props: dict) -> Watchlist:
    """A stored Watchlist node's properties as the model."""
    entries = tuple(tuple(e.split(SEP, 1)) for e in props.get("entries") or ())
    return Watchlist(props["id"], props["name"], owner_of(props), entries,  # type: ignore[arg-type]
                     props.get("webhook"), native_time(props["created_at"]))


def standing_of(props: dict) -> StandingQuery:
    """A stored StandingQuery node's properties as the model."""
    return StandingQuery(
        props["name"], props["kind"], owner_of(props), json.loads(props.get("params") or "{}"),
        props.get("saved_query"), props.get("webhook"), props.get("every_s"),
        native_time(props["created_at"]), frozenset(props.get("results") or ()),
        native_time(props.get("last_run_at")))
