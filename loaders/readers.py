"""Source files -> chunks of string columns, memory bounded by the chunk size.

The format comes from the file extension (contract: inputs.md): ``.csv`` / ``.tsv`` (any
encoding Python knows, BOM tolerated), ``.parquet``, ``.jsonl`` / ``.ndjson``; ``.gz`` on top
of a CSV or NDJSON name means gzip. Every value comes out as text (``None`` for a missing
one), as read: validation and normalization happen later, on whole columns.

Rows that the CSV parser cannot split into the header's fields are not fatal: they come out
as :class:`Malformed` and are quarantined with the rest.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loaders.errors import SourceError
from loaders.profile import Profile

CHUNK_ROWS = 200_000
# pyarrow parses a CSV a block at a time and one record must fit in a block. 4 MB blocks parse
# an 85 MB call-record file about twice as fast as 16 MB ones (0.3 vs 0.7 s), and no record of
# the contract's sources comes near 4 MB; a longer one makes the file unreadable, saying so.
MAX_RECORD_BYTES = 4 << 20
_BLOCK_BYTES = MAX_RECORD_BYTES


@dataclass(frozen=True)
class Malformed:
    """A CSV line that does not split into the header's number of fields."""

    line: int | None
    text: str
    fields: int
    expected: int


@dataclass
class Chunk:
    """Up to ``CHUNK_ROWS`` consecutive rows; ``first_row`` is the 1-based number of the first.

    ``rows`` gives each row's number instead when the rows are not consecutive (a partition
    of a file gathers rows from all over it).
    """

    frame: pl.DataFrame
    first_row: int
    malformed: list[Malformed] = field(default_factory=list)
    rows: pl.Series | None = None


def file_format(path: Path) -> tuple[str, bool]:
    """(``csv`` | ``parquet`` | ``ndjson``, gzip?) from the file name."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    ext = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    formats = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet",
               ".jsonl": "ndjson", ".ndjson": "ndjson"}
    if ext not in formats or (gz and formats[ext] == "parquet"):
        raise SourceError(
            f"{path}: unknown file type {''.join(path.suffixes) or '(none)'}; expected .csv, "
            ".parquet, .jsonl or .ndjson, optionally with .gz (CSV and NDJSON)"
        )
    return formats[ext], gz


def read_chunks(path: Path, profile: Profile, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """The file's rows in chunks of text columns; raises SourceError if it cannot be read."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    kind, gz = file_format(path)
    if kind == "csv":
        yield from _csv_chunks(path, profile, chunk_rows)
    elif kind == "parquet":
        yield from _parquet_chunks(path, chunk_rows)
    else:
        yield from _ndjson_chunks(path, gz, chunk_rows)


def source_columns(path: Path, profile: Profile) -> list[str]:
    """The file's column names (for NDJSON: the keys of its first rows)."""
    kind, gz = file_format(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if kind == "csv":
        return _csv_header(path, profile)
    if kind == "parquet":
        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None
    return _ndjson_columns(path, gz)


# -- CSV -----------------------------------------------------------------------------------------
def _read_options(profile: Profile, **kw: object) -> pacsv.ReadOptions:
    encoding = "utf8" if profile.encoding in ("utf-8", "utf-8-sig") else profile.encoding
    return pacsv.ReadOptions(encoding=encoding, block_size=_BLOCK_BYTES, **kw)


def _csv_header(path: Path, profile: Profile) -> list[str]:
    line = _first_line(path, profile).decode("utf-8")
    names = next(csv.reader([line], delimiter=profile.delimiter))
    names = [n.lstrip("\ufeff").strip() or f"column_{i + 1}" for i, n in enumerate(names)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SourceError(f"{path}: row 0 (header): column {name!r} appears twice")
        seen.add(name)
    return names


def _first_line(path: Path, profile: Profile) -> bytes:
    """The header line, transcoded to UTF-8."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding=profile.encoding, newline="") as fh:
            line = fh.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise SourceError(_csv_problem(path, profile, exc)) from None
    if not line.strip():
        raise SourceError(f"{path}: empty file; expected a header row")
    return line.encode("utf-8")


def _csv_problem(path: Path, profile: Profile, exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "decode" in text.lower():
        return (f"{path}: cannot be decoded as {profile.encoding} ({text}); "
                "name the file's encoding in the profile (encoding: gbk, utf-16, ...)")
    if "Empty CSV file" in text:
        return f"{path}: empty file; expected a header row"
    if "straddl" in text:
        return (f"{path}: a record is longer than {MAX_RECORD_BYTES >> 20} MB, the most one CSV "
                "record may hold (or a quote is never closed)")
    return f"{path}: not a readable CSV file ({text})"


def _csv_chunks(path: Path, profile: Profile, chunk_rows: int) -> Iterator[Chunk]:
    names = _csv_header(path, profile)
    malformed: list[Malformed] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(Malformed(row.number, row.text, row.actual_columns, row.expected_columns))
        return "skip"

    try:
        # The compression is named, not left to pyarrow: it goes by the suffix, case-sensitively.
        stream = pa.input_stream(str(path), compression="gzip" if file_format(path)[1] else None)
        reader = pacsv.open_csv(
            stream,
            read_options=_read_options(profile, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=profile.delimiter, newlines_in_values=True,
                invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        first_row = 1
        pending = pa.table({n: pa.array([], pa.string()) for n in names})
        for batch in reader:
            pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
            while pending.num_rows >= chunk_rows:
                yield Chunk(_strings(pending.slice(0, chunk_rows)), first_row, malformed[:])
                malformed.clear()
                first_row += chunk_rows
                pending = pending.slice(chunk_rows)
        if pending.num_rows or malformed:
            yield Chunk(_strings(pending), first_row, malformed[:])
    except (pa.ArrowException, UnicodeDecodeError, OSError, EOFError) as exc:
        raise SourceError(_csv_problem(path, profile, exc)) from None


# -- Parquet -------------------------------------------------------------------------------------
def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    try:
        pf = pq.ParquetFile(path)
        first_row = 1
        for batch in pf.iter_batches(batch_size=chunk_rows):
            yield Chunk(_strings(pa.Table.from_batches([batch])), first_row)
            first_row += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None
    except pl.exceptions.PolarsError as exc:   # a column type with no text form
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{path}: a column cannot be read as text ({why})") from None


# -- NDJSON --------------------------------------------------------------------------------------
# An object's keys may change from line to line: a key may first appear on line 5,000, or be
# absent from a whole chunk. The file's columns are every key of every line, in the order first
# seen (one pass over the file, remembered for the file as it is), and every chunk has all of
# them, absent ones empty: a late key is mapped like any other, and chunks line up.
_COLUMNS: dict[tuple[str, int, int], list[str]] = {}


def _ndjson_columns(path: Path, gz: bool) -> list[str]:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _COLUMNS:
        seen: dict[str, None] = {}
        for chunk in _ndjson_frames(path, gz, CHUNK_ROWS):
            seen.update(dict.fromkeys(chunk.frame.columns))
        if len(_COLUMNS) > 64:
            _COLUMNS.clear()
        _COLUMNS[key] = list(seen)
    return _COLUMNS[key]


def _ndjson_chunks(path: Path, gz: bool, chunk_rows: int) -> Iterator[Chunk]:
    columns = _ndjson_columns(path, gz)
    for chunk in _ndjson_frames(path, gz, chunk_rows):
        frame = chunk.frame.select(
            [pl.col(c) if c in chunk.frame.columns else pl.lit(None, pl.String).alias(c)
             for c in columns])
        yield Chunk(frame, chunk.first_row)


def _ndjson_frames(path: Path, gz: bool, chunk_rows: int) -> Iterator[Chunk]:
    """The file's objects in chunks, each with the keys its own lines have."""
    opener = gzip.open if gz else open
    first_row = 1
    try:
        with opener(path, "rb") as fh:
            bom = fh.read(3)   # a UTF-8 byte order mark is not part of the first object
            if bom != b"\xef\xbb\xbf":
                fh.seek(0)
            while True:
                lines = [line for line in (fh.readline() for _ in range(chunk_rows)) if line]
                body = [line for line in lines if line.strip()]
                if not body:
                    if len(lines) < chunk_rows:
                        return
                    continue
                yield Chunk(_ndjson_frame(path, body, first_row), first_row)
                first_row += len(body)
                if len(lines) < chunk_rows:
                    return
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: cannot be read ({exc})") from None


def _ndjson_frame(path: Path, lines: list[bytes], first_row: int) -> pl.DataFrame:
    try:
        frame = pl.read_ndjson(io.BytesIO(b"".join(
            line if line.endswith(b"\n") else line + b"\n" for line in lines)),
            infer_schema_length=None)
    except Exception:  # noqa: BLE001 - polars raises several types; find the bad line ourselves
        for offset, line in enumerate(lines):
            try:
                obj = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SourceError(
                    f"{path}: row {first_row + offset}: not a JSON object ({exc})") from None
            if not isinstance(obj, dict):
                raise SourceError(
                    f"{path}: row {first_row + offset}: expected a JSON object, "
                    f"found {type(obj).__name__}") from None
        raise SourceError(f"{path}: rows {first_row}..: not readable as NDJSON") from None
    return _strings(frame)


# -- everything as text --------------------------------------------------------------------------
def _strings(data: pa.Table | pl.DataFrame) -> pl.DataFrame:
    """Every column as text: timestamps as ISO 8601, nested values as JSON."""
    frame = pl.from_arrow(data) if isinstance(data, pa.Table) else data
    assert isinstance(frame, pl.DataFrame)
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.String:
            exprs.append(col)
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_zone is None:
                exprs.append(col.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f"))
            else:
                exprs.append(col.dt.convert_time_zone("UTC")
                             .dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
        elif isinstance(dtype, pl.Struct | pl.List | pl.Array):
            exprs.append(pl.struct(col.alias("v")).struct.json_encode()
                         .str.slice(5).str.head(-1).alias(name))
        elif dtype in (pl.Float32, pl.Float64):
            # A whole number written as a float (pandas turns integer columns with gaps into
            # floats: phone 13812345678.0) is read as the integer it holds.
            whole = col.is_finite() & (col == col.round(0)) & (col.abs() < 2**53)
            exprs.append(pl.when(whole).then(col.cast(pl.Int64).cast(pl.String))
                         .otherwise(col.cast(pl.String)).alias(name))
        elif isinstance(dtype, pl.Duration):   # seconds, as a duration column is written
            micros = col.dt.total_microseconds()
            exprs.append(pl.when(micros % 1_000_000 == 0)
                         .then((micros // 1_000_000).cast(pl.String))
                         .otherwise((micros / 1_000_000).cast(pl.String)).alias(name))
        else:
            exprs.append(col.cast(pl.String))
    return frame.select(exprs)
