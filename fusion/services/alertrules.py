"""The alert rules over a load's delta, as frame operations (no Neo4j here).

A load's delta is the records it added to the event store (its ``parts``): new events only,
never the whole store. Watchlist matching joins the entities those records mention with the
watched entries — its cost follows the delta and the number of entries, not the graph.
The co-travel rule reads the event store only around the delta (the delta's sensors within
one window of its times) to find candidate partners, then the candidates' and targets' own
sightings to count their meetings exactly.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import polars as pl

from algorithms.cotravel import co_travel_pairs
from fusion.services.events import visible_events
from loaders.eventstore import EventStore
from queries.model import KIND_LABELS, SOURCES, SUBJECT_KINDS, SUBJECT_TYPES, WATCH_KINDS

EVIDENCE_ROWS = 10  # events kept as an alert's evidence (the count says how many matched)
_KIND_OF_LABEL = {label: kind for kind, label in KIND_LABELS.items()}
MENTION_SCHEMA = {"kind": pl.String, "key": pl.String, "region": pl.String, "row": pl.Int64}


def alert_id(*parts: str) -> str:
    """The idempotency key of an alert: the same finding always gets the same id."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def load_delta(home: Path, kind: str, load_id: str) -> pl.DataFrame:
    """The records ``load_id`` added to the event store (without the raw ``source`` JSON)."""
    frame = EventStore(home).scan_records(kind, [load_id]).collect()
    return frame.drop("source") if "source" in frame.columns else frame


def mentions(delta: pl.DataFrame, kind: str) -> pl.DataFrame:
    """(kind, key, region, row) of every watchable entity each delta record names."""
    source = next(s for s in SOURCES if s.name == kind)
    parts = []
    for feed in source.nodes:
        entity = _KIND_OF_LABEL[feed.label]
        if entity not in WATCH_KINDS or not delta.height:
            continue
        frame = delta
        if feed.subject_type is not None:
            frame = frame.filter(pl.col("subject_type") == feed.subject_type)
        parts.append(frame.filter(pl.col(feed.column).is_not_null()).select(
            kind=pl.lit(entity), key=pl.col(feed.column), region="region", row="row"))
    if not parts:
        return pl.DataFrame(schema=MENTION_SCHEMA)
    return pl.concat(parts).unique(maintain_order=True)


def watch_hits(found: pl.DataFrame, entries: list[tuple[str, str]], scope: frozenset[str]
               ) -> pl.DataFrame:
    """(kind, key, rows) of watched entries mentioned by delta records visible in ``scope``."""
    if not found.height or not entries:
        return pl.DataFrame(schema={"kind": pl.String, "key": pl.String,
                                    "rows": pl.List(pl.Int64)})
    watched = pl.DataFrame(entries, schema=["kind", "key"], orient="row")
    return (found.filter(pl.col("region").is_in(sorted(scope)))
            .join(watched, on=["kind", "key"], how="semi")
            .group_by("kind", "key", maintain_order=True).agg(rows=pl.col("row").unique().sort()))


def evidence(delta: pl.DataFrame, rows: list[int]) -> list[dict]:
    """The first :data:`EVIDENCE_ROWS` delta records of ``rows``, as JSON-ready dicts."""
    picked = delta.filter(pl.col("row").is_in(rows[:EVIDENCE_ROWS]))
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in picked.drop("load_id", strict=False).to_dicts()]


def cotravel_new_partners(home: Path, delta: pl.DataFrame | None, scope: frozenset[str],
                          params: dict, known: frozenset[str], memo: dict | None = None
                          ) -> list[dict]:
    """Co-travel partners of the rule's subjects that this delta makes qualify, not ``known``.

    ``delta`` None: a full run over every visible sighting. ``memo`` keeps the sightings
    around the delta per (scope, window) for the other rules evaluated on the same delta.
    """
    targets = [(SUBJECT_TYPES[k], key) for k, key in params["subjects"]]
    window = params["window_s"]
    memo = {} if memo is None else memo
    if (scope, window) not in memo:
        memo[(scope, window)] = _near_delta(home, delta, scope, window)
    near = memo[(scope, window)]
    if near is not None and not near.height:
        return []
    candidates = _candidates(near, targets, window) if near is not None else None
    if candidates is not None and not candidates:
        return []
    found = []
    for target in targets:
        sightings = visible_events(home, "sightings", scope).select(
            "subject_type", "subject", "sensor_id", "seen_at")
        if candidates is not None:
            keep = pl.DataFrame([*candidates, target], schema=["subject_type", "subject"],
                                orient="row")
            sightings = sightings.join(keep.lazy(), on=["subject_type", "subject"], how="semi")
        pairs = co_travel_pairs(sightings, window, params["min_meetings"],
                                params["min_sensors"], subject=target)
        found += [_partner(target, row) for row in pairs.to_dicts()]
    return [p for p in found if p["key"] not in known
            and (candidates is None or (p["partner_type"], p["partner"]) in candidates)]


def _near_delta(home: Path, delta: pl.DataFrame | None, scope: frozenset[str],
                window: float) -> pl.DataFrame | None:
    """Visible sightings at the delta's sensors within a window of its times (None: full)."""
    if delta is None:
        return None
    mine = delta.filter(pl.col("region").is_in(sorted(scope)))
    if not mine.height:
        return mine
    pad = timedelta(seconds=window)
    since, until = mine["seen_at"].min() - pad, mine["seen_at"].max() + pad
    sensors = mine["sensor_id"].unique().implode()
    return (visible_events(home, "sightings", scope, "seen_at", since, until)
            .filter(pl.col("sensor_id").is_in(sensors))
            .select("subject_type", "subject", "sensor_id", "seen_at").collect())


def _candidates(near: pl.DataFrame, targets: list[tuple[str, str]], window: float
                ) -> set[tuple[str, str]]:
    """Subjects that meet a target at least once among the sightings near the delta."""
    found: set[tuple[str, str]] = set()
    for target in targets:
        pairs = co_travel_pairs(near, window, 1, 1, subject=target)
        found |= set(zip(pairs["b_type"].to_list(), pairs["b"].to_list(), strict=True))
    return found - set(targets)


def _partner(target: tuple[str, str], row: dict) -> dict:
    """One qualifying pair as a standing-query result."""
    t_kind, p_kind = SUBJECT_KINDS[target[0]], SUBJECT_KINDS[row["b_type"]]
    return {"key": f"{t_kind}:{target[1]}|{p_kind}:{row['b']}", "target": target[1],
            "target_kind": t_kind, "partner": row["b"], "partner_type": row["b_type"],
            "partner_kind": p_kind, "meetings": row["meetings"],
            "distinct_sensors": row["distinct_sensors"],
            "first_at": row["first_at"].isoformat(), "last_at": row["last_at"].isoformat()}
