"""Dense integer codes for the string keys of a frame (subjects, sensors).

Sorting 10 million strings or grouping them costs seconds; hashing each row to 64 bits and
mapping the hashes through a hash table costs a fraction of that. Two independent 64-bit hashes
are computed per row: rows are grouped by the first, and every row's second hash must equal
its group representative's, otherwise (a collision of the first hash, about one chance in
2**64 / n**2) the exact but slower string factorization is used instead. Codes are ranks in
the sorted order of the key columns, so comparing codes compares the keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

_SEED_GROUP = 0x5EED_0001
_SEED_CHECK = 0x5EED_0002


def _row_hash(frame: pl.DataFrame, columns: Sequence[str], seed: int) -> np.ndarray:
    """One 64-bit hash per row of ``columns`` (each column hashed, then mixed)."""
    mixed = None
    for k, name in enumerate(columns):
        h = pl.col(name).hash(seed + 7919 * k)
        mixed = h if mixed is None else (mixed * 0x9E3779B97F4A7C15 + h)
    return frame.select(mixed.alias("h")).get_column("h").to_numpy()


def factorize(frame: pl.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """Codes (uint32, one per row) and the sorted distinct keys they index.

    ``keys.row(codes[r])`` equals ``frame.select(columns).row(r)`` for every row ``r``.
    """
    if frame.height == 0:
        return np.zeros(0, dtype=np.uint32), frame.select(columns).clear()
    group = pl.Series(_row_hash(frame, columns, _SEED_GROUP))
    first_rows = group.arg_unique().to_numpy()
    keys = frame.select(columns)[first_rows]
    order = keys.select(pl.arg_sort_by(keys.columns)).to_series().to_numpy()
    first_rows = first_rows[order]
    rank = np.arange(len(order), dtype=np.uint32)
    codes = group.replace_strict(group.gather(first_rows), rank, return_dtype=pl.UInt32)
    codes = codes.to_numpy()
    check = _row_hash(frame, columns, _SEED_CHECK)
    if not np.array_equal(check, check[first_rows][codes]):
        return factorize_exact(frame, columns)
    return codes, keys[order]


def factorize_exact(
    frame: pl.DataFrame, columns: Sequence[str]
) -> tuple[np.ndarray, pl.DataFrame]:
    """Same answer as :func:`factorize`, through a string group-by (slower, no hashing)."""
    keys = frame.select(columns).unique().sort(columns).with_row_index("_code")
    codes = (
        frame.select(columns)
        .join(keys, on=list(columns), how="left", maintain_order="left", nulls_equal=True)
        .get_column("_code")
        .to_numpy()
        .astype(np.uint32)
    )
    return codes, keys.drop("_code")
