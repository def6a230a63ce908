"""`fusion analyze cotravel`: materialize ``CO_TRAVELED`` for the full data, replacing the last run.

The run computes every reported pair over all sightings in the event store (no scope: the
relationships' own ``regions`` then decide who sees them), collects the regions of the
sightings behind each pair's meetings, deletes every earlier ``CO_TRAVELED`` in bounded
transactions and writes the new ones in batches. A run that stops half-way leaves a partial
set; the next run replaces it whole.

Pairs and their meetings come from the same algorithms, with the same defaults, as the co-travel
service (:mod:`fusion.services.cotravel`). The run stays synchronous on the sync driver: it is
an operator's job of bounded write transactions with a progress display, not a request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from neo4j import Driver

from algorithms.cotravel import co_travel_pairs
from algorithms.meetings import PAIR_KEYS, co_travel_meetings, meeting_regions
from fusion.errors import BadInput
from fusion.progress import NoProgress, Progress
from fusion.services.cotravel import MIN_DISTINCT_SENSORS, MIN_MEETINGS, MIN_SIGNIFICANCE, WINDOW
from fusion.services.events import utc, visible_sightings
from queries.cotravel import COUNT_CO_TRAVELED, CREATE_CO_TRAVELED, DELETE_CO_TRAVELED_BATCH
from queries.model import CO_TRAVELED_FIGURES, SUBJECT_LABELS

__all__ = ["CoTravelRun", "materialize_co_travel", "replace_co_traveled"]

BATCH_ROWS = 10_000
# The pair's columns each CO_TRAVELED carries (queries.cotravel sets them).
PAIR_PROPERTIES = ("a", "b", *CO_TRAVELED_FIGURES, "first_at", "last_at", "regions")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CoTravelRun:
    """What a materialization did."""

    sightings: int
    pairs: int
    deleted: int
    created: int
    window_s: float
    min_meetings: int
    min_distinct_sensors: int
    since: datetime | None
    until: datetime | None
    seconds: float
    min_significance: float = MIN_SIGNIFICANCE

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (timestamps as ISO 8601)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in asdict(self).items()}


def materialize_co_travel(
    driver: Driver,
    database: str,
    home: Path,
    *,
    window: float = WINDOW,
    min_meetings: int = MIN_MEETINGS,
    min_distinct_sensors: int = MIN_DISTINCT_SENSORS,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress | None = None,
    min_significance: float = MIN_SIGNIFICANCE,
) -> CoTravelRun:
    """Replace every ``CO_TRAVELED`` by the pairs reported over all sightings in the range,
    at least ``min_significance`` significant, each with its significance and figures."""
    progress = progress or NoProgress()
    began = time.monotonic()
    since, until = utc(since), utc(until)
    sightings = visible_sightings(home, None)
    progress.phase("Finding co-travelling pairs", None)
    try:
        pairs = co_travel_pairs(sightings, window, min_meetings, min_distinct_sensors,
                                since=since, until=until, min_significance=min_significance)
    except ValueError as err:
        raise BadInput(str(err)) from err
    counted = _count_sightings(sightings, since, until)
    progress.advance(counted)
    regions = meeting_regions(co_travel_meetings(sightings, pairs, window, carry=["regions"],
                                                 since=since, until=until))
    rows = pairs.join(regions, on=list(PAIR_KEYS), how="left")
    run = CoTravelRun(counted, pairs.height, 0, 0, float(window), min_meetings,
                      min_distinct_sensors, since, until, 0.0, float(min_significance))
    return replace_co_traveled(driver, database, [rows], rows.height, run, began, progress)


def replace_co_traveled(driver: Driver, database: str, slices: Iterable[pl.DataFrame],
                        total: int, run: CoTravelRun, began: float,
                        progress: Progress) -> CoTravelRun:
    """Delete every ``CO_TRAVELED`` and write the ``total`` pairs ``slices`` yields.

    Each slice holds pairs with their figures and their meetings' regions (any engine's);
    they are written slice by slice, so an engine can stream a result larger than memory.
    ``run`` names the parameters the rows were computed with; the result is ``run`` with the
    counts deleted and created and the seconds since ``began``.
    """
    deleted = delete_co_traveled(driver, database, progress)
    params = {"window_s": run.window_s, "min_meetings": run.min_meetings,
              "min_distinct_sensors": run.min_distinct_sensors,
              "min_significance": run.min_significance, "since": run.since,
              "until": run.until, "computed_at": datetime.now(UTC)}
    progress.phase("Writing CO_TRAVELED", total)
    created = sum(_create(driver, database, rows, params, progress) for rows in slices)
    return replace(run, deleted=deleted, created=created,
                   seconds=round(time.monotonic() - began, 3))


def _count_sightings(sightings: pl.LazyFrame, since: datetime | None,
                     until: datetime | None) -> int:
    """Sightings in [since, until]."""
    lf = sightings
    if since is not None:
        lf = lf.filter(pl.col("seen_at") >= since)
    if until is not None:
        lf = lf.filter(pl.col("seen_at") <= until)
    return lf.select(pl.len()).collect().item()


def delete_co_traveled(driver: Driver, database: str, progress: Progress | None = None) -> int:
    """Delete every ``CO_TRAVELED``, ``BATCH_ROWS`` per transaction; the number deleted."""
    progress = progress or NoProgress()
    records, _, _ = driver.execute_query(COUNT_CO_TRAVELED, database_=database, routing_="r")
    progress.phase("Deleting earlier CO_TRAVELED", records[0]["n"])
    deleted = 0
    while True:
        with driver.session(database=database) as session:
            n = session.execute_write(
                lambda tx: tx.run(DELETE_CO_TRAVELED_BATCH, batch=BATCH_ROWS).single()["deleted"])
        deleted += n
        progress.advance(n)
        if n == 0:
            return deleted


def _create(driver: Driver, database: str, rows: pl.DataFrame, params: dict,
            progress: Progress) -> int:
    """Write the pairs, grouped by the labels of their two ends; the number created."""
    created = 0
    labels = pl.col("a_type").replace_strict(SUBJECT_LABELS), pl.col("b_type").replace_strict(
        SUBJECT_LABELS)
    rows = rows.with_columns(labels[0].alias("a_label"), labels[1].alias("b_label"))
    extra = {k: _epoch_pair(v) if isinstance(v, datetime) else v for k, v in params.items()}
    for (a_label, b_label), part in rows.group_by("a_label", "b_label", maintain_order=True):
        statement = CREATE_CO_TRAVELED[(a_label, b_label)]
        for batch in _epoch_pairs(part).iter_slices(BATCH_ROWS):
            payload = [{**row, **extra} for row in batch.select(*PAIR_PROPERTIES).to_dicts()]
            with driver.session(database=database) as session:
                created += session.execute_write(lambda tx, q=statement, p=payload: tx.run(
                    q, rows=p).consume().counters.relationships_created)
            progress.advance(len(payload))
    return created


def _epoch_pair(moment: datetime) -> list[int]:
    """[epoch seconds, nanoseconds] of a timezone-aware datetime."""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return [micros // 1_000_000, micros % 1_000_000 * 1000]


def _epoch_pairs(frame: pl.DataFrame) -> pl.DataFrame:
    """``first_at`` and ``last_at`` as [epoch seconds, nanoseconds]."""
    return frame.with_columns(
        pl.concat_list(pl.col(c).dt.epoch("us") // 1_000_000,
                       pl.col(c).dt.epoch("us") % 1_000_000 * 1000).alias(c)
        for c in ("first_at", "last_at"))
