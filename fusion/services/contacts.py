"""Timestamped contacts for time-respecting paths, one per individual event visible in scope.

The graph keeps one aggregate relationship per pair (a ``CALLED`` with a count, a ``SEEN_AT``
with first and last times); a time-respecting path needs the individual events, which live in
the event store. Each relationship type maps to its events (contact: its ends; time):

- ``CALLED``: each call, caller -> callee, at ``start_time``;
- ``SENT``: each waybill, sender phone -> parcel, at ``shipped_at``;
- ``RECEIVED``: each waybill, receiver phone -> parcel, at ``delivered_at`` (``shipped_at``
  when the delivery time is unknown);
- ``SEEN_AT``: each sighting, plate or phone -> sensor, at ``seen_at``;
- ``CO_TRAVELED``: each meeting of a materialized pair (a's and b's sightings at one sensor
  within the ``window_s`` the pair was computed with), a -> b, at the later of the two
  sightings (by then both have passed).

A record is visible when its regions meet the scope; a visible record's entities are visible
too (their regions include the record's). A co-travel meeting counts when its
``CO_TRAVELED`` relationship and both ends are visible and both sightings are.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from algorithms.meetings import co_travel_meetings
from fusion.services.events import SUBJECT_TYPES, utc, visible_events, visible_sightings

TEMPORAL_TYPES = ("CALLED", "SENT", "RECEIVED", "SEEN_AT", "CO_TRAVELED")
CONTACT_SCHEMA = {"type": pl.String, "u": pl.String, "v": pl.String,
                  "at": pl.Datetime("us", "UTC")}
# Entity ids in contact frames: kind and key joined by a character no key contains.
SEPARATOR = "\x1f"
_SUBJECT_KIND = pl.col("subject_type").replace_strict(
    {t: k for k, t in SUBJECT_TYPES.items()}) + SEPARATOR


def entity_id(kind: str, key: str) -> str:
    """The contact frames' id of an entity."""
    return f"{kind}{SEPARATOR}{key}"


def split_id(entity: str) -> tuple[str, str]:
    """(kind, key) of a contact frame's entity id."""
    kind, key = entity.split(SEPARATOR, 1)
    return kind, key


def contacts(
    home: Path,
    types: tuple[str, ...],
    scope: frozenset[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
    co_traveled: list | None = None,
) -> pl.DataFrame:
    """Every visible contact of the given types with ``since <= at <= until``
    (``co_traveled``: the rows of ``queries.cotravel.VISIBLE_CO_TRAVELED``, read by the
    caller)."""
    since, until = utc(since), utc(until)
    frames = [_CONTACTS[t](home, scope) for t in types if t != "CO_TRAVELED"]
    if "CO_TRAVELED" in types:
        frames.append(_meetings(co_traveled or [], home, scope, since, until))
    lf = pl.concat([f.select(list(CONTACT_SCHEMA)) for f in frames]) if frames else (
        pl.LazyFrame(schema=CONTACT_SCHEMA))
    if since is not None:
        lf = lf.filter(pl.col("at") >= since)
    if until is not None:
        lf = lf.filter(pl.col("at") <= until)
    return lf.collect()


def _prefixed(kind: str, column: str) -> pl.Expr:
    return pl.lit(kind + SEPARATOR) + pl.col(column)


def _calls(home: Path, scope: frozenset[str] | None) -> pl.LazyFrame:
    return visible_events(home, "calls", scope).select(
        type=pl.lit("CALLED"), u=_prefixed("PHONE", "caller"), v=_prefixed("PHONE", "callee"),
        at="start_time")


def _sent(home: Path, scope: frozenset[str] | None) -> pl.LazyFrame:
    return visible_events(home, "waybills", scope).select(
        type=pl.lit("SENT"), u=_prefixed("PHONE", "sender_phone"),
        v=_prefixed("PARCEL", "waybill_no"), at="shipped_at")


def _received(home: Path, scope: frozenset[str] | None) -> pl.LazyFrame:
    return visible_events(home, "waybills", scope).select(
        type=pl.lit("RECEIVED"), u=_prefixed("PHONE", "receiver_phone"),
        v=_prefixed("PARCEL", "waybill_no"), at=pl.coalesce("delivered_at", "shipped_at"))


def _seen(home: Path, scope: frozenset[str] | None) -> pl.LazyFrame:
    return visible_sightings(home, scope).select(
        type=pl.lit("SEEN_AT"), u=_SUBJECT_KIND + pl.col("subject"),
        v=_prefixed("SENSOR", "sensor_id"), at="seen_at")


_CONTACTS = {"CALLED": _calls, "SENT": _sent, "RECEIVED": _received, "SEEN_AT": _seen}


def _meetings(records: list, home: Path, scope: frozenset[str] | None,
              since: datetime | None, until: datetime | None) -> pl.LazyFrame:
    """The meetings of the visible CO_TRAVELED pairs, each pair with its own window."""
    kinds = {"Vehicle": "plate", "Phone": "phone"}
    pairs = pl.DataFrame(
        [(kinds[r["a_label"]], r["a"], kinds[r["b_label"]], r["b"], float(r["window_s"]))
         for r in records if r["a_label"] in kinds and r["b_label"] in kinds],
        schema=["a_type", "a", "b_type", "b", "window_s"], orient="row")
    sightings = visible_sightings(home, scope)
    parts = [
        co_travel_meetings(sightings, group, window, since=since, until=until)
        for (window,), group in pairs.group_by("window_s", maintain_order=True)
    ]
    if not parts:
        return pl.LazyFrame(schema=CONTACT_SCHEMA)
    kind = {t: k + SEPARATOR for k, t in SUBJECT_TYPES.items()}
    return pl.concat(parts).lazy().select(
        type=pl.lit("CO_TRAVELED"),
        u=pl.col("a_type").replace_strict(kind) + pl.col("a"),
        v=pl.col("b_type").replace_strict(kind) + pl.col("b"),
        at=pl.max_horizontal("a_at", "b_at"))

