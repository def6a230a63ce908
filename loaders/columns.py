"""Column-at-a-time normalization and validation, exact to the per-value rules of ``normalize``.

Identifiers repeat heavily (a phone appears in thousands of calls), so each identifier rule runs
once per *distinct* raw value and the results are mapped back. Timestamps in the common forms are
parsed by polars; every other form goes through :func:`timestamp_from_text`, the reference, and
the vectorized paths are held to it by property tests.

Every checker takes a text column (``None`` for missing) and returns a :class:`Checked` pair of
columns: the canonical value and the quarantine reason (``None`` when the value is good).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
import polars as pl

from loaders.normalize import (
    BAD_COORDINATE,
    BAD_NUMBER,
    BAD_TIMESTAMP,
    EARLIEST,
    LATEST,
    MISSING_FIELD,
    UNKNOWN_VALUE,
    InvalidValue,
    normalize_phone,
    parse_timestamp,
)
from loaders.profile import Profile

UTC_US = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Checked:
    """A normalized column and its per-row reason codes (null where the value is good)."""

    value: pl.Series
    reason: pl.Series


def blank_to_null(s: pl.Series) -> pl.Series:
    """Trimmed text; empty or whitespace-only values become null."""
    t = s.str.strip_chars()
    return t.set(t.str.len_bytes() == 0, None) if len(t) else t


def _ok(value: pl.Series) -> Checked:
    return Checked(value, pl.Series(value.name, [None] * len(value), pl.String))


# A table of distinct raw values: raw text, canonical value, reason (null when good).
TABLE_SCHEMA = {"t": pl.String, "v": pl.String, "r": pl.String}


def rule_table(uniq: pl.Series, rule: Callable[[str], str]) -> pl.DataFrame:
    """A ``normalize_*`` rule applied to each of the distinct values ``uniq``: (t, v, r)."""
    values: list[str | None] = []
    reasons: list[str | None] = []
    for raw in uniq.to_list():
        try:
            values.append(rule(raw))
            reasons.append(None)
        except InvalidValue as exc:
            values.append(None)
            reasons.append(exc.reason)
    return pl.DataFrame({"t": uniq, "v": values, "r": reasons}, schema=TABLE_SCHEMA)


def by_distinct(s: pl.Series, rule: Callable[[str], str]) -> Checked:
    """Apply a ``normalize_*`` rule once per distinct non-null value and map the results back."""
    return map_back(s, rule_table(s.drop_nulls().unique(), rule))


def map_back(s: pl.Series, table: pl.DataFrame) -> Checked:
    """Value and reason of each element of ``s`` from ``table`` (distinct ``t`` -> ``v``, ``r``).

    One hash join for both columns: about twice as fast as two ``replace_strict`` calls.
    """
    frame = pl.DataFrame({"t": s.cast(pl.String)}).join(
        table, on="t", how="left", maintain_order="left")
    return Checked(frame["v"].alias(s.name), frame["r"].alias(s.name))


def text(s: pl.Series) -> Checked:
    """Free text, trimmed."""
    return _ok(s)


def upper_text(s: pl.Series) -> Checked:
    """Text trimmed and upper-cased (waybill numbers)."""
    return _ok(s.str.to_uppercase())


def one_of(allowed: tuple[str, ...]) -> Callable[[pl.Series], Checked]:
    """A closed vocabulary, compared case-insensitively; anything else is UNKNOWN_VALUE."""

    def check(s: pl.Series) -> Checked:
        low = s.str.to_lowercase()
        bad = low.is_not_null() & ~low.is_in(list(allowed))
        return Checked(low.set(bad, None) if len(s) else low, _reasons(bad, UNKNOWN_VALUE, s.name))

    return check


def _reasons(bad: pl.Series, reason: str, name: str) -> pl.Series:
    return pl.select(pl.when(bad).then(pl.lit(reason)).otherwise(None).alias(name)).to_series()


def _floats(s: pl.Series) -> pl.Series:
    f = s.cast(pl.Float64, strict=False)
    return f.set(~f.is_finite().fill_null(False), None) if len(s) else f


def number(s: pl.Series) -> Checked:
    """A finite decimal number, else BAD_NUMBER."""
    f = _floats(s)
    return Checked(f, _reasons(s.is_not_null() & f.is_null(), BAD_NUMBER, s.name))


def count(s: pl.Series) -> Checked:
    """A whole number >= 0 (``12`` or ``12.0``), else BAD_NUMBER."""
    f = _floats(s)
    good = f.is_not_null() & (f >= 0) & (f == f.floor()) & (f < 2**62)
    value = f.set(~good.fill_null(False), None).cast(pl.Int64) if len(s) else f.cast(pl.Int64)
    return Checked(value, _reasons(s.is_not_null() & ~good.fill_null(False), BAD_NUMBER, s.name))


def coordinate(limit: float) -> Callable[[pl.Series], Checked]:
    """WGS84 degrees within +-limit, else BAD_COORDINATE."""

    def check(s: pl.Series) -> Checked:
        f = _floats(s)
        good = (f.abs() <= limit).fill_null(False)
        value = f.set(~good, None) if len(s) else f
        return Checked(value, _reasons(s.is_not_null() & ~good, BAD_COORDINATE, s.name))

    return check


# -- timestamps ----------------------------------------------------------------------------------
_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_HMS = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
_ISO_NAIVE = rf"^\d{{4}}(?:-\d{{2}}-\d{{2}}|/\d{{2}}/\d{{2}})[ T]{_HMS}$"
_ISO_OFFSET = rf"^\d{{4}}-\d{{2}}-\d{{2}}[ T]{_HMS}(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
_EPOCH_INT = r"^\d{1,13}$"
_MAX_EPOCH_MS = 4 * 10**12  # below this, float seconds are exact to 0.5 us (as the reference)
_SAFE_DIRECTIVES = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%H": r"\d{2}",
                    "%M": r"\d{2}", "%S": r"\d{2}"}


def timestamp_from_text(text: str, timezone: str = "Asia/Shanghai",
                        timestamp_format: str | None = None) -> datetime:
    """The reference timestamp rule: an aware UTC datetime, or InvalidValue.

    Order: the profile's ``timestamp_format`` when it has one, else numeric text as epoch
    seconds (milliseconds from 1e11 on); then :func:`loaders.normalize.parse_timestamp` (ISO
    8601 and the listed forms). A profile that declares a format declares the column text, so
    a number that misses the format (``20241345251200``) is BAD_TIMESTAMP, not an epoch.
    """
    text = text.strip()
    if not text:
        raise InvalidValue(MISSING_FIELD, "empty timestamp")
    try:
        if timestamp_format:
            try:
                return parse_timestamp(datetime.strptime(text, timestamp_format), timezone)
            except ValueError:
                pass
        elif _NUMERIC.fullmatch(text):
            number_ = float(text)
            return parse_timestamp(int(number_) if number_.is_integer() else number_, timezone)
        return parse_timestamp(text, timezone)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, InvalidValue):
            raise
        raise InvalidValue(BAD_TIMESTAMP, f"not a timestamp: {text!r}") from None


def _format_regex(fmt: str) -> str | None:
    """A width-exact regex for formats polars parses exactly like strptime, else None."""
    parts = re.split(r"(%.)", fmt)
    out = []
    for part in parts:
        if part.startswith("%") and len(part) == 2:
            if part not in _SAFE_DIRECTIVES:
                return None
            out.append(_SAFE_DIRECTIVES[part])
        elif re.fullmatch(r"[-/: T]*", part):
            out.append(re.escape(part))
        else:
            return None
    return "^" + "".join(out) + "$"


def timestamp(timezone: str, timestamp_format: str | None) -> Callable[[pl.Series], Checked]:
    """Timestamps to Datetime(us, UTC); identical to :func:`timestamp_from_text` per value."""

    def check(s: pl.Series) -> Checked:
        frame = pl.DataFrame({"t": s}).with_columns(v=pl.lit(None, UTC_US))
        v, t = pl.col("v"), pl.col("t")

        def local(expr: pl.Expr) -> pl.Expr:
            return (expr.dt.replace_time_zone(timezone, ambiguous="earliest",
                                              non_existent="null").dt.convert_time_zone("UTC"))

        steps: list[tuple[pl.Expr, pl.Expr]] = []
        fmt_re = _format_regex(timestamp_format) if timestamp_format else None
        if timestamp_format and fmt_re:
            steps.append((t.str.contains(fmt_re), local(t.str.to_datetime(
                timestamp_format, strict=False, exact=True, time_unit="us"))))
        if not timestamp_format or fmt_re:
            iso = pl.concat_str([t.str.slice(0, 10).str.replace_all("/", "-"), pl.lit("T"),
                                 t.str.slice(11)])
            ints = t.cast(pl.Int64, strict=False)
            # With a profile format, numbers are not epochs (and strptime may read digits its
            # own way: "946684800" as %Y%m%d%H%M%S is 9466-08-04): the reference path decides.
            epoch_ok = pl.lit(timestamp_format is None)
            steps += [
                (epoch_ok & t.str.contains(_EPOCH_INT) & (ints < _MAX_EPOCH_MS),
                 pl.when(ints >= 10**11).then(pl.from_epoch(ints, "ms"))
                 .otherwise(pl.from_epoch(ints, "s")).dt.replace_time_zone("UTC")
                 .dt.cast_time_unit("us")),
                # Whole seconds first: without ``%.f`` polars parses ~5x faster.
                (t.str.contains(_ISO_NAIVE) & (t.str.len_bytes() == 19),
                 local(iso.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, exact=True,
                                           time_unit="us"))),
                (t.str.contains(_ISO_NAIVE), local(iso.str.to_datetime(
                    "%Y-%m-%dT%H:%M:%S%.f", strict=False, exact=True, time_unit="us"))),
                (t.str.contains(_ISO_OFFSET), iso.str.replace("Z$", "+00:00").str.to_datetime(
                    "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, exact=True, time_unit="us")
                 .dt.convert_time_zone("UTC")),
            ]
        for when, parsed in steps:
            todo = v.is_null() & t.is_not_null() & when.fill_null(False)
            if frame.select(todo.any()).item():  # a step no row needs is not evaluated
                frame = frame.with_columns(v=pl.when(todo).then(parsed).otherwise(v))
        # Instants outside the plausible range go to the reference rule, which names them.
        frame = frame.with_columns(v=pl.when(v.is_between(
            pl.lit(EARLIEST, UTC_US), pl.lit(LATEST, UTC_US), closed="left")).then(v))
        rest = frame.filter(v.is_null() & t.is_not_null())["t"].unique()
        if len(rest):
            values: list[datetime | None] = []
            reasons: list[str | None] = []
            for raw in rest.to_list():
                try:
                    values.append(timestamp_from_text(raw, timezone, timestamp_format))
                    reasons.append(None)
                except InvalidValue as exc:
                    values.append(None)
                    reasons.append(BAD_TIMESTAMP if exc.reason == MISSING_FIELD else exc.reason)
            lookup = pl.DataFrame({"t": rest, "pv": pl.Series(values, dtype=UTC_US),
                                   "pr": pl.Series(reasons, dtype=pl.String)})
            frame = frame.join(lookup, on="t", how="left", maintain_order="left")
        else:
            frame = frame.with_columns(pv=pl.lit(None, UTC_US), pr=pl.lit(None, pl.String))
        frame = frame.select(value=pl.coalesce(v, pl.col("pv")), reason=pl.col("pr"))
        return Checked(frame["value"].alias(s.name), frame["reason"].alias(s.name))

    return check


# -- phones --------------------------------------------------------------------------------------
# The common case of a call record, a Chinese mobile written as 1xxxxxxxxxx or +861xxxxxxxxxx
# with optional spaces or dashes, is validated in bulk with phonenumbers' own CN metadata
# (the checks of phonenumberutil._number_type_helper, as regexes over the whole column). These
# forms parse to national number = the 11 digits: no national prefix or carrier code can be
# stripped from 1[3-9]... except 179.., which stays on the reference path with everything else.
# tests/test_loaders_columns.py holds this path to normalize_phone value by value.
_FAST_SPELLING = r"^\+?[0-9][0-9 \-]*$"
_FAST_NATIONAL = r"^1[3-9][0-9]{9}$"
_FAST_INTERNATIONAL = r"^\+861[3-9][0-9]{9}$"
_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
               "uan", "voicemail", "fixed_line", "mobile")


def _desc_matches(nsn: pl.Expr, desc: object) -> pl.Expr:
    """phonenumberutil._is_number_matching_desc, vectorized."""
    pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
    if not pattern:
        return pl.lit(False)
    lengths = list(getattr(desc, "possible_length", ()) or ())
    match = nsn.str.contains(f"^(?:{pattern})$")
    return match & nsn.str.len_chars().is_in(lengths) if lengths else match


def _valid_cn(nsn: pl.Expr) -> pl.Expr:
    """phonenumbers.is_valid_number for +86 national numbers, vectorized."""
    md = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    any_type = pl.any_horizontal([_desc_matches(nsn, getattr(md, d)) for d in _TYPE_DESCS])
    return _desc_matches(nsn, md.general_desc) & any_type


class _PhoneMemo:
    """Raw phone spellings already normalized in this process, per default country.

    A CDR repeats the same few spellings of each number in every chunk: each is normalized
    once, the later chunks only look it up. Normalization is a pure function of (raw, default
    country), so the memo can never answer differently from the rule. Bounded: past
    ``limit`` distinct spellings it starts over.
    """

    def __init__(self, limit: int = 500_000):
        self.limit = limit
        self._tables: dict[str, pl.DataFrame] = {}
        self._lock = threading.Lock()

    def split(self, country: str, uniq: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
        """(the memo's rows for ``uniq``, the values of ``uniq`` it does not hold)."""
        with self._lock:
            table = self._tables.get(country)
        if table is None:
            return _TABLE.clear(), uniq
        wanted = pl.DataFrame({"t": uniq})
        return (table.join(wanted, on="t", how="semi"),
                wanted.join(table, on="t", how="anti")["t"])

    def add(self, country: str, rows: pl.DataFrame) -> None:
        with self._lock:
            table = self._tables.get(country)
            if table is None or table.height + rows.height > self.limit:
                self._tables[country] = rows
            else:  # each spelling once, even if two threads normalized it at the same time
                self._tables[country] = pl.concat([table, rows.join(table, on="t", how="anti")])


_TABLE = pl.DataFrame(schema=TABLE_SCHEMA)
_PHONE_MEMO = _PhoneMemo()


def phones(default_country: str) -> Callable[[pl.Series], Checked]:
    """Phones to E.164, identical to ``normalize_phone(raw, default_country)`` per value."""

    def check(s: pl.Series) -> Checked:
        # Work on the distinct raw values (a number repeats across thousands of records), and
        # only on those no earlier chunk had.
        known, todo = _PHONE_MEMO.split(default_country, s.drop_nulls().unique())
        fresh = _phone_table(todo, default_country)
        _PHONE_MEMO.add(default_country, fresh)
        return map_back(s, pl.concat([known, fresh]))

    return check


def _phone_table(uniq: pl.Series, default_country: str) -> pl.DataFrame:
    """(t, v, r) of distinct raw phones: the CN fast path in bulk, the reference for the rest."""
    compact = pl.when(pl.col("t").str.contains(_FAST_SPELLING)).then(
        pl.col("t").str.replace_all(r"[ \-]", ""))
    nsn = (pl.when(compact.str.contains(_FAST_INTERNATIONAL)).then(compact.str.slice(3))
           .when(compact.str.contains(_FAST_NATIONAL) & (default_country == "CN"))
           .then(compact))
    nsn = pl.when(nsn.str.starts_with("179")).then(None).otherwise(nsn)
    frame = pl.DataFrame({"t": uniq}, schema={"t": pl.String}).with_columns(nsn=nsn).with_columns(
        fast=pl.when(_valid_cn(pl.col("nsn")).fill_null(False))
        .then(pl.concat_str([pl.lit("+86"), pl.col("nsn")])))
    rest = frame.filter(pl.col("fast").is_null())["t"]
    return pl.concat([
        frame.filter(pl.col("fast").is_not_null()).select(
            "t", v=pl.col("fast"), r=pl.lit(None, pl.String)),
        rule_table(rest, lambda v: normalize_phone(v, default_country)),
    ])


# -- checkers that follow the mapping profile ---------------------------------------------------
# Source modules declare these for their phone and time columns (spec.Check's signature): the
# profile's default country and timezone/format decide how a value reads.
def profile_phone(s: pl.Series, _frame: pl.DataFrame, profile: Profile) -> Checked:
    """Phones read in the profile's default country."""
    return phones(profile.default_country)(s)


def profile_timestamp(s: pl.Series, _frame: pl.DataFrame, profile: Profile) -> Checked:
    """Timestamps read in the profile's timezone and (optional) format."""
    return timestamp(profile.timezone, profile.timestamp_format)(s)
