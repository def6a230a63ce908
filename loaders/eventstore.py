"""The event store: every loaded record, normalized, in Parquet beside the graph.

The graph keeps one node per entity and one aggregate relationship per pair; the individual
records (each call, parcel, sighting, registry and case row) live here, where timelines and
co-travel read millions of them in seconds with polars. Layout under ``FUSION_HOME/events``::

    <source>/parts/<load_id>.<seq>.parquet  records a load added (first holder of a natural key):
                                            canonical columns, region, load_id, row, source (JSON)
    <source>/dups/<load_id>.<seq>.parquet   one row per duplicate a load met: natural key, region,
                                            load_id, row, new_region (it widened ``regions``)
    <source>/loads/<load_id>.json           the load's manifest, written last: it is complete
    <source>/spill/<load_id>/               a running load's rows split by partition (Arrow IPC),
                                            removed when it ends (``loaders.partitions``)

Every file is written atomically (temporary name, fsync, rename). A load's files count only
once its manifest exists, so a load killed at any point is invisible, and rerunning it
discards its files and starts over. A record's ``regions`` is the sorted union of its own
region and the regions of every duplicate of it (:func:`scan_events`).

Readers use :func:`scan_events` (or :class:`EventStore` for finer control)::

    events = scan_events(home, "sightings")        # polars LazyFrame, nothing read yet
    events.filter(pl.col("seen_at") >= since).select("subject", "sensor_id", "seen_at", "regions")
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from loaders.private import private_dir, private_file
from loaders.sources import source_for
from queries.model import SOURCE_KINDS

KINDS = SOURCE_KINDS
Part = tuple[str, int]  # (load id, sequence number) of one part file


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EventStore:
    """The Parquet record store under ``home/events``."""

    def __init__(self, home: Path):
        self.root = Path(home) / "events"

    def dir(self, source: str, what: str) -> Path:
        return self.root / source / what

    # -- visibility ---------------------------------------------------------------------------
    def complete_loads(self, source: str) -> set[str]:
        """Ids of the loads of ``source`` whose manifest exists."""
        d = self.dir(source, "loads")
        return {p.stem for p in d.glob("*.json")} if d.is_dir() else set()

    def manifest(self, source: str, load_id: str) -> dict | None:
        """A complete load's manifest, or None."""
        path = self.dir(source, "loads") / f"{load_id}.json"
        return json.loads(path.read_text("utf-8")) if path.is_file() else None

    def files(self, source: str, what: str, loads: Iterable[str],
              part: Part | None = None) -> list[Path]:
        """Part files (``parts`` or ``dups``) of the given loads, in a stable order.

        ``part`` (load id, sequence number) narrows that one load to one of its parts.
        """
        d = self.dir(source, what)
        if not d.is_dir():
            return []
        wanted = set(loads)
        own = f"{part[0]}.{part[1]:05d}.parquet" if part is not None else None

        def keep(p: Path) -> bool:
            load_id = p.name.split(".", 1)[0]
            if part is not None and load_id == part[0]:
                return p.name == own
            return load_id in wanted

        return sorted(p for p in d.glob("*.parquet") if keep(p))

    def spill_dir(self, source: str, load_id: str) -> Path:
        """Where a running load keeps its rows split by partition (private, removed after)."""
        return self.root / source / "spill" / load_id

    # -- writing ------------------------------------------------------------------------------
    def write(self, source: str, what: str, load_id: str, seq: int, frame: pl.DataFrame) -> Path:
        """Write one part file atomically."""
        d = private_dir(self.dir(source, what), self.root.parent)
        final = d / f"{load_id}.{seq:05d}.parquet"
        tmp = d / f".{final.name}.tmp"
        # zstd level 1: faster to write than the default level 3, and as small on these records.
        frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)
        private_file(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(d)
        return final

    def commit(self, source: str, load_id: str, manifest: dict) -> None:
        """Write the manifest that makes a load's files count."""
        d = private_dir(self.dir(source, "loads"), self.root.parent)
        tmp = d / f".{load_id}.json.tmp"
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, default=str), "utf-8")
        private_file(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, d / f"{load_id}.json")
        _fsync_dir(d)

    def discard(self, source: str, load_id: str) -> None:
        """Remove every file of a load (manifest first, so it never looks complete and partial)."""
        (self.dir(source, "loads") / f"{load_id}.json").unlink(missing_ok=True)
        shutil.rmtree(self.spill_dir(source, load_id), ignore_errors=True)
        for what in ("parts", "dups"):
            d = self.dir(source, what)
            if d.is_dir():
                for p in d.glob(f"{load_id}.*"):
                    p.unlink()
                for p in d.glob(f".{load_id}.*"):
                    p.unlink()

    # -- reading ------------------------------------------------------------------------------
    def scan_records(self, source: str, loads: Iterable[str],
                     part: Part | None = None) -> pl.LazyFrame:
        """The records the given loads added (one per natural key), lazily."""
        schema = source_for(source).schema()
        files = self.files(source, "parts", loads, part)
        if not files:
            return pl.LazyFrame(schema=schema)
        return pl.scan_parquet(files, schema=schema)

    def scan_dups(self, source: str, loads: Iterable[str],
                  part: Part | None = None) -> pl.LazyFrame:
        """The duplicates the given loads met (key, region, load_id, row, new_region), lazily."""
        schema = self.dup_schema(source)
        files = self.files(source, "dups", loads, part)
        if not files:
            return pl.LazyFrame(schema=schema)
        return pl.scan_parquet(files, schema=schema)

    @staticmethod
    def dup_schema(source: str) -> dict[str, pl.DataType]:
        spec = source_for(source)
        full = spec.schema()
        return {**{k: full[k] for k in spec.key}, "region": pl.String(),
                "load_id": pl.String(), "row": pl.Int64(), "new_region": pl.Boolean()}

    def scan_visible(self, source: str, regions: Iterable[str],
                     loads: Iterable[str] | None = None) -> pl.LazyFrame:
        """:meth:`scan_events` of the records one of ``regions`` supplied, lazily.

        Same rows as filtering ``regions`` on the result of :meth:`scan_events`, without building
        that list for every record: a record is kept when its own ``region`` is wanted, or when
        a duplicate from a wanted region matched its key (few records; they are found by a
        per-column prefilter, then an exact semi-join). ``regions`` is still a column, built
        only if the caller reads it.
        """
        loads = self.complete_loads(source) if loads is None else set(loads)
        wanted = sorted(regions)
        full = self.scan_events(source, loads)
        own = pl.col("region").is_in(wanted)
        key = list(source_for(source).key)
        extra = (self.scan_dups(source, loads)
                 .filter(pl.col("new_region") & pl.col("region").is_in(wanted))
                 .select(key).unique().collect())
        if not extra.height:
            return full.filter(own)
        maybe = pl.all_horizontal(pl.col(k).is_in(extra[k].unique().implode(), nulls_equal=True)
                                  for k in key)
        others = full.filter(~own & maybe).join(extra.lazy(), on=key, how="semi",
                                                nulls_equal=True)
        return pl.concat([full.filter(own), others])

    def scan_key_regions(self, source: str, loads: Iterable[str]) -> pl.LazyFrame:
        """(natural key..., region, held) of every record (``held``: True) and duplicate
        (False) of the given loads."""
        loads = list(loads)
        cols = [*source_for(source).key, "region"]
        return pl.concat([
            self.scan_records(source, loads).select(cols).with_columns(held=pl.lit(True)),
            self.scan_dups(source, loads).select(cols).with_columns(held=pl.lit(False))])

    def scan_events(self, source: str, loads: Iterable[str] | None = None,
                    only: pl.LazyFrame | None = None, part: Part | None = None) -> pl.LazyFrame:
        """Records with ``regions``: the sorted union of their region and their duplicates'.

        ``only`` (a frame of some key columns) keeps the records matching one of its rows; it is
        applied before the duplicates are joined, which keeps the scan cheap. ``part`` narrows
        one load to one of its parts (see :meth:`files`).
        """
        loads = self.complete_loads(source) if loads is None else set(loads)
        key = list(source_for(source).key)
        records = self.scan_records(source, loads, part)
        dups = self.scan_dups(source, loads, part).filter(pl.col("new_region"))
        if only is not None:
            on = only.collect_schema().names()
            records = records.join(only, on=on, how="semi", nulls_equal=True)
            dups = dups.join(only, on=on, how="semi", nulls_equal=True)
        if not self.files(source, "dups", loads, part):
            return records.with_columns(regions=pl.concat_list(pl.col("region")))
        extra = dups.group_by(key).agg(extra=pl.col("region").unique())
        return (records.join(extra, on=key, how="left", nulls_equal=True)
                .with_columns(regions=pl.concat_list(pl.col("region"),
                                                     pl.col("extra").fill_null([]))
                              .list.unique().list.sort())
                .drop("extra"))


def scan_events(home: Path, source: str) -> pl.LazyFrame:
    """Every complete load's records of ``source`` as a LazyFrame with a ``regions`` list column.

    Columns: the source's canonical columns (timestamps ``Datetime("us", "UTC")``), ``region``
    (of the record that was loaded first), ``regions`` (all regions that supplied it),
    ``load_id`` and ``row`` (where it came from: see the LoadRecord of that id) and ``source``
    (the unmapped source columns, JSON).
    """
    if source not in KINDS:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(KINDS)}")
    return EventStore(home).scan_events(source)
