"""Alerts: evaluating each load against the watchlists and standing queries, then triage.

Every complete load is evaluated exactly once (an ``AlertEvaluation`` marker in Neo4j per
load): :func:`evaluate_pending` finds the complete loads without a marker, oldest first, so
a load made while the service was down is evaluated when it comes back. Only watches in force
when the load finished take part, against the load's delta (:mod:`.alertrules`). Alerts are
MERGEd by an idempotency key derived from what they report (watchlist, entity and load; or
standing query and the results it adds), so evaluating a load again after a crash creates
nothing new, and a standing query's results are a set that only grows: the same result never
alerts twice.

Scope is applied at evaluation time: a delta record counts for a watch only when its region
is in the watch's scope (the owner's home regions, or an open joint operation's regions while
the owner is a member — a closed or expired one raises nothing).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from fusion.errors import BadInput, Forbidden, NotFound
from fusion.services import alertrules
from fusion.services.cypher import read, write
from fusion.services.runtime import Runtime, in_worker
from fusion.services.watchlists import (
    Owner,
    StandingQuery,
    Watchlist,
    native_time,
    standing_of,
    watchlist_of,
)
from queries.alerts import (
    ADD_STANDING_RESULTS,
    ALERTS_SINCE,
    EVALUATION_OF,
    FRAUD_PARCELS,
    GET_ALERT,
    JOINT_OPERATION_SCOPE,
    LIST_ALERTS,
    MARK_DELIVERY,
    MARK_EVALUATED,
    MERGE_ALERTS,
    PENDING_LOADS,
    STANDING_AT,
    TRIAGE_ALERT,
    UNDELIVERED_ALERTS,
    WATCHLISTS_AT,
)

logger = logging.getLogger("fusion.alerts")

# Source kinds each standing rule reads; a load of any other kind cannot change its results.
DEPENDS = {"COTRAVEL": ("sightings",), "FRAUD_PARCELS": ("waybills", "cases")}
TRIAGE_STATES = ("CONFIRMED", "DISMISSED")


@dataclass(frozen=True)
class Alert:
    """One finding: what matched, the evidence, the load that brought it, and its triage."""

    id: str
    owner: str
    source: str  # WATCHLIST | STANDING
    source_id: str
    source_name: str
    summary: str
    subjects: tuple[str, ...]  # "KIND:key" of what matched
    evidence: list[dict]
    load_id: str | None
    regions: tuple[str, ...]
    purpose: str
    joint_operation: str | None
    created_at: datetime
    state: str = "NEW"
    triaged_by: str | None = None
    triaged_at: datetime | None = None
    triage_reason: str | None = None
    webhook: str | None = None

    def payload(self) -> dict:
        """The alert as JSON-ready data (webhooks, the CLI's --json)."""
        return {"id": self.id, "owner": self.owner, "source": self.source,
                "sourceId": self.source_id, "sourceName": self.source_name,
                "summary": self.summary, "subjects": list(self.subjects),
                "evidence": self.evidence, "loadId": self.load_id, "regions": list(self.regions),
                "purpose": self.purpose, "jointOperation": self.joint_operation,
                "createdAt": self.created_at.isoformat(), "state": self.state}


# Told of new alerts as soon as they are stored (the service's subscribers and webhooks).
Publish = Callable[[list[Alert]], None]


@dataclass(frozen=True)
class LoadToEvaluate:
    """A complete load not evaluated yet."""

    id: str
    kind: str
    region: str
    file_name: str | None
    finished_at: datetime


def alert_of(props: dict) -> Alert:
    """A stored Alert node's properties as the model."""
    return Alert(props["id"], props["owner"], props["source"], props["source_id"],
                 props["source_name"], props["summary"], tuple(props.get("subjects") or ()),
                 json.loads(props.get("evidence") or "[]"), props.get("load_id"),
                 tuple(props.get("regions") or ()), props.get("purpose") or "",
                 props.get("joint_operation"), native_time(props["created_at"]),
                 props.get("state") or "NEW", props.get("triaged_by"),
                 native_time(props.get("triaged_at")), props.get("triage_reason"),
                 props.get("webhook"))


# -- evaluation --------------------------------------------------------------------------------
async def pending_loads(runtime: Runtime, limit: int = 50) -> list[LoadToEvaluate]:
    """Complete loads without an evaluation marker, oldest first."""
    records = [r["load"] for r in await read(runtime, PENDING_LOADS, limit=limit)]
    return [LoadToEvaluate(r["id"], r["kind"], r["region"], r["file_name"],
                           native_time(r["finished_at"])) for r in records]


async def evaluate_pending(runtime: Runtime, limit: int = 50,
                           publish: Publish | None = None) -> list[Alert]:
    """Evaluate every load owed an evaluation; the alerts this created, in order.

    ``publish`` is handed each stage's new alerts as soon as they are stored (the watchlists'
    first: they are the cheap, urgent ones; then the standing queries')."""
    created: list[Alert] = []
    for load in await pending_loads(runtime, limit):
        try:
            created += await evaluate_load(runtime, load, publish)
        except Exception:  # this load is tried again next round; the loads after it go on
            logger.warning("load %s could not be evaluated; retried next round", load.id,
                           exc_info=True)
    return created


async def evaluate_load(runtime: Runtime, load: LoadToEvaluate,
                        publish: Publish | None = None) -> list[Alert]:
    """Evaluate one load against the watches in force when it finished; mark it evaluated."""
    began = time.perf_counter()
    watchlists = [watchlist_of(r["watchlist"])
                  for r in await read(runtime, WATCHLISTS_AT, at=load.finished_at)]
    standing = [q for q in (standing_of(r["query"])
                            for r in await read(runtime, STANDING_AT, at=load.finished_at))
                if load.kind in DEPENDS.get(q.kind, ())]
    created: list[Alert] = []
    failed = 0
    if watchlists or standing:
        delta = await in_worker(runtime, alertrules.load_delta, runtime.home, load.kind, load.id)
        rows = await _watchlist_rows(runtime, load, delta, watchlists)
        created += _told(publish, await _store(runtime, rows))
        near: dict = {}  # the sightings around the delta, per scope, read once for all rules
        for query in standing:
            try:
                row, added = await _standing_row(runtime, query, load, delta, near)
            except Exception:  # one owner's rule that fails must not stop everyone's alerts
                logger.warning("standing query %r failed on load %s; the others go on",
                               query.name, load.id, exc_info=True)
                failed += 1
                continue
            if row is not None:
                created += _told(publish, await _store(runtime, [row]))
                await write(runtime, ADD_STANDING_RESULTS, name=query.name, added=added,
                            now=datetime.now(UTC))
    await write(runtime, MARK_EVALUATED, load_id=load.id, now=datetime.now(UTC),
                alerts=len(created), seconds=time.perf_counter() - began)
    logger.info("load %s (%s) evaluated: %d alert(s) in %.3f s%s", load.id, load.kind,
                len(created), time.perf_counter() - began,
                f"; {failed} standing quer{'y' if failed == 1 else 'ies'} failed" if failed
                else "")
    return created


def _told(publish: Publish | None, alerts: list[Alert]) -> list[Alert]:
    """``alerts``, after handing them to ``publish``."""
    if publish is not None and alerts:
        publish(alerts)
    return alerts


async def effective_scope(runtime: Runtime, owner: Owner, now: datetime | None = None
                          ) -> frozenset[str] | None:
    """The regions a watch sees now; None when its joint operation is closed, expired or no
    longer has the owner as a member (its alerts stop)."""
    if owner.joint_operation is None:
        return frozenset(owner.regions)
    records = await read(runtime, JOINT_OPERATION_SCOPE, id=owner.joint_operation)
    if not records:
        return None
    op, now = records[0], now or datetime.now(UTC)
    open_ = op["closed_at"] is None and now < native_time(op["valid_until"])
    if not open_ or owner.user not in (op["members"] or ()):
        return None
    return frozenset(op["regions"]) & frozenset(owner.regions) or frozenset(op["regions"])


async def _watchlist_rows(runtime: Runtime, load: LoadToEvaluate, delta: pl.DataFrame,
                          watchlists: list[Watchlist]) -> list[dict]:
    """One alert row per (watchlist, watched entity) the load's visible records mention."""
    found = alertrules.mentions(delta, load.kind)
    rows = []
    for wl in watchlists:
        scope = await effective_scope(runtime, wl.owner)
        if scope is None:
            continue
        for hit in alertrules.watch_hits(found, list(wl.entries), scope).to_dicts():
            rows.append(_watch_row(wl, load, delta, hit, scope))
    return rows


def _watch_row(wl: Watchlist, load: LoadToEvaluate, delta: pl.DataFrame, hit: dict,
               scope: frozenset[str]) -> dict:
    subject = f"{hit['kind']}:{hit['key']}"
    n = len(hit["rows"])
    summary = (f"{hit['kind'].lower()} {hit['key']} on watchlist {wl.name!r} appears in "
               f"{n} new {load.kind} record{'s' if n != 1 else ''} ({load.file_name})")
    return _row(alertrules.alert_id("W", wl.id, subject, load.id), wl.owner, "WATCHLIST", wl.id,
                wl.name, summary, [subject], alertrules.evidence(delta, hit["rows"]), load.id,
                scope, wl.webhook)


async def _standing_row(runtime: Runtime, query: StandingQuery, load: LoadToEvaluate | None,
                        delta: pl.DataFrame | None, near: dict | None = None
                        ) -> tuple[dict | None, list[str]]:
    """The alert row of the results this delta (None: a full run) adds, and their keys."""
    scope = await effective_scope(runtime, query.owner)
    if scope is None:
        return None, []
    found = await _standing_results(runtime, query, load, delta, scope,
                                    {} if near is None else near)
    new = {f["key"]: f for f in found if f["key"] not in query.results}
    if not new:
        return None, []
    added = sorted(new)
    summary = (f"standing query {query.name!r}: {len(added)} new result"
               f"{'s' if len(added) != 1 else ''}: " + ", ".join(added[:5])
               + (" ..." if len(added) > 5 else ""))
    row = _row(alertrules.alert_id("S", query.name, *added), query.owner, "STANDING",
               query.name, query.name, summary, added, [new[k] for k in added][:50],
               load.id if load else None, scope, query.webhook)
    return row, added


async def _standing_results(runtime: Runtime, query: StandingQuery, load: LoadToEvaluate | None,
                            delta: pl.DataFrame | None, scope: frozenset[str], near: dict
                            ) -> list[dict]:
    """The rule's results on the delta (or everything), each with its result ``key``."""
    if query.kind == "COTRAVEL":
        return await in_worker(runtime, alertrules.cotravel_new_partners, runtime.home, delta,
                               scope, query.params, query.results, near)
    parcels = phones = None
    if delta is not None:
        mine = delta.filter(pl.col("region").is_in(sorted(scope)))
        if load is not None and load.kind == "waybills":
            parcels = mine["waybill_no"].unique().to_list()
        else:
            phones = mine["phone"].drop_nulls().unique().to_list()
        if not (parcels or phones):
            return []
    records = await read(runtime, FRAUD_PARCELS, case_type=query.params["case_type"],
                         parcels=parcels, phones=phones, scope=sorted(scope))
    return [{"key": f"PARCEL:{r['parcel']}", "parcel": r["parcel"], "phone": r["phone"],
             "cases": r["cases"]} for r in records]


def _row(id_: str, owner: Owner, source: str, source_id: str, name: str, summary: str,
         subjects: list[str], found: list[dict], load_id: str | None, scope: frozenset[str],
         webhook: str | None) -> dict:
    return {"id": id_, "props": {
        "id": id_, "owner": owner.user, "source": source, "source_id": source_id,
        "source_name": name, "summary": summary, "subjects": subjects,
        "evidence": json.dumps(found, ensure_ascii=False, default=str), "load_id": load_id,
        "regions": sorted(scope), "purpose": owner.purpose,
        "joint_operation": owner.joint_operation, "created_at": datetime.now(UTC),
        "state": "NEW", "webhook": webhook}}


async def _store(runtime: Runtime, rows: list[dict]) -> list[Alert]:
    """MERGE the rows by id; the alerts that did not exist before."""
    if not rows:
        return []
    records = await write(runtime, MERGE_ALERTS, rows=rows, batch=uuid.uuid4().hex)
    return [alert_of(r["alert"]) for r in records if r["created"]]


async def run_scheduled(runtime: Runtime, now: datetime | None = None) -> list[Alert]:
    """Full runs of the scheduled standing queries that are due (``every_s`` since the last)."""
    now = now or datetime.now(UTC)
    created = []
    for record in await read(runtime, STANDING_AT, at=now):
        query = standing_of(record["query"])
        last = query.last_run_at or query.created_at
        if query.every_s is None or (now - last).total_seconds() < query.every_s:
            continue
        try:
            row, added = await _standing_row(runtime, query, None, None)
            created += await _store(runtime, [row] if row else [])
        except Exception:  # tried again when next due; the other queries go on
            logger.warning("scheduled standing query %r failed", query.name, exc_info=True)
            row, added = None, []
        await write(runtime, ADD_STANDING_RESULTS, name=query.name, added=added, now=now)
    return created


async def evaluation_of(runtime: Runtime, load_id: str) -> dict | None:
    """The evaluation marker of a load (evaluated_at, alerts, seconds), or None."""
    records = await read(runtime, EVALUATION_OF, load_id=load_id)
    return dict(records[0]["evaluation"]) if records else None


# -- reading and triage ------------------------------------------------------------------------
async def list_alerts(runtime: Runtime, owner: str | None, state: str | None = None,
                      limit: int = 100) -> list[Alert]:
    """Alerts of ``owner`` (None: everyone's), newest first."""
    if state is not None and state not in ("NEW", *TRIAGE_STATES):
        raise BadInput(f"Unknown alert state {state!r}.")
    records = await read(runtime, LIST_ALERTS, owner=owner, state=state, limit=limit)
    return [alert_of(r["alert"]) for r in records]


async def alerts_since(runtime: Runtime, since: datetime, limit: int = 1000) -> list[Alert]:
    """Every alert created at or after ``since``, by any process, oldest first."""
    records = await read(runtime, ALERTS_SINCE, since=since, limit=limit)
    return [alert_of(r["alert"]) for r in records]


async def triage_alert(runtime: Runtime, alert_id: str, owner: str, state: str,
                       reason: str) -> Alert:
    """Confirm or dismiss a new alert of ``owner``, saying why."""
    if state not in TRIAGE_STATES:
        raise BadInput(f"Triage an alert as {' or '.join(TRIAGE_STATES)}, not {state!r}.")
    if not reason.strip():
        raise BadInput("Say why the alert is confirmed or dismissed (reason).")
    records = await read(runtime, GET_ALERT, id=alert_id)
    if not records or records[0]["alert"]["owner"] != owner:
        raise NotFound(f"No alert {alert_id!r} of yours.")
    updated = await write(runtime, TRIAGE_ALERT, id=alert_id, state=state, by=owner,
                          now=datetime.now(UTC), reason=reason.strip())
    if not updated:
        raise Forbidden(f"Alert {alert_id!r} was already triaged "
                        f"({records[0]['alert']['state'].lower()}).")
    return alert_of(updated[0]["alert"])


async def undelivered_alerts(runtime: Runtime, limit: int = 1000) -> list[Alert]:
    """Alerts with a webhook neither delivered nor dead-lettered (re-sent after a restart)."""
    return [alert_of(r["alert"]) for r in await read(runtime, UNDELIVERED_ALERTS, limit=limit)]


async def mark_delivery(runtime: Runtime, alert_id: str, delivered: bool, attempts: int) -> None:
    """Record a webhook delivery's outcome (delivered, or dead-lettered after the last try)."""
    now = datetime.now(UTC)
    await write(runtime, MARK_DELIVERY, id=alert_id, attempts=attempts,
                delivered_at=now if delivered else None,
                dead_lettered_at=None if delivered else now)
