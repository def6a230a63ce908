"""Stage one source file whole: read, normalize, validate, deduplicate, write the event store
parts.

Nothing here touches the graph. Sources without aggregates (persons, cases, waybills) are
staged this way, every file of a command first, then their graph is written from the staged
parts (see ``loaders.ingest``); sources with aggregates are split and staged a partition at a
time instead (``loaders.partitions``), with these same steps. A reload is counted here.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from loaders.accounting import Accounting
from loaders.dedup import classify
from loaders.errors import SourceError
from loaders.eventstore import EventStore
from loaders.prepare import prepare_chunk, resolve_mapping
from loaders.profile import Profile
from loaders.quarantine import QuarantineFile
from loaders.readers import CHUNK_ROWS, read_chunks, source_columns
from loaders.spec import Source


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (SourceError when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def load_id_for(source: str, region: str, file_sha: str, profile_sha: str) -> str:
    """The deterministic id of loading these bytes of ``source`` for ``region`` and profile."""
    text = "\x1f".join((source, region, file_sha, profile_sha))
    return f"{source}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


@dataclass
class Staged:
    """One file staged into the event store (or, for a reload, only accounted)."""

    load_id: str
    path: Path
    sha256: str
    accounting: Accounting
    quarantine_file: Path | None
    reload: bool
    parts: int
    regions: set[str]
    seconds: float = 0.0  # how long staging took


def stage_file(store: EventStore, home: Path, source: Source, path: Path, profile: Profile,
               region: str, load_id: str, sha256: str, visible: set[str], reload: bool,
               on_rows: Callable[[int], None] = lambda n: None,
               chunk_rows: int = CHUNK_ROWS) -> Staged:
    """Stage ``path`` as load ``load_id``; ``visible`` are the loads its keys are checked against.

    A reload (the load is already complete) only counts: its records are all duplicates of
    themselves, and nothing is written but the quarantine file, identical to the first one.
    """
    began = time.perf_counter()
    quarantine = QuarantineFile(home, load_id)
    acc = Accounting()
    regions: set[str] = set()
    seq = 0
    against = visible | {load_id}
    # A chunk's event-store parts are written by a second thread while this one reads and
    # normalizes the next chunk; they are on disk before the next deduplication reads them.
    writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventstore")
    pending: Future | None = None
    try:
        mapping = resolve_mapping(source, source_columns(path, profile), profile, path)
        for chunk in read_chunks(path, profile, chunk_rows):
            rows = chunk.frame.height + len(chunk.malformed)
            prep = prepare_chunk(source, chunk, mapping, profile, region)
            acc.read += rows
            quarantine.add(prep.quarantine)
            acc.quarantined += prep.quarantine.height
            acc.quarantined_by_reason.update(prep.quarantine["_reason"].to_list())
            if prep.records.height:
                regions.update(prep.records["region"].unique().to_list())
                if pending is not None:
                    pending.result()
                known = known_keys(store, source, prep.records, against)
                split = classify(prep.records, source.key, known)
                acc.loaded += split.new.height
                acc.duplicates += split.dups.height
                if not reload:
                    pending = writes.submit(write_parts, store, source, load_id, seq,
                                            split.new, split.dups)
                seq += 1
            on_rows(rows)
        if pending is not None:
            pending.result()
        qfile = quarantine.finish()
    except BaseException:
        writes.shutdown(wait=True)  # no part may appear after the discard below
        quarantine.abandon()
        if not reload:
            store.discard(source.name, load_id)
        raise
    finally:
        writes.shutdown(wait=True)
    return Staged(load_id, path, sha256, acc, qfile, reload, seq, regions,
                  time.perf_counter() - began)


def known_keys(store: EventStore, source: Source, records: pl.DataFrame,
               loads: set[str]) -> pl.DataFrame:
    """(key, region) rows already held for the chunk's keys, read from the store lazily."""
    key = list(source.key)
    scan = store.scan_key_regions(source.name, loads)
    t = source.time_column
    if t is not None and t in key:
        # Parts are sorted by time: Parquet statistics skip the row groups outside the chunk.
        lo, hi = records[t].min(), records[t].max()
        scan = scan.filter(pl.col(t).is_between(lo, hi))
    return scan.join(records.select(key).unique().lazy(), on=key, how="semi",
                     nulls_equal=True).collect()


def write_parts(store: EventStore, source: Source, load_id: str, seq: int,
                new: pl.DataFrame, dups: pl.DataFrame) -> None:
    """A chunk's (or partition's) new records and duplicates as event-store parts ``seq``."""
    schema = source.schema()
    if new.height:
        frame = new.with_columns(load_id=pl.lit(load_id)).select(list(schema))
        if source.time_column is not None:
            frame = frame.sort(source.time_column, maintain_order=True)
        store.write(source.name, "parts", load_id, seq, frame)
    if dups.height:
        cols = list(EventStore.dup_schema(source.name))
        store.write(source.name, "dups", load_id, seq,
                    dups.with_columns(load_id=pl.lit(load_id)).select(cols))
