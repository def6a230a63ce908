"""Bad rows: one fault each, of a reason the input contract quarantines.

A bad row is a copy of a good row with exactly one field (or, for "neither id_no nor phone",
one pair of fields) spoiled, so its only reason for quarantine is the planted one. Faults are
only planted in required fields and in sighting coordinates, where the contract's rule is
explicit.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from loaders.normalize import (
    BAD_COORDINATE,
    BAD_ID_NO,
    BAD_NUMBER,
    BAD_PHONE,
    BAD_PLATE,
    BAD_TIMESTAMP,
    MISSING_FIELD,
    UNKNOWN_VALUE,
    id_check_digit,
)

Fault = tuple[str, str]  # (reason, column)

MENU: dict[str, tuple[Fault, ...]] = {
    "persons": ((MISSING_FIELD, "name"), (MISSING_FIELD, "id_no"), (BAD_ID_NO, "id_no")),
    "cases": ((MISSING_FIELD, "case_type"), (MISSING_FIELD, "id_no+phone"),
              (BAD_ID_NO, "id_no"), (BAD_PHONE, "phone"), (BAD_TIMESTAMP, "reported_at"),
              (UNKNOWN_VALUE, "role")),
    "calls": ((MISSING_FIELD, "callee"), (BAD_PHONE, "caller"), (BAD_PHONE, "callee"),
              (BAD_TIMESTAMP, "start_time"), (BAD_NUMBER, "duration_s"),
              (UNKNOWN_VALUE, "call_type")),
    "waybills": ((MISSING_FIELD, "waybill_no"), (MISSING_FIELD, "shipped_at"),
                 (BAD_PHONE, "sender_phone"), (BAD_PHONE, "receiver_phone"),
                 (BAD_TIMESTAMP, "shipped_at")),
    "sightings": ((MISSING_FIELD, "sensor_id"), (BAD_PLATE, "subject"),
                  (BAD_PHONE, "subject"), (BAD_TIMESTAMP, "seen_at"),
                  (BAD_COORDINATE, "lat"), (BAD_COORDINATE, "lon"),
                  (UNKNOWN_VALUE, "subject_type")),
}
BAD_TIMES = ("2024-02-30 25:61:00", "昨天下午", "2024-13-45T10:00:00", "0000-00-00 00:00:00")
BAD_COMPACT_TIMES = ("20241345251200", "20240230256100", "昨天下午")
UNKNOWN = {"role": ("嫌疑人", "informant", "suspected"), "call_type": ("video", "mms"),
           "subject_type": ("face", "imsi")}


def applicable(source: str, schema: pl.Schema) -> list[Fault]:
    """The faults a file of ``source`` with output ``schema`` can carry.

    A column that is absent (a profile constant) or typed as a timestamp cannot hold them.
    """
    out = []
    for reason, column in MENU[source]:
        first = column.split("+")[0]
        if first not in schema:
            continue
        if reason == BAD_TIMESTAMP and schema[first] != pl.String:
            continue
        out.append((reason, column))
    return out


def eligible(rows: pl.DataFrame, fault: Fault) -> np.ndarray:
    """Indices of good canonical rows that can serve as the template of ``fault``."""
    reason, column = fault
    ok = ~rows["_dup"]
    if column == "subject":
        ok &= rows["subject_type"] == ("plate" if reason == BAD_PLATE else "phone")
    if (reason, column) == (BAD_ID_NO, "id_no"):
        ok &= rows["id_no"].is_not_null()
    return np.flatnonzero(ok.to_numpy())


def spoil(fault: Fault, row: dict, schema: pl.Schema, compact: bool,
          rng: np.random.Generator) -> dict:
    """The columns to overwrite in rendered ``row`` so that it fails with ``fault`` only."""
    reason, column = fault
    pick = int(rng.integers(0, 1000))
    if reason == MISSING_FIELD:
        return dict.fromkeys(column.split("+"))
    if reason == BAD_ID_NO:
        return {"id_no": _bad_id(row["id_no"], pick), **({"phone": None} if "role" in row
                                                       else {})}
    if reason == BAD_PHONE:
        extra = {"id_no": None} if "role" in row else {}
        return {column: _bad_phone(pick), **extra}
    if reason == BAD_PLATE:
        return {column: _bad_plate(row[column], pick)}
    if reason == BAD_TIMESTAMP:
        choices = BAD_COMPACT_TIMES if compact else BAD_TIMES
        return {column: choices[pick % len(choices)]}
    if reason == BAD_COORDINATE:
        value = (90 if column == "lat" else 180) + round(float(rng.uniform(0.5, 30)), 6)
        value = -value if pick % 2 else value
        return {column: value if schema[column] != pl.String else str(value)}
    if reason == BAD_NUMBER:
        if schema[column] != pl.String:
            return {column: -int(rng.integers(1, 600))}
        return {column: ("-7", "30s", "十二")[pick % 3]}
    if reason == UNKNOWN_VALUE:
        return {column: UNKNOWN[column][pick % len(UNKNOWN[column])]}
    raise ValueError(f"no fault of reason {reason}")


def _bad_id(raw: str, pick: int) -> str:
    """Wrong check digit, or a digit missing."""
    text = raw.strip().upper()
    if len(text) == 15 or pick % 3 == 0:
        return text[:16] if len(text) == 18 else text[:14]
    right = id_check_digit(text[:17])
    wrong = "0123456789X"[(("0123456789X".index(right)) + 1 + pick % 10) % 11]
    return text[:17] + wrong


def _bad_phone(pick: int) -> str:
    """Six digits, or a seven-character fragment: too short to be any number anywhere."""
    digits = f"{138000 + pick:06d}"
    return digits if pick % 2 else digits[:3] + "-" + digits[3:]


def _bad_plate(raw: str, pick: int) -> str:
    """A stray symbol, or far too long."""
    return raw + "#" if pick % 2 else raw + "8" * 6
