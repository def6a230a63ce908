"""Relationships as a scope may see them: aggregates over in-scope events, regions cut to scope.

A relationship's stored ``count``, ``first_at`` … and ``regions`` cover every region that
reported its events. When its ``regions`` lie inside the caller's scope they are exact and
shown as stored; otherwise its aggregates are recounted from the events the scope sees
(:mod:`fusion.services.aggregates`, one scoped read per type for the whole answer, in a worker
thread) and its ``regions`` cut to the scope. With no in-scope event behind it — a
``CO_TRAVELED`` whose meetings each paired an in-scope sighting with another region's, or an
event store that lacks the records the graph was built from — its counts are 0 and its
``first_at``/``last_at`` null: nothing is ever shown over other regions' data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from fusion.api.nodes import Rel, json_value, regions_in
from fusion.api.workers import in_worker
from fusion.services.aggregates import AGGREGATES, recount
from queries.model import CO_TRAVEL_WINDOW_S

# CO_TRAVELED runs before the window was stored used the default window.
_DEFAULT_WINDOW_S = float(CO_TRAVEL_WINDOW_S)


async def scoped_rels(ctx, rels: Sequence[Rel], scope: frozenset[str]) -> list[Rel]:
    """``rels`` as ``scope`` may see them (one recount for all that need it)."""
    partial = [r for r in rels if r.type in AGGREGATES and not _covered(r, scope)]
    figures = await in_worker(ctx.services, recount, ctx.settings.home, scope,
                              **_requests(partial)) if partial else {}
    need = {r.key for r in partial}
    return [_shown(r, scope, figures.get(r.key), r.key in need) for r in rels]


def _covered(rel: Rel, scope: frozenset[str]) -> bool:
    """True when every region behind the relationship is in scope (stored figures exact)."""
    regions = rel.properties.get("regions")
    return regions is not None and set(regions) <= scope


def _requests(rels: Sequence[Rel]) -> dict[str, list]:
    """The keyword arguments of :func:`recount` for ``rels``."""
    return {"called": [r.key for r in rels if r.type == "CALLED"],
            "seen_at": [r.key for r in rels if r.type == "SEEN_AT"],
            "co_traveled": [(r.key, _run(r.properties)) for r in rels
                            if r.type == "CO_TRAVELED"]}


def _run(props: dict) -> tuple[float, datetime | None, datetime | None]:
    """(window_s, since, until) a CO_TRAVELED was computed with."""
    window = props.get("window_s")
    return (float(_DEFAULT_WINDOW_S if window is None else window), _time(props.get("since")),
            _time(props.get("until")))


def _nothing(name: str) -> int | None:
    """An aggregate over no in-scope event: 0 for a count, null for a time."""
    return None if name.endswith("_at") else 0


def _time(value: object) -> datetime | None:
    """A property time (ISO 8601 text after json_value) as a datetime."""
    return None if value is None else datetime.fromisoformat(str(value))


def _shown(rel: Rel, scope: frozenset[str], figures: dict | None, recounted: bool) -> Rel:
    """One relationship with its regions cut to scope and, if recounted, the new figures."""
    props = dict(rel.properties)
    if recounted:
        for name in AGGREGATES[rel.type]:
            props[name] = json_value(figures[name]) if figures else _nothing(name)
    if "regions" in props:
        props["regions"] = regions_in(props["regions"], scope)
    return replace(rel, properties=props)
