"""The ingest run behind `fusion load`: stage source files into the event store, write the
graph, record the load.

A command runs in three steps, and the order is what makes it safe:

1. **Stage** every file (``loaders.pipeline``): read, normalize, validate, deduplicate against
   complete loads and the files staged before it; write quarantine and event-store parts. A
   file that cannot be read aborts the command here, and its staged parts are removed: nothing
   was written to the graph.
2. **Write the graph** per load: a LoadRecord with status ``running``, then nodes and plain
   relationships from the load's new records, region widenings from its cross-region
   duplicates, and absolute aggregates (CALLED, SEEN_AT) recomputed from the event store for
   every pair the load touched.
3. **Commit**: the event-store manifest, then the LoadRecord with status ``complete`` and the
   accounting.

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
from loaders.errors import ProfileError, SourceError
from loaders.eventstore import EventStore
from loaders.graphwriter import GraphWriter
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
    # Where the time went: staging (read ... event store) and writing the graph, in seconds.
    stage_seconds: float = 0.0
    graph_seconds: float = 0.0

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
        staged = _stage_all(driver, database, home, store, source, files, profile, profile_sha,
                            region, progress)
        results = []
        for plan, visible, status in staged:
            result = LoadResult(plan.load_id, kind, region, plan.path.resolve(), plan.sha256,
                                profile_path.resolve() if profile_path else None, profile_sha,
                                plan.accounting, plan.quarantine_file, status,
                                regions=sorted(plan.regions), stage_seconds=plan.seconds)
            if not plan.reload:
                began = time.perf_counter()
                _write_graph(driver, database, store, source, plan, visible, result, progress,
                             after_batch)
                result.graph_seconds = time.perf_counter() - began
            result.finished_at = datetime.now(UTC)
            results.append(result)
    return LoadSummary(kind, region, profile_path, results)


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
               progress: Progress) -> list[tuple[Staged, set[str], str]]:
    """Stage every file; on an unreadable one, undo the others and raise UnreadableFile."""
    kind = source.name
    complete = store.complete_loads(kind)
    staged: list[tuple[Staged, set[str], str]] = []
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
            visible = complete | this_command
            progress.phase(f"Reading {path.name}", None)
            plan = stage_file(store, home, source, path, profile, region, load_id, sha,
                              visible, reload=status == "reloaded", on_rows=progress.advance)
            staged.append((plan, visible, status))
            if not plan.reload:
                this_command.add(load_id)
    except SourceError as exc:
        for plan, _visible, _outcome in staged:
            if not plan.reload:
                store.discard(kind, plan.load_id)
                if plan.quarantine_file:
                    plan.quarantine_file.unlink(missing_ok=True)
        raise UnreadableFile(str(exc)) from None
    return staged


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
        result.finished_at = datetime.now(UTC)
        store.commit(kind, load_id, _manifest(result))
        writer.run(RECORD_LOAD, [_record(result, "complete")])


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
