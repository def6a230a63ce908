"""Chunked, deterministic file writers: CSV in any encoding (plain or gzip), Parquet, NDJSON.

Each sink takes rendered chunks one after another, so memory stays bounded by the chunk size.
Output is byte-identical for identical input: gzip members carry no timestamp or file name.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml


def _open(path: Path) -> BinaryIO:
    raw = path.open("wb")
    if path.name.endswith(".gz"):
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)  # type: ignore[return-value]
    return raw


class CsvSink:
    """CSV with a header row of ``headers``, encoded as ``encoding``."""

    def __init__(self, path: Path, headers: list[str], encoding: str):
        self.file = _open(path)
        self._raw = getattr(self.file, "fileobj", None)
        self.encoding = encoding
        self.file.write(self._encode(pl.DataFrame(schema=headers).write_csv()))

    def _encode(self, text: str) -> bytes:
        return text.encode(self.encoding)

    def write(self, frame: pl.DataFrame) -> None:
        """Append rows (all columns already strings)."""
        buffer = io.StringIO()
        frame.write_csv(buffer, include_header=False)
        self.file.write(self._encode(buffer.getvalue()))

    def close(self) -> None:
        """Flush and close."""
        self.file.close()
        if self._raw is not None:
            self._raw.close()


class NdjsonSink:
    """Newline-delimited JSON, UTF-8, plain or gzip."""

    def __init__(self, path: Path):
        self.file = _open(path)
        self._raw = getattr(self.file, "fileobj", None)

    def write(self, frame: pl.DataFrame) -> None:
        """Append rows as JSON objects."""
        self.file.write(frame.write_ndjson().encode("utf-8"))

    def close(self) -> None:
        """Flush and close."""
        self.file.close()
        if self._raw is not None:
            self._raw.close()


class ParquetSink:
    """Parquet written row group by row group with the schema of the first chunk."""

    def __init__(self, path: Path):
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, frame: pl.DataFrame) -> None:
        """Append one row group."""
        table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        """Finish the file (an empty file still gets a valid footer)."""
        if self.writer is not None:
            self.writer.close()


def open_sink(path: Path, headers: list[str], encoding: str) -> CsvSink | NdjsonSink | ParquetSink:
    """The sink for ``path``, chosen by its extension."""
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        return CsvSink(path, headers, encoding)
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return NdjsonSink(path)
    if name.endswith(".parquet"):
        return ParquetSink(path)
    raise ValueError(f"no writer for {name}")


def write_yaml(path: Path, data: dict) -> None:
    """A YAML document, keys in the given order, non-ASCII kept readable."""
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
