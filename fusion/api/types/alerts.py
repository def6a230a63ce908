"""Alerts, watchlists and standing queries as the schema shows them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from fusion.services.alerts import Alert
from fusion.services.watchlists import StandingQuery, Watchlist
from queries.model import ALERT_STATES, STANDING_KINDS, VOCABULARY, WATCH_KINDS

_STATES = {"NEW": "Raised, not triaged yet.", "CONFIRMED": "Confirmed by its owner (why kept).",
           "DISMISSED": "Dismissed by its owner (why kept)."}
_RULES = {"COTRAVEL": "New co-travel partners of the named plates or phones (sightings loads).",
          "FRAUD_PARCELS": "Parcels sent by phones involved in a case of a type (waybills and "
          "cases loads)."}
if tuple(_STATES) != ALERT_STATES or tuple(_RULES) != STANDING_KINDS:
    raise TypeError("alert states or standing kinds differ from queries.model")


def _enum(name: str, descriptions: dict[str, str], description: str):
    """A GraphQL enum with a description on every value."""
    values = {k: strawberry.enum_value(k, description=d) for k, d in descriptions.items()}
    return strawberry.enum(Enum(name, values), description=description)  # type: ignore[arg-type]


AlertState = _enum("AlertState", _STATES, "Triage state: NEW, then CONFIRMED or DISMISSED.")
WatchKind = _enum("WatchKind", {k.name: k.description for k in VOCABULARY.entities
                                if k.name in WATCH_KINDS},
                  "What a watchlist entry is: a plate (VEHICLE), a phone, a person (ID number) "
                  "or a parcel (waybill).")
StandingKind = _enum("StandingKind", _RULES, "A standing query's rule.")


@strawberry.input(description="One watched entity, in any raw form (normalized like the loaders).")
class WatchEntryInput:
    kind: WatchKind = strawberry.field(description="Its kind.")  # type: ignore[valid-type]
    key: str = strawberry.field(description="Plate, phone, ID number or waybill number.")


@strawberry.type(name="Alert", description="A finding from new data: what matched, the "
                 "evidence, the load that brought it, and its triage.")
class AlertType:
    id: strawberry.ID = strawberry.field(description="Its id, also the webhook Idempotency-Key.")
    owner: str = strawberry.field(description="The user whose watch raised it.")
    source: str = strawberry.field(description="WATCHLIST or STANDING.")
    source_id: str = strawberry.field(description="The watchlist's id or standing query's name.")
    source_name: str = strawberry.field(description="The watchlist's or query's name.")
    summary: str = strawberry.field(description="One line saying what matched.")
    subjects: list[str] = strawberry.field(description="What matched, as KIND:key.")
    evidence: JSON = strawberry.field(description="The matching records (at most 10 per "
                                      "entity) or the standing query's new results.")
    load_id: str | None = strawberry.field(description="The load that brought it (null: a "
                                           "scheduled run).")
    regions: list[str] = strawberry.field(description="The scope it was evaluated in.")
    purpose: str = strawberry.field(description="The watch's stated purpose.")
    joint_operation: str | None = strawberry.field(description="The joint operation scoping "
                                                   "it, if any.")
    created_at: datetime = strawberry.field(description="When it was raised.")
    state: AlertState = strawberry.field(description="Triage state.")  # type: ignore[valid-type]
    triaged_by: str | None = strawberry.field(description="Who confirmed or dismissed it.")
    triaged_at: datetime | None = strawberry.field(description="When.")
    triage_reason: str | None = strawberry.field(description="Why.")

    @classmethod
    def of(cls, a: Alert) -> AlertType:
        """From the service's model."""
        return cls(id=strawberry.ID(a.id), owner=a.owner, source=a.source,
                   source_id=a.source_id, source_name=a.source_name, summary=a.summary,
                   subjects=list(a.subjects), evidence=a.evidence, load_id=a.load_id,
                   regions=list(a.regions), purpose=a.purpose, joint_operation=a.joint_operation,
                   created_at=a.created_at, state=AlertState[a.state], triaged_by=a.triaged_by,
                   triaged_at=a.triaged_at, triage_reason=a.triage_reason)


@strawberry.type(name="Watchlist", description="A named list of watched entities.")
class WatchlistType:
    id: strawberry.ID = strawberry.field(description="Its id.")
    name: str = strawberry.field(description="Its name (unique among its owner's).")
    owner: str = strawberry.field(description="Its owner.")
    purpose: str = strawberry.field(description="Why it is watched.")
    regions: list[str] = strawberry.field(description="Its scope's regions.")
    joint_operation: str | None = strawberry.field(description="Its joint operation, if any.")
    entries: list[str] = strawberry.field(description="Watched entities as KIND:key.")
    webhook: str | None = strawberry.field(description="Where its alerts are POSTed.")
    created_at: datetime = strawberry.field(description="Since when it is in force.")

    @classmethod
    def of(cls, w: Watchlist) -> WatchlistType:
        """From the service's model."""
        return cls(id=strawberry.ID(w.id), name=w.name, owner=w.owner.user,
                   purpose=w.owner.purpose, regions=list(w.owner.regions),
                   joint_operation=w.owner.joint_operation,
                   entries=[f"{k}:{v}" for k, v in w.entries], webhook=w.webhook,
                   created_at=w.created_at)


@strawberry.type(name="StandingQuery", description="A rule evaluated after every load it "
                 "depends on; new results raise alerts.")
class StandingQueryType:
    name: str = strawberry.field(description="Its unique name.")
    kind: StandingKind = strawberry.field(description="Its rule.")  # type: ignore[valid-type]
    owner: str = strawberry.field(description="Its owner.")
    purpose: str = strawberry.field(description="Why it stands.")
    regions: list[str] = strawberry.field(description="Its scope's regions.")
    joint_operation: str | None = strawberry.field(description="Its joint operation, if any.")
    params: JSON = strawberry.field(description="The rule's parameters.")
    saved_query: str | None = strawberry.field(description="The saved query showing the same "
                                               "by hand (by name).")
    webhook: str | None = strawberry.field(description="Where its alerts are POSTed.")
    every_s: float | None = strawberry.field(description="Seconds between scheduled full runs.")
    results: int = strawberry.field(description="Results reported so far.")
    created_at: datetime = strawberry.field(description="Since when it is in force.")

    @classmethod
    def of(cls, q: StandingQuery) -> StandingQueryType:
        """From the service's model."""
        return cls(name=q.name, kind=StandingKind[q.kind], owner=q.owner.user,
                   purpose=q.owner.purpose, regions=list(q.owner.regions),
                   joint_operation=q.owner.joint_operation, params=q.params,
                   saved_query=q.saved_query, webhook=q.webhook, every_s=q.every_s,
                   results=len(q.results), created_at=q.created_at)
