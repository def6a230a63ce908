"""Raw spellings of canonical identifiers: every form the input contract accepts.

Each function maps a Series of canonical values to a Series of raw values that normalize back
to the same canonical value (nulls stay null). The style of each row is drawn from ``rng``,
mostly the plain form, so files look like real exports with a long tail of variants.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fusion.scenario.regions import LOCAL_OFFSET_S

_ASCII = [chr(c) for c in range(0x21, 0x7F)]
_FULL = [chr(c + 0xFEE0) for c in range(0x21, 0x7F)]
_DIGITS = list("0123456789")
_FULL_DIGITS = [chr(ord(d) + 0xFEE0) for d in _DIGITS]


def _styled(values: pl.Series, styles: list[pl.Expr], weights: list[float],
            rng: np.random.Generator) -> pl.Series:
    """Apply style ``k`` (an expression over column ``v``) to the rows that drew ``k``."""
    drawn = rng.choice(len(styles), size=len(values), p=np.array(weights) / sum(weights))
    frame = pl.DataFrame({"v": values.cast(pl.String), "k": drawn})
    expr = pl.when(pl.col("k") == 0).then(styles[0])
    for k, style in enumerate(styles[1:], start=1):
        expr = expr.when(pl.col("k") == k).then(style)
    return frame.select(expr.otherwise(pl.col("v")).alias(values.name)).to_series()


def spell_phones(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    """``+8613812345678`` as 13812345678, +86 138 1234 5678, 0086…, 86…, 138-1234-5678, …"""
    nat = pl.col("v").str.slice(3)
    a, b, c = nat.str.slice(0, 3), nat.str.slice(3, 4), nat.str.slice(7, 4)
    styles = [
        nat,
        pl.concat_str([pl.lit("+86 "), a, pl.lit(" "), b, pl.lit(" "), c]),
        pl.concat_str([pl.lit("0086"), nat]),
        pl.concat_str([pl.lit("86"), nat]),
        pl.concat_str([a, pl.lit("-"), b, pl.lit("-"), c]),
        pl.concat_str([a, pl.lit(" "), b, pl.lit(" "), c]),
        pl.col("v"),
        nat.str.replace_many(_DIGITS, _FULL_DIGITS),
        pl.concat_str([pl.lit("+86-"), a, pl.lit("-"), b, pl.lit("-"), c]),
    ]
    return _styled(values, styles, [62, 6, 5, 4, 6, 5, 8, 2, 2], rng)


def spell_plates(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    """``浙A12345`` as 浙A·12345, 浙a12345, full-width ``浙Ａ１２３４５``, 浙A 12345, 浙A-12345."""
    head, tail = pl.col("v").str.slice(0, 2), pl.col("v").str.slice(2)
    styles = [
        pl.col("v"),
        pl.concat_str([head, pl.lit("·"), tail]),
        pl.col("v").str.to_lowercase(),
        pl.col("v").str.replace_many(_ASCII, _FULL),
        pl.concat_str([head, pl.lit(" "), tail]),
        pl.concat_str([head, pl.lit("-"), tail]),
        pl.concat_str([head, pl.lit("·"), tail]).str.to_lowercase(),
    ]
    return _styled(values, styles, [70, 10, 6, 3, 4, 4, 3], rng)


def spell_ids(values: pl.Series, legacy: pl.Series, rng: np.random.Generator) -> pl.Series:
    """ID numbers with lower-case ``x`` and, where ``legacy`` holds, the 15-digit form."""
    v = pl.col("v")
    legacy_form = pl.concat_str([v.str.slice(0, 6), v.str.slice(8, 9)])
    drawn = rng.random(len(values))
    frame = pl.DataFrame({"v": values.cast(pl.String), "legacy": legacy, "r": drawn})
    expr = (pl.when(pl.col("legacy") & (pl.col("r") < 0.08)).then(legacy_form)
            .when(pl.col("r") > 0.5).then(v.str.to_lowercase())
            .when(pl.col("r") > 0.49).then(pl.concat_str([pl.lit(" "), v, pl.lit(" ")]))
            .otherwise(v))
    return frame.select(expr.alias(values.name)).to_series()


def spell_addresses(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Addresses with full-width digits, doubled or ideographic spaces, stray padding."""
    v = pl.col("v")
    styles = [
        v,
        v.str.replace_many(_DIGITS, _FULL_DIGITS),
        v.str.replace(" ", "  ", literal=True),
        v.str.replace(" ", "\u3000", literal=True),
        pl.concat_str([v, pl.lit(" ")]),
    ]
    return _styled(values, styles, [80, 8, 5, 4, 3], rng)


def spell_upper(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Upper-case codes (waybill numbers) sometimes in lower case or padded."""
    v = pl.col("v")
    styles = [v, v.str.to_lowercase(), pl.concat_str([pl.lit(" "), v])]
    return _styled(values, styles, [90, 7, 3], rng)


def iso_local(epoch_s: pl.Series) -> pl.Series:
    """ISO 8601 local time with the +08:00 offset."""
    local = pl.from_epoch(epoch_s + LOCAL_OFFSET_S, time_unit="s")
    return local.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00").alias(epoch_s.name)


def iso_utc(epoch_s: pl.Series) -> pl.Series:
    """ISO 8601 UTC with the ``Z`` designator."""
    return pl.from_epoch(epoch_s, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias(
        epoch_s.name)


def local_format(epoch_s: pl.Series, fmt: str) -> pl.Series:
    """Naive local time (Asia/Shanghai) in strftime format ``fmt``."""
    local = pl.from_epoch(epoch_s + LOCAL_OFFSET_S, time_unit="s")
    return local.dt.strftime(fmt).alias(epoch_s.name)


def spell_iso_times(epoch_s: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Mostly ISO with +08:00; some UTC ``Z``; a few naive local ``YYYY-MM-DD HH:MM:SS``."""
    drawn = rng.choice(3, size=len(epoch_s), p=[0.9, 0.07, 0.03])
    frame = pl.DataFrame({"a": iso_local(epoch_s), "b": iso_utc(epoch_s),
                          "c": local_format(epoch_s, "%Y-%m-%d %H:%M:%S"), "k": drawn})
    expr = (pl.when(pl.col("k") == 1).then(pl.col("b"))
            .when(pl.col("k") == 2).then(pl.col("c")).otherwise(pl.col("a")))
    return frame.select(expr.alias(epoch_s.name)).to_series()
