"""Two-pass staging for the sources with aggregates (calls, sightings): what lets the graph
phase start long before the whole file is staged.

CALLED and SEEN_AT are final only once every event of their pair is known, and a source file
comes in no useful order. So the file is split first, then staged one partition at a time:

1. **Split** (:func:`split_file`): read the whole file, which proves that it decodes (encoding,
   delimiter, columns; this is where an unreadable file fails, before anything is written);
   check and normalize each row's start-node columns (the source's ``partition_by``: the
   caller, the subject) exactly as staging will, and append the row, as read, to partition
   ``hash(start) % P`` under ``events/<kind>/spill/<load_id>``. Unsplittable CSV lines are
   quarantined here; every other row waits for its partition.
2. **Stage a partition** (:func:`stage_partition`): its rows, in file order, go through the very
   steps a whole file goes through (``loaders.prepare``, ``loaders.dedup``, event-store parts
   with the partition's number as their sequence number).

Every record of one start node lands in one partition, and with it every natural key (which
holds the start columns) and every aggregate pair. So a partition is deduplicated alone
(against the other visible loads), its pairs' events are complete once it is staged, and no
other partition of the load writes a relationship from its start nodes: the graph of
partition ``p`` is written while partition ``p + 1`` stages (``loaders.ingest``).

Memory follows one partition (``P`` grows with the file: about :data:`PART_BYTES` of source
each) and one chunk of the split, not the file.
"""

from __future__ import annotations

import math
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import polars as pl

from loaders.accounting import Accounting
from loaders.dedup import Classified, classify
from loaders.eventstore import EventStore
from loaders.pipeline import known_keys, write_parts
from loaders.prepare import Mapping, canonical_frame, malformed_rows, prepare_chunk, resolve_mapping
from loaders.private import private_dir, private_file
from loaders.profile import Profile
from loaders.quarantine import ORDER, QuarantineFile
from loaders.readers import CHUNK_ROWS, Chunk, read_chunks, source_columns
from loaders.spec import Source

# Source bytes per partition: ~95k call records. Small enough that staging one partition hides
# behind writing the one before; large enough that a partition's fixed costs stay small.
PART_BYTES = 8 << 20
MAX_PARTS = 512
# gzip shrinks these text files about five times.
GZIP_RATIO = 5
# Rows read at a time by the split (the readers' chunk).
SPLIT_CHUNK_ROWS = CHUNK_ROWS
# Spilled rows carry their 1-based row number in this column (no source column is named so).
ROW = "\x00row"
PART = "\x00part"
T = TypeVar("T")
_END = object()  # the end of a read-ahead


@dataclass
class Split:
    """One file split into partitions (pass 1); staged a partition at a time after."""

    load_id: str
    path: Path
    sha256: str
    mapping: Mapping
    parts: int
    spill: Path
    quarantine: QuarantineFile
    accounting: Accounting
    firsts: list[int] = field(default_factory=list)  # first row of each chunk of the split
    regions: set[str] = field(default_factory=set)
    seconds: float = 0.0  # split, then staging of the partitions (busy time, not wall)
    split_seconds: float = 0.0  # the split alone


def partition_count(path: Path) -> int:
    """Partitions for a file: one per :data:`PART_BYTES` of (uncompressed) source."""
    size = path.stat().st_size * (GZIP_RATIO if path.suffix.lower() == ".gz" else 1)
    return max(1, min(MAX_PARTS, math.ceil(size / PART_BYTES)))


def split_file(store: EventStore, home: Path, source: Source, path: Path, profile: Profile,
               load_id: str, sha256: str, on_rows: Callable[[int], None] = lambda n: None,
               chunk_rows: int | None = None) -> Split:
    """Pass 1: read all of ``path`` and spill its rows by partition; SourceError if unreadable.

    On any failure the spill and the staged quarantine rows are removed.
    """
    began = time.perf_counter()
    spill = store.spill_dir(source.name, load_id)
    shutil.rmtree(spill, ignore_errors=True)
    private_dir(spill, store.root.parent)
    quarantine = QuarantineFile(home, load_id)
    # A chunk's partitions are written by a second thread while this one reads the next.
    writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spill")
    pending: Future | None = None
    try:
        mapping = resolve_mapping(source, source_columns(path, profile), profile, path)
        split = Split(load_id, path, sha256, mapping, partition_count(path), spill, quarantine,
                      Accounting())
        chunks = read_ahead(read_chunks(path, profile, chunk_rows or SPLIT_CHUNK_ROWS))
        for seq, chunk in enumerate(chunks):
            tagged = _split_chunk(split, seq, chunk, source, profile)
            if pending is not None:
                pending.result()
            pending = writes.submit(_spill, split.spill, seq, tagged)
            rows = chunk.frame.height + len(chunk.malformed)
            split.accounting.read += rows
            on_rows(rows)
        if pending is not None:
            pending.result()
    except BaseException:
        writes.shutdown(wait=True)  # no spill file may appear after the removal below
        quarantine.abandon()
        shutil.rmtree(spill, ignore_errors=True)
        raise
    finally:
        writes.shutdown(wait=True)
    split.seconds = split.split_seconds = time.perf_counter() - began
    return split


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items``, the next one read by a second thread while the caller works on this one.

    The split is the one step nothing overlaps (the file must be read whole before anything is
    written), so it uses both cores: pyarrow parses the next chunk while this thread checks and
    hashes the current one. An error of the reader is raised here, in the caller's thread.
    """
    ahead: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                ahead.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            put(_END, exc)

    reader = threading.Thread(target=produce, name="read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item, error = ahead.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()


def _split_chunk(split: Split, seq: int, chunk: Chunk, source: Source,
                 profile: Profile) -> pl.DataFrame:
    """Quarantine the chunk's unsplittable lines; its rows with their numbers and partitions."""
    split.firsts.append(chunk.first_row)
    if chunk.malformed:
        bad = malformed_rows(chunk, chunk.frame.columns)
        split.quarantine.add(bad.with_columns(pl.lit(2 * seq + 1, pl.Int64).alias(ORDER)))
        split.accounting.quarantined += bad.height
        split.accounting.quarantined_by_reason.update(bad["_reason"].to_list())
    raw = chunk.frame
    rows = pl.int_range(chunk.first_row, chunk.first_row + raw.height, dtype=pl.Int64,
                        eager=True)
    part = partition_of(source, raw, split.mapping, profile, split.parts)
    return raw.with_columns(rows.alias(ROW), part.alias(PART))


def _spill(spill: Path, seq: int, tagged: pl.DataFrame) -> None:
    """Append a chunk's rows to their partitions' spill (one file per chunk and partition)."""
    if not tagged.height:
        return
    for (p,), frame in tagged.partition_by(PART, as_dict=True, maintain_order=True).items():
        target = spill / f"{p:04d}.{seq:05d}.arrow"
        frame.drop(PART).write_ipc(target, compression="uncompressed")
        private_file(target)


def partition_of(source: Source, raw: pl.DataFrame, mapping: Mapping, profile: Profile,
                 parts: int) -> pl.Series:
    """Each row's partition: a hash of its start-node columns, checked as staging checks them.

    A row whose start columns fail their check goes wherever its nulls hash: staging will
    quarantine it there all the same. Partition 0 gets half the share of the others: nothing
    is written until it is staged (the other partitions stage while the one before them is
    written), so a smaller first partition starts the graph writes sooner.
    """
    if parts == 1 or not source.partition_by:
        return pl.Series("part", [0] * raw.height, pl.UInt32)
    # Only the start columns (their checks read no other column).
    frame = canonical_frame(source, raw, mapping, profile, only=source.partition_by)
    columns = {c.name: c for c in source.columns}
    values = [columns[n].check(frame[n], frame, profile).value.alias(n)
              for n in source.partition_by]
    # 2P - 1 equal slots: slot 0 is partition 0, slots 2p - 1 and 2p partition p.
    slots = 2 * parts - 1
    return (pl.DataFrame(values).select((pl.struct(pl.all()).hash(seed=0) % slots + 1) // 2)
            .to_series().cast(pl.UInt32).alias("part"))


def stage_partition(store: EventStore, source: Source, split: Split, part: int,
                    profile: Profile, region: str, visible: set[str]) -> Classified | None:
    """Pass 2 for one partition: prepare, quarantine, deduplicate against ``visible`` loads,
    write its event-store parts (sequence number ``part``); None when it holds no rows."""
    began = time.perf_counter()
    files = sorted(split.spill.glob(f"{part:04d}.*.arrow"))
    if not files:
        return None
    raw = pl.concat([pl.read_ipc(f) for f in files])
    chunk = Chunk(raw.drop(ROW), 0, rows=raw[ROW])
    prep = prepare_chunk(source, chunk, split.mapping, profile, region)
    _quarantine(split, prep.quarantine)
    records = prep.records
    split.regions.update(records["region"].unique().to_list())
    known = known_keys(store, source, records, visible)
    result = classify(records, source.key, known)
    split.accounting.loaded += result.new.height
    split.accounting.duplicates += result.dups.height
    write_parts(store, source, split.load_id, part, result.new, result.dups)
    for f in files:
        f.unlink()
    split.seconds += time.perf_counter() - began
    return result


def _quarantine(split: Split, rejected: pl.DataFrame) -> None:
    """Stage a partition's rejected rows with their place in the file (chunk, then row)."""
    if not rejected.height:
        return
    chunk = pl.Series(split.firsts).search_sorted(rejected["_row"], side="right") - 1
    split.quarantine.add(rejected.with_columns((chunk.cast(pl.Int64) * 2).alias(ORDER)))
    split.accounting.quarantined += rejected.height
    split.accounting.quarantined_by_reason.update(rejected["_reason"].to_list())


def finish(split: Split) -> Path | None:
    """After the last partition: the quarantine CSV (or None), and the spill removed."""
    shutil.rmtree(split.spill, ignore_errors=True)
    return split.quarantine.finish()


def abandon(store: EventStore, source: Source, split: Split) -> None:
    """Undo a split that will not be staged (another file of the command failed)."""
    split.quarantine.abandon()
    store.discard(source.name, split.load_id)
