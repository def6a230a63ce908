"""The event store as the analyses read it: records visible in a scope, in a time range.

A record is visible when its ``regions`` (the regions that supplied it) meet the caller's
scope; ``scope=None`` is an unrestricted administrative read. The filter sits in the lazy
scan, before anything else reads the records.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from algorithms.utc import utc
from loaders.eventstore import EventStore
from queries.model import SUBJECT_KINDS, SUBJECT_TYPES

__all__ = ["SUBJECT_KINDS", "SUBJECT_TYPES", "utc", "visible_events", "visible_sightings"]


def visible_events(
    home: Path,
    kind: str,
    scope: frozenset[str] | None,
    time_column: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    loads: frozenset[str] | None = None,
) -> pl.LazyFrame:
    """Records of ``kind`` visible in ``scope``, with ``time_column`` in [since, until]; of the
    given complete ``loads`` only (one snapshot of the store), or of every complete load."""
    store = EventStore(home)
    lf = (store.scan_events(kind, loads) if scope is None
          else store.scan_visible(kind, scope, loads))
    if time_column is not None and since is not None:
        lf = lf.filter(pl.col(time_column) >= utc(since))
    if time_column is not None and until is not None:
        lf = lf.filter(pl.col(time_column) <= utc(until))
    return lf


def visible_sightings(home: Path, scope: frozenset[str] | None,
                      loads: frozenset[str] | None = None) -> pl.LazyFrame:
    """Sightings visible in ``scope`` (of ``loads`` when given): subject_type, subject,
    sensor_id, seen_at, regions."""
    return visible_events(home, "sightings", scope, loads=loads).select(
        "subject_type", "subject", "sensor_id", "seen_at", "regions")
