"""Quarantine files: every rejected row, whole and as read, with its reason and column.

One CSV per load, ``FUSION_HOME/quarantine/<load_id>.csv`` (UTF-8 with BOM, so spreadsheet
programs show Chinese text), columns ``_row`` (1-based data row), ``_line`` (physical line, for
rows the CSV parser could not split), ``_reason`` (the contract's code), ``_column`` (canonical
column at fault), ``_source_column`` (that column's name in the file), ``_raw`` (an unsplittable
line), then the file's own columns. Rows are staged in Parquet while the file is read, and the
CSV appears atomically at the end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl

from loaders.private import private_dir, private_file

# An optional column of staged rows: rows staged out of file order carry their place in it
# (``2 * chunk`` for rejected rows, ``2 * chunk + 1`` for the chunk's unsplittable lines, which
# follow them), and :meth:`QuarantineFile.finish` sorts on it, then on ``_row``.
ORDER = "_order"


class QuarantineFile:
    """Collects a load's rejected rows; :meth:`finish` writes the CSV."""

    def __init__(self, home: Path, load_id: str):
        self.dir = Path(home) / "quarantine"
        self.path = self.dir / f"{load_id}.csv"
        self._staging = self.dir / f".{load_id}.staging"
        self._parts: list[Path] = []
        self.rows = 0

    def add(self, frame: pl.DataFrame) -> None:
        """Stage some rejected rows."""
        if frame.height == 0:
            return
        private_dir(self._staging, self.dir.parent)
        part = self._staging / f"{len(self._parts):05d}.parquet"
        frame.write_parquet(part)
        private_file(part)
        self._parts.append(part)
        self.rows += frame.height

    def finish(self) -> Path | None:
        """Write the CSV (None when nothing was rejected) and drop the staging files."""
        self.path.unlink(missing_ok=True)
        if not self._parts:
            self.abandon()
            return None
        frame = pl.concat([pl.read_parquet(p) for p in self._parts], how="diagonal_relaxed")
        if ORDER in frame.columns:  # staged out of file order (by partition): put it back
            frame = frame.sort(ORDER, "_row", nulls_last=True, maintain_order=True).drop(ORDER)
        tmp = self.dir / f".{self.path.name}.tmp"
        frame.write_csv(tmp, include_bom=True)
        private_file(tmp)
        os.replace(tmp, self.path)
        self.abandon()
        return self.path

    def abandon(self) -> None:
        """Forget the staged rows (the load failed or is finished)."""
        shutil.rmtree(self._staging, ignore_errors=True)
        self._parts.clear()
