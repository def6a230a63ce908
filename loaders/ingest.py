"""The ingest run behind `fusion load`: stage source files into the event store, write the
graph, record the load.

A command runs in three steps, and the order is what makes it safe:

1. **Read every file whole before anything is written.** Sources with aggregates (calls,
   sightings) are split into partitions by start node (``loaders.partitions``: reading the
   whole file is the proof that it decodes); the others are staged whole (``loaders.pipeline``:
   read, normalize, validate, deduplicate, event-store parts). A file that cannot be read
   aborts the command here, and what was split or staged is removed: nothing was written.
2. **Write the graph** per load: a LoadRecord with status ``running``, then the load's nodes,
   region widenings from its cross-region duplicates, and absolute aggregates (CALLED,
   SEEN_AT) recomputed from the event store for every pair the load touched. A split load
   stages partition ``p + 1`` while the writer thread sends partition ``p``'s nodes and
   aggregates (each partition owns its start nodes and pairs), so staging hides behind the
   graph writes; node properties go last, as the whole file sets them (``loaders.ledger``).
3. **Commit**: the event-store manifest, then the LoadRecord with status ``complete`` and the
   accounting. Here a load's delta is known whole: its new events are the event-store parts
   of its id (``EventStore.scan_records(kind, [load_id])``), the pairs it touched those parts'
   pairs plus its ``new_region`` duplicates' (see :func:`_summary`).

A load's id is derived from (kind, region, file sha256, profile sha256). Rerunning a complete
load is a reload: every row counts as a duplicate (or quarantined) and nothing is written.
Rerunning an incomplete one (killed anywhere, Neo4j restarted) discards its parts and redoes
it; since every graph write is a MERGE with set-union regions or absolute values, the result
is the graph and accounting of a clean load.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from neo4j import Driver

from fusion.errors import BadInput, UnreadableFile
from fusion.progress import NoProgress, Progress
from loaders.accounting import Accounting
from loaders.dedup import Classified
from loaders.errors import ProfileError, SourceError
from loaders.eventstore import EventStore
from loaders.graphwriter import GraphWriter
from loaders.ledger import NodeLedger, tag_rows, untag
from loaders.partitions import Split, abandon, finish, split_file, stage_partition
from loaders.pipeline import Staged, file_sha256, load_id_for, stage_file
from loaders.private import FILE_MODE, private_dir
from loaders.profile import DEFAULT_PROFILE, Profile, load_profile
from loaders.sources import source_for
from loaders.spec import Aggregate, GraphRows, Source
from queries.load import LOAD_STATUS, RECORD_LOAD


@dataclass
class LoadResult:
    """One file's load: its identity, accounting and outcome."""

    load_id: str
    kind: str
    region: str
    file: Path
    sha256: str
    profile: Path | None
    profile_sha256: str
    accounting: Accounting
    quarantine_file: Path | None
    status: str  # loaded | resumed | reloaded
    regions: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    # Where the time went, in seconds: staging (read ... event store; busy time, also when it
    # ran beside the graph writes), the graph phase (wall, LoadRecord running to complete),
    # and within it Neo4j's share (write batches and the reads of what exists).
    stage_seconds: float = 0.0
    graph_seconds: float = 0.0
    neo4j_seconds: float = 0.0
    # Finer: the split alone (split sources), and Neo4j's share by write phase and reads.
    split_seconds: float = 0.0
    neo4j_phases: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"load_id": self.load_id, "file": str(self.file), "sha256": self.sha256,
                "status": self.status, **self.accounting.as_dict(),
                "quarantine_file": str(self.quarantine_file) if self.quarantine_file else None}


@dataclass
class LoadSummary:
    """A command's loads and their summed accounting."""

    kind: str
    region: str
    profile: Path | None
    loads: list[LoadResult]

    @property
    def total(self) -> Accounting:
        total = Accounting()
        for load in self.loads:
            total.add(load.accounting)
        return total

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "region": self.region,
                "profile": str(self.profile) if self.profile else None,
                **self.total.as_dict(),
                "quarantine_files": [str(x.quarantine_file) for x in self.loads
                                     if x.quarantine_file],
                "loads": [x.as_dict() for x in self.loads]}


def load_files(driver: Driver, database: str, home: Path, kind: str, files: Sequence[Path],
               region: str, profile_path: Path | None = None,
               progress: Progress | None = None,
               after_batch: Callable[[int], None] | None = None) -> LoadSummary:
    """Load ``files`` of source ``kind`` for ``region``; see the module docstring.

    ``after_batch`` goes to each load's :class:`GraphWriter` (called after every committed
    batch with the load's batch count).
    """
    progress = progress or NoProgress()
    source = _source(kind)
    region = region.strip()
    if not region:
        raise BadInput("--region must name a region (e.g. --region ZJ-HZ)")
    if not files:
        raise BadInput("name at least one file to load")
    try:
        profile, profile_sha = (load_profile(profile_path) if profile_path is not None
                                else (DEFAULT_PROFILE, hashlib.sha256(b"").hexdigest()))
    except ProfileError as exc:
        raise BadInput(str(exc)) from None
    store = EventStore(home)
    with _exclusive(store):
        planned = _stage_all(driver, database, home, store, source, files, profile, profile_sha,
                             region, progress)
        results = [_load_one(driver, database, home, store, source, entry, profile, region,
                             profile_path, profile_sha, progress, after_batch)
                   for entry in planned]
    return LoadSummary(kind, region, profile_path, results)


@dataclass
class _Planned:
    """One file after step 1: staged whole, split, or (a reload of a split source) to count."""

    path: Path
    sha256: str
    load_id: str
    status: str
    visible: set[str]
    plan: Staged | Split | None


def _load_one(driver: Driver, database: str, home: Path, store: EventStore, source: Source,
              entry: _Planned, profile: Profile, region: str, profile_path: Path | None,
              profile_sha: str, progress: Progress,
              after_batch: Callable[[int], None] | None) -> LoadResult:
    """Steps 2 and 3 for one file (a reload only counts its rows)."""
    plan = entry.plan
    if plan is None:  # a reload: counted against the loads visible at its turn
        progress.phase(f"Reading {entry.path.name}", None)
        plan = stage_file(store, home, source, entry.path, profile, region, entry.load_id,
                          entry.sha256, entry.visible, reload=True, on_rows=progress.advance)
    quarantine = plan.quarantine_file if isinstance(plan, Staged) else None
    result = LoadResult(entry.load_id, source.name, region, entry.path.resolve(), entry.sha256,
                        profile_path.resolve() if profile_path else None, profile_sha,
                        plan.accounting, quarantine, entry.status,
                        regions=sorted(plan.regions), stage_seconds=plan.seconds)
    began = time.perf_counter()
    if isinstance(plan, Split):
        _write_split(driver, database, store, source, plan, entry.visible, result, profile,
                     region, progress, after_batch)
        result.stage_seconds, result.split_seconds = plan.seconds, plan.split_seconds
    elif not plan.reload:
        _write_graph(driver, database, store, source, plan, entry.visible, result, progress,
                     after_batch)
    if isinstance(plan, Split) or not plan.reload:
        result.graph_seconds = time.perf_counter() - began
    result.finished_at = datetime.now(UTC)
    return result


def _source(kind: str) -> Source:
    """The source named ``kind``; an unknown one is the caller's mistake (BadInput)."""
    try:
        return source_for(kind)
    except KeyError as exc:
        raise BadInput(exc.args[0]) from None


@contextmanager
def _exclusive(store: EventStore) -> Iterator[None]:
    """One load at a time per FUSION_HOME (the lock dies with the process, even on kill -9)."""
    private_dir(store.root, store.root.parent)
    fd = os.open(store.root / ".lock", os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # a lock file from before private modes
    with os.fdopen(fd, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInput(f"another load is running on {store.root}; wait for it") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stage_all(driver: Driver, database: str, home: Path, store: EventStore, source: Source,
               files: Sequence[Path], profile: Profile, profile_sha: str, region: str,
               progress: Progress) -> list[_Planned]:
    """Step 1 for every file; on an unreadable one, undo the others and raise UnreadableFile."""
    kind = source.name
    complete = store.complete_loads(kind)
    planned: list[_Planned] = []
    this_command: set[str] = set()
    try:
        for path in files:
            path = Path(path)
            if not path.is_file():
                raise SourceError(f"{path}: no such file")
            sha = file_sha256(path)
            load_id = load_id_for(kind, region, sha, profile_sha)
            status = _status(driver, database, store, kind, load_id, complete, this_command)
            if status != "reloaded":
                complete.discard(load_id)
                store.discard(kind, load_id)
            entry = _Planned(path, sha, load_id, status, complete | this_command, None)
            planned.append(entry)
            entry.plan = _first_pass(store, home, source, entry, profile, region, progress)
            if status != "reloaded":
                this_command.add(load_id)
    except SourceError as exc:
        for entry in planned:
            _undo(store, source, entry.plan)
        raise UnreadableFile(str(exc)) from None
    return planned


def _first_pass(store: EventStore, home: Path, source: Source, entry: _Planned,
                profile: Profile, region: str, progress: Progress) -> Staged | Split | None:
    """Split a file of a source with aggregates, stage another whole; a split source's reload
    waits for its turn (the files before it in the command are staged only then)."""
    reload = entry.status == "reloaded"
    if source.partition_by and reload:
        return None
    progress.phase(f"Reading {entry.path.name}", None)
    if source.partition_by:
        return split_file(store, home, source, entry.path, profile, entry.load_id,
                          entry.sha256, on_rows=progress.advance)
    return stage_file(store, home, source, entry.path, profile, region, entry.load_id,
                      entry.sha256, entry.visible, reload=reload, on_rows=progress.advance)


def _undo(store: EventStore, source: Source, plan: Staged | Split | None) -> None:
    """Remove what step 1 left of a file (the command failed on another file)."""
    if isinstance(plan, Split):
        abandon(store, source, plan)
    elif plan is not None and not plan.reload:
        store.discard(source.name, plan.load_id)
        if plan.quarantine_file:
            plan.quarantine_file.unlink(missing_ok=True)


def _status(driver: Driver, database: str, store: EventStore, kind: str, load_id: str,
            complete: set[str], this_command: set[str]) -> str:
    """``reloaded`` (complete in store and graph), ``resumed`` (partial) or ``loaded`` (new)."""
    if load_id in this_command:
        return "reloaded"
    # Quiet: on a fresh graph the planner warns that `status` is not a property key yet.
    with driver.session(database=database, default_access_mode="READ",
                        notifications_min_severity="OFF") as session:
        record = session.run(LOAD_STATUS, id=load_id).single()
    graph_status = record["status"] if record else None
    if load_id in complete and graph_status == "complete":
        return "reloaded"
    leftovers = any(next(store.dir(kind, w).glob(f"{load_id}.*"), None) is not None
                    for w in ("parts", "dups") if store.dir(kind, w).is_dir())
    leftovers = leftovers or store.spill_dir(kind, load_id).is_dir()
    return "resumed" if graph_status is not None or leftovers else "loaded"


def _write_graph(driver: Driver, database: str, store: EventStore, source: Source,
                 plan: Staged, visible: set[str], result: LoadResult, progress: Progress,
                 after_batch: Callable[[int], None] | None) -> None:
    """One load's graph: LoadRecord running, elements, widenings, aggregates, commit."""
    kind, load_id = source.name, plan.load_id
    with GraphWriter(driver, database, on_rows=progress.advance,
                     after_batch=after_batch) as writer:
        writer.run(RECORD_LOAD, [_record(result, "running")])
        loads = visible | {load_id}
        progress.phase(f"Writing graph ({plan.path.name})", None)
        writer.write(_load_graph(store, source, load_id))
        # While the writer thread sends those batches, this thread reads the event store.
        key = list(source.key)
        for part in store.files(kind, "dups", [load_id]):
            widen = pl.read_parquet(part).filter(pl.col("new_region")).select(*key, "region")
            if widen.height:
                # The element set of the record that holds the key, with the duplicate's region.
                stored = (store.scan_records(kind, loads).drop("region")
                          .join(widen.lazy(), on=key, how="inner", nulls_equal=True).collect())
                writer.write(source.graph(stored), with_props=False, create=False)
        for aggregate in source.aggregates:
            summary = _summary(store, kind, load_id, loads, aggregate)
            for triple in aggregate.triples:
                frame = summary.filter((pl.col("from_label") == triple[0]) &
                                       (pl.col("to_label") == triple[2]))
                if frame.height:
                    writer.aggregates(triple, frame)
        writer.flush()
        _commit(store, writer, result)


# Batches a split load may have queued beyond the one being written: about a partition's
# worth, so that the next partition stages while they are written.
SPLIT_IN_FLIGHT = 6


def _write_split(driver: Driver, database: str, store: EventStore, source: Source,
                 split: Split, visible: set[str], result: LoadResult, profile: Profile,
                 region: str, progress: Progress,
                 after_batch: Callable[[int], None] | None) -> None:
    """A split load: stage each partition and send its graph while the next one stages."""
    with GraphWriter(driver, database, on_rows=progress.advance, after_batch=after_batch,
                     in_flight=SPLIT_IN_FLIGHT) as writer:
        writer.run(RECORD_LOAD, [_record(result, "running")])
        progress.phase(f"Writing graph ({split.path.name})", None)
        ledger = NodeLedger()
        for part in range(split.parts):
            staged = stage_partition(store, source, split, part, profile, region, visible)
            if staged is not None:
                _partition_graph(writer, store, source, split.load_id, part, staged,
                                 visible, ledger)
        result.quarantine_file = finish(split)
        result.regions = sorted(split.regions)
        ledger.finish(writer)
        writer.flush()
        _commit(store, writer, result)


def _partition_graph(writer: GraphWriter, store: EventStore, source: Source, load_id: str,
                     part: int, staged: Classified, visible: set[str],
                     ledger: NodeLedger) -> None:
    """One staged partition's nodes, widenings and aggregates, handed to the writer thread."""
    graph = source.graph(tag_rows(staged.new))
    if graph.rels:
        raise TypeError(f"{source.name}: a source staged in partitions makes nodes only; "
                        "its relationships are aggregates")
    for label, frames in graph.nodes.items():
        ledger.send(writer, label, untag(pl.concat(frames, how="diagonal")))
    key = list(source.key)
    loads = visible | {load_id}
    widen = staged.dups.filter(pl.col("new_region")).select(*key, "region")
    if widen.height:
        stored = (store.scan_records(source.name, loads, (load_id, part)).drop("region")
                  .join(widen.lazy(), on=key, how="inner", nulls_equal=True).collect())
        for label, frames in source.graph(stored).nodes.items():
            ledger.send(writer, label, pl.concat(frames, how="diagonal"))
    for aggregate in source.aggregates:
        pair = list(aggregate.pair)
        touched = pl.concat([staged.new.select(pair), widen.select(pair)]).unique()
        events = store.scan_events(source.name, loads, only=touched.lazy() if visible else None,
                                   part=(load_id, part))
        summary = aggregate.summarize(events).collect()
        for triple in aggregate.triples:
            frame = summary.filter((pl.col("from_label") == triple[0]) &
                                   (pl.col("to_label") == triple[2]))
            if frame.height:
                writer.aggregates(triple, frame, wait=False)


def _commit(store: EventStore, writer: GraphWriter, result: LoadResult) -> None:
    """Step 3: the manifest, then the LoadRecord ``complete`` (a load's delta is final here)."""
    result.finished_at = datetime.now(UTC)
    store.commit(result.kind, result.load_id, _manifest(result))
    writer.run(RECORD_LOAD, [_record(result, "complete")])
    result.neo4j_seconds = writer.write_seconds + writer.read_seconds
    result.neo4j_phases = {**writer.phase_seconds, "reads": writer.read_seconds}


def _load_graph(store: EventStore, source: Source, load_id: str) -> GraphRows:
    """The whole load's graph rows, deduplicated part by part (memory follows the distinct
    elements, not the records), so that each node and relationship is written once."""
    merged = GraphRows()
    for part in store.files(source.name, "parts", [load_id]):
        graph = source.graph(pl.read_parquet(part))
        for label, frames in graph.nodes.items():
            merged.nodes.setdefault(label, []).append(_distinct(frames))
        for triple, frames in graph.rels.items():
            merged.rels.setdefault(triple, []).append(_distinct(frames))
    return merged


def _summary(store: EventStore, kind: str, load_id: str, loads: set[str],
             aggregate: Aggregate) -> pl.DataFrame:
    """The aggregate of every pair the load touched, over all visible loads' events."""
    if loads == {load_id}:  # nothing else visible: every event is the load's own
        return aggregate.summarize(store.scan_events(kind, loads)).collect(engine="streaming")
    pair = list(aggregate.pair)
    touched = pl.concat([
        store.scan_records(kind, [load_id]).select(pair),
        store.scan_dups(kind, [load_id]).filter(pl.col("new_region")).select(pair),
    ]).unique()
    events = store.scan_events(kind, loads, only=touched)
    return aggregate.summarize(events).collect(engine="streaming")


def _distinct(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Rows of one part without exact repeats (the last of equal rows kept, order preserved)."""
    return pl.concat(frames, how="diagonal").unique(keep="last", maintain_order=True)


def _manifest(result: LoadResult) -> dict[str, object]:
    return {"id": result.load_id, "kind": result.kind, "region": result.region,
            "regions": result.regions, "file": str(result.file), "sha256": result.sha256,
            "profile": str(result.profile) if result.profile else None,
            "profile_sha256": result.profile_sha256, **result.accounting.as_dict(),
            "quarantine_file": str(result.quarantine_file) if result.quarantine_file else None,
            "started_at": result.started_at.isoformat(),
            "finished_at": result.finished_at.isoformat() if result.finished_at else None}


def _record(result: LoadResult, status: str) -> dict[str, object]:
    """Properties of the LoadRecord node (maps are not property values: reasons as JSON)."""
    acc = result.accounting
    return {"id": result.load_id, "props": {
        "id": result.load_id, "status": status, "kind": result.kind, "region": result.region,
        "regions": result.regions or [result.region], "file": str(result.file),
        "file_name": result.file.name, "sha256": result.sha256,
        "profile": str(result.profile) if result.profile else None,
        "profile_sha256": result.profile_sha256, "read": acc.read, "loaded": acc.loaded,
        "quarantined": acc.quarantined, "duplicates": acc.duplicates,
        "quarantined_by_reason": json.dumps(acc.as_dict()["quarantined_by_reason"]),
        "quarantine_file": str(result.quarantine_file) if result.quarantine_file else None,
        "started_at": result.started_at, "finished_at": result.finished_at,
        "label": f"{result.kind} {result.file.name} ({result.region})",
    }}
