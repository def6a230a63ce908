"""One chunk of a source file -> normalized records and quarantined rows.

The steps, in order: map source columns onto canonical ones (profile ``columns``, then
``constants``), take each row's region (a ``region`` column wins over ``--region``), trim,
then check every column in the contract's order. A row's first failing check gives its one
reason and column; such a row goes to quarantine whole and as read. Unmapped source columns
travel with the record as a JSON object (``source``): provenance, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from loaders.columns import blank_to_null
from loaders.errors import SourceError
from loaders.normalize import MISSING_FIELD, UNKNOWN_VALUE
from loaders.profile import Profile, check_profile_for
from loaders.readers import Chunk
from loaders.spec import Source

QUARANTINE_COLUMNS = ("_row", "_line", "_reason", "_column", "_source_column", "_raw")


@dataclass(frozen=True)
class Mapping:
    """How one file's columns become canonical ones."""

    canonical: dict[str, str]  # canonical column -> source column
    unmapped: tuple[str, ...]  # source columns kept as provenance


@dataclass(frozen=True)
class Prepared:
    """A chunk's valid records (canonical, typed, with region/row/source) and its rejects."""

    records: pl.DataFrame
    quarantine: pl.DataFrame


def resolve_mapping(source: Source, header: list[str], profile: Profile, path: Path) -> Mapping:
    """Map the file's header; SourceError when a required column is absent after mapping."""
    check_profile_for(profile, source.name, source.canonical, str(path))
    canonical: dict[str, str] = {}
    targets = set(profile.columns.values())
    for name in header:
        if name in profile.columns:
            target: str | None = profile.columns[name]
        elif name in source.canonical and name not in targets:
            target = name
        else:
            target = None
        if target is None:
            continue
        if target in canonical:
            raise SourceError(f"{path}: row 0 (header): columns {canonical[target]!r} and "
                              f"{name!r} both give {target!r}")
        canonical[target] = name
    present = set(canonical) | set(profile.constants)
    for col in source.columns:
        if col.name in present:
            continue
        if col.required or (col.unless is not None and col.unless not in present):
            need = col.name if col.unless is None else f"{col.name} or {col.unless}"
            mapped = dict(profile.columns)
            raise SourceError(
                f"{path}: row 0 (header): required column {need!r} is missing after mapping "
                f"(file columns: {', '.join(header) or 'none'}; "
                f"profile maps: {mapped or 'nothing'})"
            )
    unmapped = tuple(n for n in header if n not in canonical.values())
    return Mapping(canonical, unmapped)


def canonical_frame(source: Source, raw: pl.DataFrame, mapping: Mapping, profile: Profile,
                    only: tuple[str, ...] | None = None) -> pl.DataFrame:
    """The raw text under canonical names: mapped, constants filled, blanks as missing
    (``only``: just these canonical columns)."""
    n = raw.height
    canon = {}
    for col in source.canonical if only is None else only:
        if col in profile.constants:
            value = pl.Series(col, [profile.constants[col] or None] * n, pl.String)
        elif col in mapping.canonical:
            value = raw[mapping.canonical[col]].alias(col)
        else:
            value = pl.Series(col, [None] * n, pl.String)
        canon[col] = blank_to_null(value)
    return pl.DataFrame(canon)


def prepare_chunk(source: Source, chunk: Chunk, mapping: Mapping, profile: Profile,
                  region: str) -> Prepared:
    """Normalize and validate one chunk."""
    raw = chunk.frame
    n = raw.height
    row = (chunk.rows.cast(pl.Int64).alias("row") if chunk.rows is not None else
           pl.int_range(chunk.first_row, chunk.first_row + n, dtype=pl.Int64, eager=True))
    frame = canonical_frame(source, raw, mapping, profile)
    values: dict[str, pl.Series] = {}
    reasons: list[pl.Expr] = []
    columns: list[pl.Expr] = []
    checks = {}
    for col in source.columns:
        checked = col.check(frame[col.name], frame, profile)
        values[col.name] = checked.value
        missing = frame[col.name].is_null()
        if col.unless is not None:
            missing = missing & frame[col.unless].is_null()
        elif not col.required:
            missing = pl.Series([False] * n)
        reason = pl.select(pl.when(missing).then(pl.lit(MISSING_FIELD))
                           .otherwise(pl.lit(checked.reason)).alias("r")).to_series()
        checks[col.name] = reason
        reasons.append(pl.col(col.name))
        columns.append(pl.when(pl.col(col.name).is_not_null()).then(pl.lit(col.name)))
    verdict = pl.DataFrame(checks).select(
        reason=pl.coalesce(reasons) if reasons else pl.lit(None, pl.String),
        column=pl.coalesce(columns) if columns else pl.lit(None, pl.String))
    bad = verdict["reason"].is_not_null()
    region_col = frame["region"].fill_null(region)
    provenance = (pl.DataFrame({u: raw[u] for u in mapping.unmapped})
                  .select(source=pl.struct(mapping.unmapped).struct.json_encode())["source"]
                  if mapping.unmapped else pl.Series("source", [None] * n, pl.String))
    records = source.derive(pl.DataFrame(
        {**{c.name: values[c.name].cast(c.dtype) for c in source.columns},
         "region": region_col, "row": row, "source": provenance}
    ).filter(~bad))
    quarantine = raw.with_columns(
        _row=row, _line=pl.lit(None, pl.Int64), _reason=verdict["reason"],
        _column=verdict["column"],
        _source_column=verdict["column"].replace_strict(
            mapping.canonical, default=None, return_dtype=pl.String),
        _raw=pl.lit(None, pl.String),
    ).filter(bad)
    if chunk.malformed:
        quarantine = pl.concat([quarantine, malformed_rows(chunk, raw.columns)],
                               how="diagonal")
    return Prepared(records, quarantine.select(
        [*QUARANTINE_COLUMNS, *(c for c in quarantine.columns if c not in QUARANTINE_COLUMNS)]))


def malformed_rows(chunk: Chunk, header: list[str]) -> pl.DataFrame:
    """Lines the CSV parser could not split into the header's fields."""
    rows = []
    for m in chunk.malformed:
        short = m.fields < m.expected
        rows.append({"_row": None, "_line": m.line,
                     "_reason": MISSING_FIELD if short else UNKNOWN_VALUE,
                     "_column": None,
                     "_source_column": header[m.fields] if short else None,
                     "_raw": f"{m.text} ({m.fields} fields, the header has {m.expected})"})
    return pl.DataFrame(rows, schema={"_row": pl.Int64, "_line": pl.Int64, "_reason": pl.String,
                                      "_column": pl.String, "_source_column": pl.String,
                                      "_raw": pl.String})
