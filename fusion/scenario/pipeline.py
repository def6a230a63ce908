"""One output file from canonical chunks: repeats, bad rows, spelling, writing, accounting.

Per chunk: append exact repeats of some good rows, add bad copies of some good rows (one
fault each), spell everything in the region's dialect, order by time, write, and account.
How many repeats and bad rows a file gets is planned on its first chunk, spread over chunks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from fusion.scenario import dialects, faults
from fusion.scenario.accounting import FileAccount, NodeKeys
from fusion.scenario.faults import Fault
from fusion.scenario.records import TIME_COLUMN
from fusion.scenario.regions import GBK, Region
from fusion.scenario.writers import open_sink, write_yaml

BAD_SHARE = 0.025
REPEAT_SHARE = 0.01


class SourceFile:
    """Writes one region's file of one source and keeps its accounting."""

    def __init__(self, out_dir: Path, region: Region, dialect_name: str, source: str,
                 expected_rows: int, chunks: int, rng: np.random.Generator, keys: NodeKeys):
        self.source, self.dialect, self.rng, self.keys = source, dialect_name, rng, keys
        name = dialects.dialect(dialect_name).file_name(source)
        self.path = out_dir / region.code / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = dialects.profile(source, dialect_name)
        profile = None
        if doc is not None:
            profile = f"{region.code}/{source}.profile.yaml"
            write_yaml(out_dir / profile, doc)
        self.account = FileAccount(source, region.code, f"{region.code}/{name}", profile)
        self.expected, self.chunks = expected_rows, chunks
        self.sink = None
        self.plan: list[list[Fault]] = []
        self.repeats: np.ndarray = np.zeros(chunks, dtype=np.int64)
        self.pending: list[Fault] = []

    def _make_plan(self, schema: pl.Schema) -> None:
        menu = faults.applicable(self.source, schema)
        each = max(1, round(BAD_SHARE * self.expected / len(menu)))
        self.plan = [[] for _ in range(self.chunks)]
        for fault in menu:
            for chunk in self.rng.integers(0, self.chunks, each).tolist():
                self.plan[chunk].append(fault)
        repeats = max(1, round(REPEAT_SHARE * self.expected))
        self.repeats = np.bincount(self.rng.integers(0, self.chunks, repeats),
                                   minlength=self.chunks)

    def write(self, chunk: int, rows: pl.DataFrame) -> int:
        """Write one chunk of canonical rows; returns the number of rows written."""
        time_col = TIME_COLUMN[self.source]
        rows = rows.with_columns(_t=pl.col(time_col) if time_col else pl.int_range(pl.len()))
        if not self.plan:
            self._make_plan(dialects.render(self.source, self.dialect, rows.head(1),
                                            self.rng).schema)
        wanted = self.pending + self.plan[chunk]
        if not len(rows):
            self.pending = wanted
            return 0
        rows = self._repeat(rows, int(self.repeats[chunk]))
        templates, placed, self.pending = self._templates(rows, wanted)
        rendered = dialects.render(self.source, self.dialect,
                                   pl.concat([rows, templates]), self.rng)
        good, bad = rendered.head(len(rows)), rendered.tail(len(templates))
        out = pl.concat([good, self._spoil(bad, placed)]).sort("_t", maintain_order=True)
        self._sink(out).write(out.select(c for c in out.columns if not c.startswith("_")))
        self.account.add(rows, placed)
        self.keys.add(self.source, rows)
        return len(out)

    def _repeat(self, rows: pl.DataFrame, n: int) -> pl.DataFrame:
        """Exact repeats (natural key and all) of ``n`` good rows, right after them."""
        candidates = np.flatnonzero(~rows["_dup"].to_numpy())
        if not n or not len(candidates):
            return rows
        picked = self.rng.choice(candidates, min(n, len(candidates)), replace=False)
        again = rows[np.sort(picked)].with_columns(_dup=pl.lit(True))
        return pl.concat([rows, again])

    def _templates(self, rows: pl.DataFrame,
                   wanted: list[Fault]) -> tuple[pl.DataFrame, list[Fault], list[Fault]]:
        """Good rows to spoil for each wanted fault; faults with no fitting row wait."""
        picked, placed, waiting = [], [], []
        for fault in wanted:
            options = faults.eligible(rows, fault)
            if len(options):
                picked.append(int(self.rng.choice(options)))
                placed.append(fault)
            else:
                waiting.append(fault)
        return rows[picked], placed, waiting

    def _spoil(self, bad: pl.DataFrame, placed: list[Fault]) -> pl.DataFrame:
        compact = self.dialect == GBK
        out = []
        for row, fault in zip(bad.to_dicts(), placed, strict=True):
            row.update(faults.spoil(fault, row, bad.schema, compact, self.rng))
            out.append(row)
        return pl.DataFrame(out, schema=bad.schema)

    def _sink(self, out: pl.DataFrame):
        if self.sink is None:
            columns = [c for c in out.columns if not c.startswith("_")]
            headers = dialects.header_row(self.source, self.dialect, columns)
            encoding = dialects.dialect(self.dialect).encoding
            self.sink = open_sink(self.path, headers, encoding)
        return self.sink

    def close(self) -> None:
        """Finish the file; bad rows that never found a template are dropped (not counted)."""
        if self.sink is None:
            self._sink(pl.DataFrame())
        self.sink.close()
