"""Relationship aggregates recounted from the events a scope sees.

The graph's ``CALLED``, ``SEEN_AT`` and ``CO_TRAVELED`` carry figures over every region's
events. Shown to a caller whose scope does not cover the relationship's ``regions``, they
would reveal events only other regions reported, so the service recounts them here from the
event store, with the loaders' own summaries (:func:`loaders.calls.summarize`,
:func:`loaders.sightings.summarize`) and the co-travel meeting rule
(:func:`algorithms.meetings.co_travel_meetings`): one scoped read per type for all the
relationships of an answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import polars as pl

from algorithms.meetings import PAIR_KEYS, co_travel_meetings
from algorithms.significance import score_pairs
from fusion.services.events import SUBJECT_KINDS, SUBJECT_TYPES, visible_events, visible_sightings
from loaders import calls, sightings
from queries.model import CO_TRAVELED_FIGURES, LABEL_KINDS

__all__ = ["AGGREGATES", "RelKey", "recount"]

# type, from kind, from key, to kind, to key
RelKey = tuple[str, str, str, str, str]
# (window_s, since, until): the run parameters a CO_TRAVELED was computed with.
CoTravelRun = tuple[float, datetime | None, datetime | None]

# Relationship type -> its aggregate properties (each recounted in scope).
AGGREGATES: dict[str, tuple[str, ...]] = {
    "CALLED": ("count", "total_duration_s", "first_at", "last_at"),
    "SEEN_AT": ("count", "first_at", "last_at"),
    "CO_TRAVELED": (*CO_TRAVELED_FIGURES, "first_at", "last_at"),
}


def recount(home: Path, scope: frozenset[str], called: Sequence[RelKey] = (),
            seen_at: Sequence[RelKey] = (),
            co_traveled: Sequence[tuple[RelKey, CoTravelRun]] = ()) -> dict[RelKey, dict]:
    """In-scope aggregates and ``regions`` of each relationship, by key.

    A relationship with no event visible in ``scope`` behind it has no entry.
    """
    found: dict[RelKey, dict] = {}
    if called:
        found.update(_called(home, scope, called))
    if seen_at:
        found.update(_seen_at(home, scope, seen_at))
    if co_traveled:
        found.update(_co_traveled(home, scope, co_traveled))
    return found


def _called(home: Path, scope: frozenset[str], keys: Iterable[RelKey]) -> dict[RelKey, dict]:
    """CALLED figures over the visible calls of each (caller, callee)."""
    pairs = pl.DataFrame([(k[2], k[4]) for k in keys], schema=["caller", "callee"],
                         orient="row").unique()
    events = _only(visible_events(home, "calls", scope), pairs)
    rows = calls.summarize(events).collect()
    return {("CALLED", "PHONE", r["a"], "PHONE", r["b"]): _figures(r, "CALLED")
            for r in rows.iter_rows(named=True)}


def _seen_at(home: Path, scope: frozenset[str], keys: Iterable[RelKey]) -> dict[RelKey, dict]:
    """SEEN_AT figures over the visible sightings of each (subject, sensor)."""
    wanted = pl.DataFrame([(SUBJECT_TYPES[k[1]], k[2], k[4]) for k in keys],
                          schema=["subject_type", "subject", "sensor_id"], orient="row").unique()
    events = _only(visible_events(home, "sightings", scope), wanted)
    rows = sightings.summarize(events).collect()
    return {("SEEN_AT", LABEL_KINDS[r["from_label"]], r["a"], "SENSOR", r["b"]):
            _figures(r, "SEEN_AT") for r in rows.iter_rows(named=True)}


def _co_traveled(home: Path, scope: frozenset[str],
                 items: Iterable[tuple[RelKey, CoTravelRun]]) -> dict[RelKey, dict]:
    """CO_TRAVELED figures from the meetings of visible sightings, per run parameters."""
    by_run: dict[CoTravelRun, list[RelKey]] = defaultdict(list)
    for key, run in items:
        by_run[run].append(key)
    found: dict[RelKey, dict] = {}
    for (window, since, until), keys in by_run.items():
        pairs = pl.DataFrame([(SUBJECT_TYPES[k[1]], k[2], SUBJECT_TYPES[k[3]], k[4])
                              for k in keys], schema=list(PAIR_KEYS), orient="row")
        visible = _in_range(visible_sightings(home, scope), since, until)
        met = co_travel_meetings(visible, pairs, window, carry=["regions"])
        for r in score_pairs(visible, pair_figures(met), window).iter_rows(named=True):
            key = ("CO_TRAVELED", SUBJECT_KINDS[r["a_type"]], r["a"], SUBJECT_KINDS[r["b_type"]],
                   r["b"])
            found[key] = _figures(r, "CO_TRAVELED")
    return found


def pair_figures(meetings: pl.DataFrame) -> pl.DataFrame:
    """Per pair of :func:`co_travel_meetings` rows (carrying ``regions``): meetings (the
    smaller side's met sightings), distinct_sensors, first_at, last_at, regions, and as
    :func:`algorithms.cotravel.co_travel_pairs` computes them, distinct_days (UTC days of a's
    met sightings) and lead_s (median of b's time minus a's over the meetings)."""
    lead = (pl.col("b_at") - pl.col("a_at")).dt.total_microseconds()
    return meetings.group_by(*PAIR_KEYS).agg(
        distinct_days=pl.col("a_at").dt.convert_time_zone("UTC").dt.date().n_unique()
        .cast(pl.Int64),
        lead_s=lead.median().cast(pl.Float64) / 1e6,
        meetings=pl.min_horizontal(pl.struct("sensor_id", "a_at").n_unique(),
                                   pl.struct("sensor_id", "b_at").n_unique()),
        distinct_sensors=pl.col("sensor_id").n_unique(),
        first_at=pl.min_horizontal(pl.col("a_at").min(), pl.col("b_at").min()),
        last_at=pl.max_horizontal(pl.col("a_at").max(), pl.col("b_at").max()),
        regions=pl.concat_list("a_regions", "b_regions").explode().unique().sort(),
    )


def _in_range(events: pl.LazyFrame, since: datetime | None,
              until: datetime | None) -> pl.LazyFrame:
    """The sightings with ``since <= seen_at <= until``."""
    if since is not None:
        events = events.filter(pl.col("seen_at") >= since)
    if until is not None:
        events = events.filter(pl.col("seen_at") <= until)
    return events


def _only(events: pl.LazyFrame, wanted: pl.DataFrame) -> pl.LazyFrame:
    """The events matching a row of ``wanted`` (a pushed-down prefilter, then a semi-join)."""
    prefilter = pl.all_horizontal(pl.col(c).is_in(wanted[c].unique().implode())
                                  for c in wanted.columns)
    return events.filter(prefilter).join(wanted.lazy(), on=wanted.columns, how="semi")


def _figures(row: dict, rel_type: str) -> dict:
    """The aggregate properties and regions of one summary row."""
    return {**{name: row[name] for name in AGGREGATES[rel_type]}, "regions": row["regions"]}
