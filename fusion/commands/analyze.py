"""`fusion analyze`: materialize co-travel, and run paths and gangs from the command line.

``cotravel`` is the contract's command: it replaces every ``CO_TRAVELED`` relationship by the
pairs reported over the full data. ``paths``, ``time-paths`` and ``gangs`` print what the
GraphQL service answers, as tables or ``--json``. The command line is an operator's tool: it
reads the whole graph unless ``--region`` names the regions to stay within.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import typer
from rich.console import Console
from rich.table import Table

from fusion.auth.tokens import parse_ttl
from fusion.commands.progress import ProgressBar
from fusion.config import load_settings
from fusion.db import connect, ensure_schema
from fusion.errors import BadInput, FusionError
from fusion.services.blocking import blocking_calls
from fusion.services.entities import EntityRef
from fusion.services.materialize import materialize_co_travel
from fusion.services.paths import relationship_paths
from queries.model import (
    CO_TRAVEL_MIN_MEETINGS,
    CO_TRAVEL_MIN_SENSORS,
    CO_TRAVEL_MIN_SIGNIFICANCE,
    CO_TRAVEL_WINDOW_S,
    GANG_MIN_SIZE,
    PATH_LIMIT,
    PATH_MAX_HOPS,
)

analyze_app = typer.Typer(help="Run the analyses: co-travel, paths, gangs.",
                          no_args_is_help=True)

_REGIONS = typer.Option(None, "--region",
                        help="Stay within this region (repeat for more); default: all data.")
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
_SINCE = typer.Option(None, "--since", help="ISO 8601 start (no offset: UTC).")
_UNTIL = typer.Option(None, "--until", help="ISO 8601 end (no offset: UTC).")


@analyze_app.command("cotravel")
def cotravel(
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    window: float = typer.Option(CO_TRAVEL_WINDOW_S, "--window", help="Seconds between two "
                                 "sightings at one sensor that still make a meeting."),
    min_meetings: int = typer.Option(CO_TRAVEL_MIN_MEETINGS, "--min-meetings",
                                     help="Meetings a pair needs."),
    min_sensors: int = typer.Option(CO_TRAVEL_MIN_SENSORS, "--min-sensors",
                                    help="Distinct sensors a pair needs."),
    min_significance: float = typer.Option(
        CO_TRAVEL_MIN_SIGNIFICANCE, "--min-significance",
        help="Significance a pair needs: -log10 of the chance of its meetings if the two "
        "travelled independently (0: every pair the definition reports)."),
    engine: str = typer.Option("in-process", "--engine", help="in-process, or spark: the same "
                               "pairs computed on Apache Spark (see docs/spark.md)."),
    master: str | None = typer.Option(None, "--master", help="Spark master URL, e.g. "
                                      "spark://host:7077 or local[4]; default: spark-submit's, "
                                      "else local[*]."),
    conf: list[str] = typer.Option(None, "--conf", help="Spark setting KEY=VALUE (repeat)."),
    as_json: bool = _JSON,
) -> None:
    """Materialize CO_TRAVELED for the full data, replacing earlier results."""
    with _errors(), _connected() as (settings, driver):
        ensure_schema(driver, settings.neo4j_database)
        kwargs = {"window": window, "min_meetings": min_meetings,
                  "min_distinct_sensors": min_sensors, "since": _time(since),
                  "until": _time(until), "min_significance": min_significance}
        materialize = _engine(engine, master, conf)
        if not as_json and sys.stderr.isatty():
            bar = ProgressBar(Console(stderr=True))
            with bar.progress:
                run = materialize(driver, settings.neo4j_database, settings.home,
                                  progress=bar, **kwargs)
        else:
            run = materialize(driver, settings.neo4j_database, settings.home, **kwargs)
    if as_json:
        print(json.dumps(run.as_dict()))
        return
    Console().print(f"CO_TRAVELED: {run.created:,} written ({run.pairs:,} pairs from "
                    f"{run.sightings:,} sightings), {run.deleted:,} earlier ones deleted, "
                    f"in {run.seconds:.1f} s.", highlight=False)


def _engine(engine: str, master: str | None, conf: list[str] | None) -> Callable:
    """The materialization of ``engine``; pyspark is imported only for ``spark``."""
    if engine == "in-process":
        if master or conf:
            raise BadInput("--master and --conf are for --engine spark")
        return materialize_co_travel
    if engine != "spark":
        raise BadInput(f"--engine is in-process or spark, not {engine!r}")
    from fusion.services import cotravel_spark  # pyspark: only when asked for

    return partial(cotravel_spark.materialize_co_travel_spark,
                   options=cotravel_spark.SparkOptions.parse(master, conf))


@analyze_app.command("paths")
def paths(
    source: str = typer.Argument(..., help="From: KIND:KEY, e.g. phone:13812345678."),
    target: str = typer.Argument(..., help="To: KIND:KEY."),
    max_hops: int = typer.Option(PATH_MAX_HOPS, "--max-hops", help="Longest path considered."),
    types: list[str] = typer.Option(None, "--type", help="Relationship type to follow "
                                    "(repeat for more); default: all but SEEN_AT."),
    limit: int = typer.Option(PATH_LIMIT, "--limit", help="Most paths printed."),
    all_shortest: bool = typer.Option(False, "--all-shortest",
                                      help="Every path of the shortest length."),
    regions: list[str] = _REGIONS,
    as_json: bool = _JSON,
) -> None:
    """Shortest relationship paths between two entities, shortest first."""

    with _errors(), _service() as call:
        found = call(relationship_paths, _ref(source), _ref(target), max_hops=max_hops,
                     rel_types=[t.upper() for t in types] if types else None, limit=limit,
                     scope=_scope(regions), all_shortest=all_shortest)
    if as_json:
        print(_dumps(found))
        return
    table = Table(title=f"{len(found)} path(s)")
    for column in ("#", "hops", "path"):
        table.add_column(column)
    for k, p in enumerate(found, 1):
        steps = [_node(p.nodes[0])]
        for prev, rel, node in zip(p.nodes[:-1], p.rels, p.nodes[1:], strict=True):
            steps += [_arrow(rel.type, rel.source == prev.ref), _node(node)]
        table.add_row(str(k), str(p.length), " ".join(steps))
    Console().print(table)


@analyze_app.command("time-paths")
def time_paths(
    source: str = typer.Argument(..., help="From: KIND:KEY."),
    target: str = typer.Argument(..., help="To: KIND:KEY."),
    max_gap: str | None = typer.Option(None, "--max-gap", help="Longest wait between two "
                                       "events: seconds or e.g. 30m, 6h, 2d; default: any."),
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    max_hops: int = typer.Option(4, "--max-hops", help="Longest path considered."),
    types: list[str] = typer.Option(None, "--type", help="Event type to follow (repeat); "
                                    "default: CALLED, SENT, RECEIVED, CO_TRAVELED."),
    limit: int = typer.Option(3, "--limit", help="Most routes printed."),
    regions: list[str] = _REGIONS,
    as_json: bool = _JSON,
) -> None:
    """Fewest-hop time-respecting paths: every event no earlier than the one before."""
    from fusion.services.temporal import time_respecting_paths  # numpy sweep: 0.3 s at start-up

    with _errors(), _service() as call:
        found = call(time_respecting_paths, _ref(source), _ref(target), scope=_scope(regions),
                     rel_types=[t.upper() for t in types] if types else None,
                     max_hops=max_hops, max_gap=_gap(max_gap), since=_time(since),
                     until=_time(until), limit=limit)
    if as_json:
        print(_dumps(found, length=lambda p: p.length, arrival=lambda p: p.arrival))
        return
    table = Table(title=f"{len(found)} route(s)")
    for column in ("#", "hops", "arrival", "route (event times)"):
        table.add_column(column)
    for k, p in enumerate(found, 1):
        steps = [_node(p.nodes[0])]
        for prev, hop, node in zip(p.nodes[:-1], p.hops, p.nodes[1:], strict=True):
            steps += [_arrow(f"{hop.type} {hop.at:%Y-%m-%d %H:%M:%S}", hop.source == prev.ref),
                      _node(node)]
        table.add_row(str(k), str(p.length), f"{p.arrival:%Y-%m-%d %H:%M:%S}", " ".join(steps))
    Console().print(table)


@analyze_app.command("gangs")
def gangs(
    regions: list[str] = _REGIONS,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    algorithm: str = typer.Option("leiden", "--algorithm", help="leiden or louvain."),
    resolution: float = typer.Option(1.0, "--resolution", help="Leiden: link weight per pair "
                                     "a gang must exceed on average; Louvain: modularity "
                                     "resolution. Higher: smaller gangs."),
    min_size: int = typer.Option(GANG_MIN_SIZE, "--min-size", help="Smallest gang reported."),
    seed: int = typer.Option(42, "--seed", help="Random seed (same seed, same gangs)."),
    weights: list[str] = typer.Option(None, "--weight", help="KIND=W for case, call, parcel "
                                      "or cotravel (repeat); default 3, 1, 2, 2."),
    person: str | None = typer.Option(None, "--person", help="Only this person's gang "
                                      "(ID number)."),
    as_json: bool = _JSON,
) -> None:
    """Gangs: communities of the person graph, members ranked as key players."""
    from fusion.services import gangs as service  # igraph and leidenalg: 0.2 s at start-up

    with _errors(), _service() as call:
        args = {"scope": _scope(regions), "since": _time(since), "until": _time(until),
                "weights": _weights(weights), "algorithm": algorithm,
                "resolution": resolution, "min_size": min_size, "seed": seed}
        if person is None:
            found = call(service.gangs, **args)
        else:
            one = call(service.gang_of, EntityRef.parse("PERSON", person), **args)
            found = [one] if one else []
    if as_json:
        print(_dumps(found, size=lambda g: g.size))
        return
    table = Table(title=f"{len(found)} gang(s)")
    for column in ("id", "size", "cohesion", "regions", "evidence", "members by rank"):
        table.add_column(column)
    for g in found:
        table.add_row(g.id, str(g.size), f"{g.cohesion:.2f}", ", ".join(g.regions),
                      ", ".join(f"{k} {n}" for k, n in g.links.items()),
                      ", ".join(f"{m.person.label or m.person.key}" for m in g.members))
    Console().print(table)


# ---------------------------------------------------------------------------------------------
# Shared pieces


@contextmanager
def _errors() -> Iterator[None]:
    """Fusion's errors as a message on stderr and the error's exit status."""
    try:
        yield
    except FusionError as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error[/] ({exc.code}): {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


@contextmanager
def _connected() -> Iterator[tuple]:
    """The settings and a driver to the configured Neo4j."""
    settings = load_settings()
    with connect(settings) as driver:
        yield settings, driver


@contextmanager
def _service() -> Iterator:
    """A function running service calls against the configured Neo4j, without a timeout."""
    settings = load_settings()
    connect(settings).close()  # the connection errors the other commands give
    with blocking_calls(settings) as call:
        yield call


def _ref(text: str) -> EntityRef:
    """``KIND:KEY`` (kind in any case) as a canonical EntityRef."""
    kind, sep, key = text.partition(":")
    if not sep or not key:
        raise BadInput(f"name an entity as KIND:KEY (e.g. phone:13812345678), not {text!r}")
    return EntityRef.parse(kind.strip().upper(), key.strip())


def _scope(regions: list[str] | None) -> frozenset[str] | None:
    return frozenset(r.strip() for r in regions) if regions else None


def _time(text: str | None) -> datetime | None:
    """An ISO 8601 time; without an offset, UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"cannot read the time {text!r}: use ISO 8601, e.g. "
                       "2024-09-16T08:00:00+08:00") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _gap(text: str | None) -> timedelta | None:
    if text is None:
        return None
    text = text.strip()
    return timedelta(seconds=float(text)) if text.replace(".", "", 1).isdigit() else (
        parse_ttl(text))


def _weights(items: list[str] | None) -> dict[str, float] | None:
    """``KIND=W`` options as a mapping."""
    if not items:
        return None
    out = {}
    for item in items:
        kind, sep, value = item.partition("=")
        try:
            out[kind.strip().lower()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise BadInput(f"--weight takes KIND=NUMBER, e.g. call=0.5, not {item!r}")
    return out


def _arrow(text: str, forward: bool) -> str:
    return f"-[{text}]->" if forward else f"<-[{text}]-"


def _node(node) -> str:
    label = f" {node.label}" if node.label and node.label != node.key else ""
    return f"({node.kind.title()} {node.key}{label})"


def _plain(value: object) -> object:
    """Dataclasses, tuples and datetimes as JSON-ready values."""
    if is_dataclass(value):  # fields with repr=False are what a caller reuses, not the answer
        value = {f.name: getattr(value, f.name) for f in fields(value) if f.repr}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "iso_format"):  # neo4j's temporal values in relationship properties
        return value.iso_format()
    return value


def _dumps(found: list, **extra) -> str:
    """The results as a JSON list; ``extra`` adds computed fields (name -> function)."""
    rows = [{**_plain(x), **{k: _plain(f(x)) for k, f in extra.items()}} for x in found]
    return json.dumps(rows, ensure_ascii=False)
