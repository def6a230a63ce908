"""Evidence between people for gang detection, each kind counted within the caller's scope.

Co-suspects and parcels come from the graph (``queries.gangs``: distinct visible cases and
parcels). Calls and co-travel come from the individual events in the event store: the graph's
``CALLED`` and ``CO_TRAVELED`` aggregates also count events that only other regions reported,
so a scoped count read from them would let invisible records weigh in. A call counts when its
record is visible and its time is in ``[since, until]``; co-travel evidence between two
subjects is their meetings when they are a reported pair (contract definition, the defaults
below) over the visible sightings in the range, counted in whole orders of magnitude of its
significance against independent travel (``floor(-log10 p)``, :mod:`algorithms.significance`)
rather than in meetings: a convoy weighs more than the commuters who pass the same sensors at
the same time every working day, and a pair its meetings do not set apart from the traffic
(p above 0.1) weighs nothing. Both reach people through the ownerships the scope shows
(``Person -USES-> Phone``, ``Person -OWNS-> Vehicle``).

The graph is read over the runtime's async driver; the event store's polars work runs in a
worker thread (:func:`fusion.services.runtime.in_worker`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import polars as pl
from neo4j import Query, Record, RoutingControl
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from algorithms.cotravel import co_travel_pairs
from algorithms.links import LINK_KINDS, owner_links
from fusion.services import cotravel
from fusion.services.contacts import SEPARATOR
from fusion.services.events import SUBJECT_KINDS, utc, visible_events, visible_sightings
from fusion.services.runtime import Runtime, in_worker, unavailable
from queries.gangs import LINK_QUERIES, OWNERSHIPS
from queries.model import (
    LABEL_KINDS,
)

__all__ = ["CO_TRAVEL", "LINK_SCHEMA", "gang_links", "read_records"]

LINK_SCHEMA = {"a": pl.String, "b": pl.String, "kind": pl.String, "count": pl.Int64}
# The co-travel definition's parameters for gang evidence (the contract's defaults).
CO_TRAVEL = {"window": cotravel.WINDOW, "min_meetings": cotravel.MIN_MEETINGS,
             "min_distinct_sensors": cotravel.MIN_DISTINCT_SENSORS}
_LABEL_KINDS = {"Phone": "PHONE", "Vehicle": "VEHICLE"}


async def gang_links(
    runtime: Runtime,
    *,
    scope: frozenset[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: tuple[str, ...] = LINK_KINDS,
) -> pl.DataFrame:
    """Person-to-person evidence visible in ``scope``: columns ``a, b, kind, count``."""
    since, until = utc(since), utc(until)
    params = {"scope": None if scope is None else sorted(scope), "since": since,
              "until": until}
    graph = [kind for kind in kinds if kind in LINK_QUERIES]
    read = [read_records(runtime, LINK_QUERIES[kind], **params) for kind in graph]
    events = "call" in kinds or "cotravel" in kinds
    if events:
        read.append(read_records(runtime, OWNERSHIPS, scope=params["scope"]))
    answers = await asyncio.gather(*read)
    frames = [pl.DataFrame([(r["a"], r["b"], kind, r["count"]) for r in records],
                           schema=LINK_SCHEMA, orient="row")
              for kind, records in zip(graph, answers, strict=False)]
    if events:
        frames += await in_worker(runtime, _event_links, runtime.home, answers[-1], scope,
                                  since, until, kinds)
    frames = [f.select(list(LINK_SCHEMA)).cast(LINK_SCHEMA) for f in frames]
    return pl.concat(frames) if frames else pl.DataFrame(schema=LINK_SCHEMA)


async def read_records(runtime: Runtime, statement: str, **params: object) -> list[Record]:
    """The records of one read transaction within the runtime's timeout (UNAVAILABLE when
    Neo4j cannot be reached)."""
    try:
        records, _, _ = await runtime.driver.execute_query(
            Query(statement, timeout=runtime.query_timeout), params,
            database_=runtime.database, routing_=RoutingControl.READ)
    except (ServiceUnavailable, SessionExpired, OSError) as err:
        if runtime.on_unavailable is not None:
            runtime.on_unavailable()
        raise unavailable(err) from err
    return records


def _event_links(home: Path, owners: list[Record], scope: frozenset[str] | None,
                 since: datetime | None, until: datetime | None,
                 kinds: tuple[str, ...]) -> list[pl.DataFrame]:
    """Call and co-travel evidence from the event store, reaching people through ``owners``
    (worker thread)."""
    owned = _ownerships(owners)
    frames = []
    if "call" in kinds:
        frames.append(owner_links(_call_pairs(home, scope, since, until), owned, "call"))
    if "cotravel" in kinds:
        frames.append(owner_links(_co_travel_pairs(home, scope, since, until), owned,
                                  "cotravel"))
    return frames


def _ownerships(records: list[Record]) -> pl.DataFrame:
    """(person, thing) for every visible USES and OWNS; things as kind + separator + key."""
    return pl.DataFrame(
        [(r["person"], LABEL_KINDS[r["label"]] + SEPARATOR + r["key"]) for r in records],
        schema={"person": pl.String, "thing": pl.String}, orient="row")


def _call_pairs(home: Path, scope: frozenset[str] | None, since: datetime | None,
                until: datetime | None) -> pl.LazyFrame:
    """(x, y, count): visible calls in the range per (caller, callee)."""
    phone = pl.lit("PHONE" + SEPARATOR)
    return (visible_events(home, "calls", scope, "start_time", since, until)
            .group_by("caller", "callee").agg(pl.len().alias("count"))
            .select((phone + pl.col("caller")).alias("x"), (phone + pl.col("callee")).alias("y"),
                    "count"))


def _co_travel_pairs(home: Path, scope: frozenset[str] | None, since: datetime | None,
                     until: datetime | None) -> pl.DataFrame:
    """(x, y, count): the significance (whole orders of magnitude) of the pairs reported over
    the visible sightings."""
    pairs = co_travel_pairs(visible_sightings(home, scope), since=since, until=until,
                            **CO_TRAVEL)
    kind = {t: k + SEPARATOR for t, k in SUBJECT_KINDS.items()}
    return pairs.select(
        (pl.col("a_type").replace_strict(kind) + pl.col("a")).alias("x"),
        (pl.col("b_type").replace_strict(kind) + pl.col("b")).alias("y"),
        pl.col("significance").floor().cast(pl.Int64).alias("count"))
