"""Natural-key deduplication: which records are new, which repeat an earlier one.

A record is new when no earlier record carries its natural key: not in a complete load, not in
an earlier file or chunk of this load, not earlier in its own chunk. Every other valid record
is a duplicate. A duplicate still counts for provenance: when it comes from a region that had
not supplied that key yet, it is marked ``new_region`` and widens the record's ``regions``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Classified:
    """A chunk's valid records split into new records and duplicates (``new_region`` flagged)."""

    new: pl.DataFrame
    dups: pl.DataFrame


def classify(records: pl.DataFrame, key: tuple[str, ...], known: pl.DataFrame) -> Classified:
    """Split ``records`` given ``known`` (key + region rows of every earlier record and dup;
    ``held``: False for a duplicate's row).

    Only a record the store holds makes a key known: a key seen only in duplicates — whose
    record's load is being staged again (a resumed load whose later loads deduplicated against
    it) — is new here, or the record would be held by nobody. Duplicates still count for the
    regions a key already has."""
    key = list(key)
    key_region = [*key, "region"]
    held = known.filter(pl.col("held")) if "held" in known.columns else known
    seen = held.select(key).unique().with_columns(_seen=pl.lit(True))
    flagged = (records
               .with_columns(_first=pl.struct(key).is_first_distinct())
               .join(seen, on=key, how="left", nulls_equal=True, maintain_order="left"))
    is_new = pl.col("_first") & pl.col("_seen").is_null()
    new = flagged.filter(is_new).drop("_first", "_seen")
    dups = flagged.filter(~is_new).drop("_first", "_seen")
    regions_known = (pl.concat([known.select(key_region), new.select(key_region)])
                     .unique().with_columns(_known=pl.lit(True)))
    dups = (dups.with_columns(_first=pl.struct(key_region).is_first_distinct())
            .join(regions_known, on=key_region, how="left", nulls_equal=True,
                  maintain_order="left")
            .with_columns(new_region=pl.col("_first") & pl.col("_known").is_null())
            .drop("_first", "_known"))
    return Classified(new, dups)
