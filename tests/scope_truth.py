"""One region's calls and sightings read straight from the scenario's raw files: the independent
side of the scope tests.

Only the canonical dialect (CSV, plain or gzipped, no profile) is read, row by row with the
reference value rules of :mod:`loaders.normalize` — not the columnar loader, the event store or
the graph. The readers check themselves against ``truth.json``'s accounting (rows read, rows
kept), so an expectation built on them is one a region's own analysts would compute by hand.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from loaders.normalize import (
    InvalidValue,
    normalize_phone,
    normalize_plate,
    normalize_sensor_id,
    parse_timestamp,
)

SUBJECT_KINDS = {"plate": "VEHICLE", "phone": "PHONE"}


def _rows(scenario_dir: Path, truth: dict, region: str, kind: str) -> tuple[list[dict], dict]:
    """The raw rows of a region's canonical ``kind`` file and its load_order entry."""
    entry = next(e for e in truth["load_order"] if e["kind"] == kind and e["region"] == region)
    assert entry["profile"] is None and ".csv" in entry["file"], "canonical dialect expected"
    path = scenario_dir / entry["file"]
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8")))), entry


def _text(row: dict, name: str) -> str | None:
    value = (row.get(name) or "").strip()
    return value or None


def _number(text: str | None, limit: float | None = None) -> bool:
    """True when ``text`` is blank or a finite number (within +-limit)."""
    if text is None:
        return True
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and (limit is None or abs(value) <= limit)


def _kept(rows: list[dict], entry: dict, key, parse) -> list[dict]:
    """Rows ``parse`` accepts, first of each key; checked against the load's accounting."""
    parsed = []
    for row in rows:
        try:
            value = parse(row)
        except (InvalidValue, ValueError, KeyError):
            continue
        if value is not None:
            parsed.append(value)
    assert len(rows) == entry["read"]
    assert len(parsed) == entry["read"] - entry["quarantined"], "reader disagrees with truth"
    first: dict = {}
    for r in parsed:
        first.setdefault(key(r), r)
    return list(first.values())


def _call(row: dict) -> dict | None:
    caller, callee, start = (_text(row, c) for c in ("caller", "callee", "start_time"))
    duration = _text(row, "duration_s")
    if None in (caller, callee, start, duration):
        return None
    seconds = float(duration)
    call_type = (_text(row, "call_type") or "voice").lower()
    if not (math.isfinite(seconds) and seconds >= 0 and seconds == int(seconds)) \
            or call_type not in ("voice", "sms"):
        return None
    return {"caller": normalize_phone(caller), "callee": normalize_phone(callee),
            "start_time": parse_timestamp(start), "duration_s": int(seconds),
            "call_type": call_type}


def region_calls(scenario_dir: Path, truth: dict, region: str) -> list[dict]:
    """The distinct calls ``region`` reported (caller, callee, start_time, duration_s, type)."""
    rows, entry = _rows(scenario_dir, truth, region, "calls")
    return _kept(rows, entry, lambda r: (r["caller"], r["callee"], r["start_time"],
                                         r["call_type"]), _call)


def _sighting(row: dict) -> dict | None:
    kind, subject, sensor, seen = (_text(row, c) for c in
                                   ("subject_type", "subject", "sensor_id", "seen_at"))
    if None in (kind, subject, sensor, seen) or kind.lower() not in SUBJECT_KINDS:
        return None
    kind = kind.lower()
    if not (_number(_text(row, "lat"), 90) and _number(_text(row, "lon"), 180)
            and _number(_text(row, "speed_kmh")) and _number(_text(row, "direction"))):
        return None
    key = normalize_plate(subject) if kind == "plate" else normalize_phone(subject)
    return {"kind": SUBJECT_KINDS[kind], "subject": key, "sensor": normalize_sensor_id(sensor),
            "seen_at": parse_timestamp(seen)}


def region_sightings(scenario_dir: Path, truth: dict, region: str) -> list[dict]:
    """The distinct sightings ``region`` reported (kind, subject, sensor, seen_at)."""
    rows, entry = _rows(scenario_dir, truth, region, "sightings")
    return _kept(rows, entry, lambda r: (r["kind"], r["subject"], r["sensor"], r["seen_at"]),
                 _sighting)


def called_figures(calls: list[dict]) -> dict[tuple[str, str], dict]:
    """CALLED per (caller, callee): count, total_duration_s, first_at, last_at."""
    by_pair: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in calls:
        by_pair[(c["caller"], c["callee"])].append(c)
    return {pair: {"count": len(cs), "total_duration_s": sum(c["duration_s"] for c in cs),
                   "first_at": min(c["start_time"] for c in cs),
                   "last_at": max(c["start_time"] for c in cs)}
            for pair, cs in by_pair.items()}


def seen_at_figures(sightings: list[dict]) -> dict[tuple[str, str, str], dict]:
    """SEEN_AT per (kind, subject, sensor): count, first_at, last_at."""
    by_key: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    for s in sightings:
        by_key[(s["kind"], s["subject"], s["sensor"])].append(s["seen_at"])
    return {k: {"count": len(ts), "first_at": min(ts), "last_at": max(ts)}
            for k, ts in by_key.items()}


def meeting_figures(sightings: list[dict], a: tuple[str, str], b: tuple[str, str],
                    window_s: float = 120) -> dict | None:
    """The contract's co-travel figures of subjects ``a`` and ``b`` (kind, key) over
    ``sightings``, by brute force; None when they never met."""
    side = {x: [s for s in sightings if (s["kind"], s["subject"]) == x] for x in (a, b)}
    window = timedelta(seconds=window_s)
    met = [(sa, sb) for sa in side[a] for sb in side[b]
           if sa["sensor"] == sb["sensor"] and abs(sa["seen_at"] - sb["seen_at"]) <= window]
    if not met:
        return None
    met_a = {(sa["sensor"], sa["seen_at"]) for sa, _ in met}
    met_b = {(sb["sensor"], sb["seen_at"]) for _, sb in met}
    times = [t for _, t in met_a | met_b]
    return {"meetings": min(len(met_a), len(met_b)),
            "distinct_sensors": len({sa["sensor"] for sa, _ in met}),
            "first_at": min(times), "last_at": max(times)}
