"""Co-travel on Apache Spark: the in-process definition, for event stores beyond one machine.

The in-process engine (:mod:`algorithms.cotravel`) holds every sighting in memory; a province's
checkpoint network outgrows that in days. This engine runs the partitioned plan of
:mod:`algorithms.cotravel_parts` on a Spark cluster the site already operates, with answers
identical to the in-process engine's:

- Spark reads the event store's Parquet files directly (complete loads only, the scope filter
  and the time range inside the scan), computing each record's ``regions`` as the event store
  does (its own region and its duplicates').
- Each sighting goes to its (sensor, time bucket) cell and, as halo, to the cells within the
  window; cells are hash-partitioned and every partition is swept by the numpy sweep over Arrow
  batches (``mapInArrow``), which decides each owned sighting's met flags once.
- Partial counts (with the days of a's met sightings and the leads of the sighting pairs each
  cell owns) are reduced per pair in Spark SQL; the pairs that pass the definition are written
  as Parquet.
- The significance's aggregates are group-bys over the same scan: habits per (subject, sensor,
  cell) stay on the executors, the traffic per (sensor, cell) is broadcast; the pairs are
  scored in groups (by a hash of ``a``), each cogrouped with its subjects' habits
  (``applyInArrow``) and scored by :func:`algorithms.significance.score_habits`. The scored
  pairs (with the regions of the sightings behind their meetings) are written as Parquet.

The driver only plans the jobs, holds the traffic table (sensors x cells) and streams the
result back in slices (:func:`pair_slices`): its memory grows neither with the input nor with
the pairs. Executors hold one partition or one group of pairs at a time, sized by
:data:`ROWS_PER_PARTITION` and :data:`PAIRS_PER_GROUP`.
pyspark is imported only here, and this module only when the Spark engine is asked for.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from neo4j import Driver
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

import algorithms
import queries
from algorithms.cotravel import SCORED_SCHEMA, _check_thresholds, _window_us
from algorithms.cotravel_parts import (
    CELL_COLUMNS,
    CELLS,
    HABIT_SCHEMA,
    PARTIAL_SCHEMA,
    REDUCED_SCHEMA,
    arrow_score,
    mapper,
    period_of,
    sort_pairs,
)
from algorithms.significance import SCORE_SCHEMA, SLOT_S
from algorithms.utc import utc
from fusion.errors import BadInput
from fusion.progress import NoProgress, Progress
from fusion.services.materialize import CoTravelRun, replace_co_traveled
from loaders.eventstore import EventStore
from loaders.private import private_dir
from loaders.sources import source_for
from queries.model import (
    CO_TRAVEL_MIN_MEETINGS,
    CO_TRAVEL_MIN_SENSORS,
    CO_TRAVEL_MIN_SIGNIFICANCE,
    CO_TRAVEL_WINDOW_S,
)

__all__ = ["SparkOptions", "materialize_co_travel_spark", "pair_slices", "read_pairs",
           "spark_co_travel_pairs", "spark_session"]

# Cells per partition are chosen so a partition holds about this many (halo-included) rows:
# the executor's Python worker sweeps one partition at a time (~0.5 GB at this size).
ROWS_PER_PARTITION = 1_000_000
# Default bucket: an hour, so the halo adds 2 x window / 1 h (7% at 120 s) to the rows.
BUCKET_S = 3600.0
# Reported pairs scored together (with their subjects' habits) in one group.
PAIRS_PER_GROUP = 20_000
# Pairs per slice read back from the result and written to Neo4j: the driver holds one slice.
SLICE_ROWS = 50_000
_US = 1_000_000
_DAY_US = 86_400 * _US
_SLOTS = 86_400 // SLOT_S
_SOURCE = "sightings"


@dataclass(frozen=True)
class SparkOptions:
    """Where and how the Spark job runs.

    ``master`` None: the master spark-submit set, else ``local[*]``. ``conf``: Spark settings
    (``spark.*``) passed through; the engine's own are ``fusion.cotravel.bucketSeconds`` and
    ``fusion.cotravel.partitions`` (default: from the input's row count).
    """

    master: str | None = None
    conf: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, master: str | None, items: list[str] | None) -> SparkOptions:
        """From ``--master`` and ``--conf k=v`` options."""
        conf = {}
        for item in items or []:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise BadInput(f"--conf takes KEY=VALUE, e.g. spark.executor.memory=2g, "
                               f"not {item!r}")
            conf[key.strip()] = value.strip()
        return cls(master, conf)

    @property
    def bucket_us(self) -> int:
        """The cell width in microseconds."""
        seconds = self._number("fusion.cotravel.bucketSeconds", BUCKET_S)
        if seconds * _US < 1:
            raise BadInput("fusion.cotravel.bucketSeconds must be at least 1e-6")
        return round(seconds * _US)

    @property
    def partitions(self) -> int | None:
        """The partition count asked for, if any."""
        value = self._number("fusion.cotravel.partitions", None)
        if value is not None and (value < 1 or value != int(value)):
            raise BadInput("fusion.cotravel.partitions must be a whole number >= 1")
        return None if value is None else int(value)

    def _number(self, key: str, default: float | None) -> float | None:
        if key not in self.conf:
            return default
        try:
            return float(self.conf[key])
        except ValueError:
            raise BadInput(f"{key} must be a number, not {self.conf[key]!r}") from None


# ---------------------------------------------------------------------------------------------
# The session


# A cluster's driver only plans, broadcasts the traffic table and streams the result: the serial
# collector and the JIT's first tier keep its JVM smaller (bench.spark's driver peak on the
# standalone cluster: 879 -> 800 MB at 1M sightings, 1,016 -> 842 MB at 10M; the job no
# slower). Not in local mode, where the driver's JVM runs the tasks. A site's own
# spark.driver.extraJavaOptions replaces it; under spark-submit the driver's JVM is already
# running, so spark-submit's --conf decides.
DRIVER_JVM = {"spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"}


@contextmanager
def spark_session(options: SparkOptions) -> Iterator[SparkSession]:
    """A SparkSession for ``options``, with the pure packages shipped to the executors.

    Executors import :mod:`algorithms` (and the vocabulary it reads) from a zip added to the
    job; they need Python with numpy, polars and pyarrow (``spark.pyspark.python``, default:
    this interpreter, right for local mode and for workers installed like this machine).
    """
    builder = SparkSession.builder.appName("fusion co-travel")
    master = options.master or _submitted_conf().get("spark.master") or "local[*]"
    builder = builder.master(master)
    # pyspark's context reads the executors' Python from the environment, not from the conf.
    python = options.conf.get("spark.pyspark.python") or os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = python or sys.executable
    defaults = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
                "spark.sql.session.timeZone": "UTC",
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                **({} if master.startswith("local") else DRIVER_JVM)}
    for key, value in {**defaults, **options.conf}.items():
        if not key.startswith("fusion."):
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    with tempfile.TemporaryDirectory(prefix="fusion-spark-") as tmp:
        spark.sparkContext.addPyFile(str(_code_zip(Path(tmp))))
        try:
            yield spark
        finally:
            spark.stop()


def _submitted_conf() -> dict[str, str]:
    """Settings spark-submit passed to this process (none when run directly).

    spark-submit sets them as the JVM's system properties; the gateway to that JVM is opened
    first (the session then reuses it), so a SparkConf can read them.
    """
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    return dict(SparkConf().getAll())


def _code_zip(folder: Path) -> Path:
    """A zip of the pure packages the executors run: algorithms and queries (Python only)."""
    path = folder / "fusion_pure.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for package in (algorithms, queries):
            root = Path(package.__file__).parent
            for source in sorted(root.rglob("*.py")):
                zf.write(source, source.relative_to(root.parent))
    return path


# ---------------------------------------------------------------------------------------------
# The job


@dataclass(frozen=True)
class SparkRun:
    """What a Spark co-travel job read and wrote."""

    sightings: int
    pairs: int
    partitions: int
    path: Path
    seconds: float


def spark_co_travel_pairs(
    spark: SparkSession,
    home: Path,
    out: Path,
    *,
    scope: frozenset[str] | None,
    window: float = CO_TRAVEL_WINDOW_S,
    min_meetings: int = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: int = CO_TRAVEL_MIN_SENSORS,
    since: datetime | None = None,
    until: datetime | None = None,
    min_significance: float = CO_TRAVEL_MIN_SIGNIFICANCE,
    with_regions: bool = False,
    options: SparkOptions | None = None,
    progress: Progress | None = None,
) -> SparkRun:
    """Write the reported pairs over the sightings visible in ``scope`` to Parquet at ``out``.

    The file has the in-process engine's columns (:data:`algorithms.cotravel.SCORED_SCHEMA`:
    the contract's figures, days, lead, reads and significance; and ``regions``, the sorted
    regions of the sightings behind the pair's meetings, ``with_regions``). Two jobs: the
    sweep writes the pairs that pass the definition (``out``'s sibling ``*.unscored``), then
    the significance's group-bys run over the same scan and the pairs are scored in groups.
    :func:`read_pairs` reads the result back in the in-process report order.
    """
    options = options or SparkOptions()
    progress = progress or NoProgress()
    try:
        _check_thresholds(window, min_meetings, min_distinct_sensors)
    except ValueError as err:
        raise BadInput(str(err)) from err
    if not min_significance >= 0:
        raise BadInput(f"min_significance must be >= 0, got {min_significance}")
    began = time.monotonic()
    store = EventStore(home)
    window_us, width = _window_us(window), options.bucket_us
    parts = options.partitions or _partitions(spark, _row_count(store), window_us, width)
    sightings = _sightings(spark, store, scope, utc(since), utc(until), with_regions)
    unscored = out.with_name(out.name + ".unscored")
    progress.phase(f"Finding co-travelling pairs on Spark ({parts} partitions; tasks done)",
                   None)
    with _stage_progress(spark, progress):
        _sweep(sightings, window_us, width, parts, min_meetings, min_distinct_sensors,
               with_regions).write.mode("overwrite").parquet(str(unscored))
        scored, counted = _score(spark, sightings, unscored, window, min_significance, parts,
                                 with_regions)
        scored.write.mode("overwrite").parquet(str(out))
    return SparkRun(counted, _parquet_rows(out), parts, out, round(time.monotonic() - began, 3))


def _sweep(sightings: DataFrame, window_us: int, width: int, parts: int, min_meetings: int,
           min_distinct_sensors: int, with_regions: bool) -> DataFrame:
    """The pairs that pass the definition (:data:`REDUCED_SCHEMA`): cells swept by
    ``mapInArrow``, partial counts reduced in Spark SQL."""
    cells = _cells(sightings, window_us, width).repartition(parts, "sensor_id", "bucket")
    schema = _arrow_schema(PARTIAL_SCHEMA, with_regions)
    partials = cells.mapInArrow(mapper(window_us, with_regions, schema), _spark_schema(schema))
    return _reduce(partials, min_meetings, min_distinct_sensors, with_regions)


def materialize_co_travel_spark(
    driver: Driver,
    database: str,
    home: Path,
    options: SparkOptions,
    *,
    window: float = CO_TRAVEL_WINDOW_S,
    min_meetings: int = CO_TRAVEL_MIN_MEETINGS,
    min_distinct_sensors: int = CO_TRAVEL_MIN_SENSORS,
    since: datetime | None = None,
    until: datetime | None = None,
    min_significance: float = CO_TRAVEL_MIN_SIGNIFICANCE,
    progress: Progress | None = None,
) -> CoTravelRun:
    """:func:`fusion.services.materialize.materialize_co_travel`, the pairs found on Spark.

    The job's Parquet output (pairs with their figures and their meetings' regions) is kept
    under ``home/cotravel/spark-pairs`` (replaced by the next run) and streamed to Neo4j in
    slices of :data:`SLICE_ROWS` pairs: the driver never holds the whole result.
    """
    progress = progress or NoProgress()
    began = time.monotonic()
    out = private_dir(home / "cotravel", home) / "spark-pairs"
    with spark_session(options) as spark:
        job = spark_co_travel_pairs(
            spark, home, out, scope=None, window=window, min_meetings=min_meetings,
            min_distinct_sensors=min_distinct_sensors, since=since, until=until,
            min_significance=min_significance, with_regions=True, options=options,
            progress=progress)
    run = CoTravelRun(job.sightings, job.pairs, 0, 0, float(window), min_meetings,
                      min_distinct_sensors, utc(since), utc(until), 0.0,
                      float(min_significance))
    return replace_co_traveled(driver, database, pair_slices(out), job.pairs, run, began,
                               progress)


def pair_slices(path: Path, rows: int = SLICE_ROWS) -> Iterator[pl.DataFrame]:
    """The pairs a Spark job wrote, ``rows`` at a time (in file order), with the in-process
    engine's column types."""
    files = sorted(Path(path).glob("*.parquet"))
    if not files:
        return
    dataset = pads.dataset([str(f) for f in files], format="parquet")
    # one file and one batch at a time (pyarrow reads 4 files and 16 batches ahead by default)
    for batch in dataset.to_batches(batch_size=rows, batch_readahead=0, fragment_readahead=0):
        if batch.num_rows:
            yield _typed(pl.from_arrow(batch))


def read_pairs(path: Path) -> pl.DataFrame:
    """The pairs a Spark job wrote, in the in-process engine's order and types (whole: for
    tests and the bench; the materialization streams :func:`pair_slices`)."""
    parts = list(pair_slices(path))
    if not parts:
        return sort_pairs(SCORED_SCHEMA.to_frame())
    return sort_pairs(pl.concat(parts))


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """The result's columns cast to :data:`algorithms.cotravel.SCORED_SCHEMA`."""
    return frame.cast({name: dtype for name, dtype in SCORED_SCHEMA.items()
                       if name in frame.columns})


def _parquet_rows(path: Path) -> int:
    """Rows in a Parquet folder, from the footers."""
    return sum(pq.read_metadata(f).num_rows for f in Path(path).glob("*.parquet"))


def _row_count(store: EventStore) -> int:
    """Sightings in the complete loads, from the Parquet footers (nothing else is read)."""
    files = store.files(_SOURCE, "parts", store.complete_loads(_SOURCE))
    return sum(pq.read_metadata(f).num_rows for f in files)


def _partitions(spark: SparkSession, rows: int, window_us: int, width: int) -> int:
    """Enough partitions for :data:`ROWS_PER_PARTITION` halo-included rows each."""
    copies = 1 + math.ceil(2 * window_us / width)  # cells a sighting reaches, at most
    return max(spark.sparkContext.defaultParallelism,
               math.ceil(rows * copies / ROWS_PER_PARTITION))


def _sightings(spark: SparkSession, store: EventStore, scope: frozenset[str] | None,
               since: datetime | None, until: datetime | None,
               with_regions: bool) -> DataFrame:
    """subject_type, subject, sensor_id, t (microseconds) and, if needed, regions.

    Filters sit on the scan: the time range on ``seen_at``, the scope on the record's regions.
    """
    loads = store.complete_loads(_SOURCE)
    files = [str(f) for f in store.files(_SOURCE, "parts", loads)]
    if not files:
        return spark.createDataFrame([], _sighting_ddl(with_regions))
    key = list(source_for(_SOURCE).key)
    df = spark.read.parquet(*files).select(*key, "region")
    if since is not None:
        df = df.where(F.col("seen_at") >= F.lit(since))
    if until is not None:
        df = df.where(F.col("seen_at") <= F.lit(until))
    if scope is not None or with_regions:
        df = _with_regions(spark, store, loads, df, key)
    if scope is not None:
        df = df.where(F.arrays_overlap("regions", F.array(*[F.lit(r) for r in sorted(scope)])))
    columns = ["subject_type", "subject", "sensor_id", F.unix_micros("seen_at").alias("t")]
    return df.select(*columns, *(["regions"] if with_regions else []))


def _with_regions(spark: SparkSession, store: EventStore, loads: set[str], df: DataFrame,
                  key: list[str]) -> DataFrame:
    """``regions``: the record's own region and those of the duplicates that widened it."""
    dups = [str(f) for f in store.files(_SOURCE, "dups", loads)]
    if not dups:
        return df.withColumn("regions", F.array("region"))
    extra = (spark.read.parquet(*dups).where("new_region").groupBy(*key)
             .agg(F.collect_set("region").alias("_extra")))
    regions = F.concat(F.array("region"), F.coalesce("_extra", F.array().cast("array<string>")))
    return (df.join(extra, on=key, how="left")
            .withColumn("regions", F.array_sort(F.array_distinct(regions))).drop("_extra"))


def _sighting_ddl(with_regions: bool) -> str:
    ddl = "subject_type string, subject string, sensor_id string, t long"
    return ddl + (", regions array<string>" if with_regions else "")


def _floor_div(sql: str, width: int) -> Column:
    """``floor(sql / width)`` for a long SQL expression, in exact integer arithmetic."""
    return F.expr(f"(({sql}) - pmod(({sql}), {width}L)) div {width}L")


def _cells(sightings: DataFrame, window_us: int, width: int) -> DataFrame:
    """Each sighting in its own cell (``owned``) and, as halo, in the cells within the window."""
    reach = F.sequence(_floor_div(f"t - {window_us}L", width),
                       _floor_div(f"t + {window_us}L", width))
    cells = sightings.withColumn("_own", _floor_div("t", width)).withColumn(
        "bucket", F.explode(reach))
    extra = [c for c in sightings.columns if c not in CELL_COLUMNS]
    return cells.withColumn("owned", F.col("bucket") == F.col("_own")).select(
        *CELL_COLUMNS, *extra)


_ARROW = {pl.String: pa.string(), pl.Int64: pa.int64(), pl.Float64: pa.float64(),
          pl.List(pl.Int64): pa.list_(pa.int64())}
_DDL = {pa.string(): "string", pa.int64(): "long", pa.float64(): "double",
        pa.list_(pa.string()): "array<string>", pa.list_(pa.int64()): "array<long>"}


def _arrow_schema(schema: pl.Schema, with_regions: bool) -> pa.Schema:
    """A polars schema (and ``regions``) as an Arrow schema."""
    fields = [pa.field(name, _ARROW[dtype]) for name, dtype in schema.items()]
    if with_regions:
        fields.append(pa.field("regions", pa.list_(pa.string())))
    return pa.schema(fields)


def _spark_schema(schema: pa.Schema) -> str:
    """The same schema as a Spark DDL string."""
    return ", ".join(f"{f.name} {_DDL[f.type]}" for f in schema)


def _reduce(partials: DataFrame, min_meetings: int, min_distinct_sensors: int,
            with_regions: bool) -> DataFrame:
    """Partial counts reduced per pair: the pairs that pass the definition, with their days
    and median lead (:func:`algorithms.cotravel_parts.reduce_partials` in Spark SQL)."""
    pair = ["a_type", "a", "b_type", "b"]
    union = [F.array_sort(F.array_distinct(F.flatten(F.collect_list("regions"))))
             .alias("regions")] if with_regions else []
    per_pair = partials.groupBy(*pair).agg(
        F.least(F.sum("n_a"), F.sum("n_b")).cast("long").alias("meetings"),
        F.countDistinct("sensor_id").cast("long").alias("distinct_sensors"),
        F.min("first_us").alias("first_us"), F.max("last_us").alias("last_us"),
        F.size(F.array_distinct(F.flatten(F.collect_list("days")))).cast("long")
        .alias("distinct_days"),
        F.array_sort(F.flatten(F.collect_list("leads"))).alias("_leads"), *union)
    reported = per_pair.where((F.col("meetings") >= min_meetings)
                              & (F.col("distinct_sensors") >= min_distinct_sensors))
    middle = F.expr("element_at(_leads, int((size(_leads) - 1) div 2) + 1)"
                    " + element_at(_leads, int(size(_leads) div 2) + 1)")
    return reported.withColumn("lead_s", middle.cast("double") / 2.0 / 1e6).select(
        *REDUCED_SCHEMA.names(), *(["regions"] if with_regions else []))


def _score(spark: SparkSession, sightings: DataFrame, unscored: Path, window: float,
           min_significance: float, parts: int, with_regions: bool) -> tuple[DataFrame, int]:
    """The reported pairs scored (:func:`algorithms.cotravel_parts.arrow_score` per group),
    at least ``min_significance`` significant, with timestamps; and the sightings in scope.

    Habits (per subject, sensor and cell) and traffic (per sensor and cell) are group-bys over
    the sightings; the traffic (sensors x cells counts), the period and the total come to the
    driver and are broadcast; each group of pairs (by a hash of ``a``) is cogrouped with the
    habits of its subjects only, so no process holds all the habits.
    """
    cells = sightings.select("subject_type", "subject", "sensor_id", "t", _cell().alias("c"))
    counts = cells.groupBy("sensor_id", "c").agg(
        F.count(F.lit(1)).alias("n"), F.min("t").alias("first"), F.max("t").alias("last"))
    traffic, names, (first, last) = _traffic(counts.toArrow())
    total = int(traffic.sum())
    sensors = spark.createDataFrame(list(zip(names, range(len(names)), strict=True)),
                                    "sensor_id string, sensor long")
    habits = (cells.groupBy("subject_type", "subject", "sensor_id", "c")
              .agg(F.count(F.lit(1)).cast("long").alias("n"))
              .join(F.broadcast(sensors), on="sensor_id").select(*HABIT_SCHEMA.names()))
    groups = max(parts, math.ceil(_parquet_rows(unscored) / PAIRS_PER_GROUP))

    def grouped() -> DataFrame:  # read twice: the cogroup's sides must not share a lineage
        return spark.read.parquet(str(unscored)).withColumn(
            "_g", F.pmod(F.hash("a_type", "a"), F.lit(groups)))

    pairs, keys = grouped(), grouped()
    involved = keys.select("_g", F.col("a_type").alias("subject_type"),
                           F.col("a").alias("subject")).union(keys.select(
                               "_g", "b_type", "b")).distinct()
    mine = habits.join(involved, on=["subject_type", "subject"])
    schema = _arrow_schema({**REDUCED_SCHEMA, **SCORE_SCHEMA}, with_regions)
    score = partial(_score_group, traffic=spark.sparkContext.broadcast(traffic),
                    period=period_of(first, last), total=float(total), window=window,
                    schema=schema)
    scored = pairs.groupBy("_g").cogroup(mine.groupBy("_g")).applyInArrow(
        score, _spark_schema(schema))
    columns = [F.timestamp_micros(c).alias(c.replace("_us", "_at")) if c.endswith("_us")
               else F.col(c) for c in schema.names]
    return scored.where(F.col("significance") >= min_significance).select(*columns), total


def _traffic(counts: pa.Table) -> tuple[np.ndarray, list[str], tuple[int | None, int | None]]:
    """The sightings per (sensor code, cell) as a dense array, the sensors by code (sorted
    ids, as the in-process engine codes them) and the first and last time in microseconds.

    Arrow compute throughout: a Python object per row would cost the driver ~100 MB at
    2,000 sensors x 576 cells.
    """
    ids = counts.column("sensor_id")
    names = pc.unique(ids)
    names = names.take(pc.sort_indices(names))
    rows = pc.index_in(ids, value_set=names).to_numpy()
    traffic = np.zeros((len(names), CELLS), dtype=np.int64)
    traffic[rows, counts.column("c").to_numpy()] = counts.column("n").to_numpy()
    if counts.num_rows == 0:
        return traffic, [], (None, None)
    return traffic, names.to_pylist(), (pc.min(counts.column("first")).as_py(),
                                        pc.max(counts.column("last")).as_py())


def _score_group(pairs: pa.Table, habits: pa.Table, **kwargs) -> pa.Table:
    """One group's pairs scored (the ``_g`` column dropped from both sides)."""
    return arrow_score(pairs.drop_columns(["_g"]), habits.drop_columns(["_g"]), **kwargs)


def _cell() -> Column:
    """:func:`algorithms.significance.cell_of` of ``t`` in Spark SQL (integer arithmetic):
    weekend * slots + slot of the day."""
    day = _floor_div("t", _DAY_US)
    weekend = (F.pmod(day + 3, F.lit(7)) >= 5).cast("long")
    return weekend * _SLOTS + F.expr(f"pmod(t, {_DAY_US}L) div {SLOT_S * _US}L")


@contextmanager
def _stage_progress(spark: SparkSession, progress: Progress) -> Iterator[None]:
    """Advance ``progress`` by the tasks Spark completes while the block runs."""
    tracker = spark.sparkContext.statusTracker()
    done = threading.Event()

    def poll() -> None:
        seen: dict[int, int] = {}
        while not done.wait(0.5):
            for stage_id in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage_id)
                if info is None:
                    continue
                step = info.numCompletedTasks - seen.get(stage_id, 0)
                if step > 0:
                    progress.advance(step)
                    seen[stage_id] = info.numCompletedTasks

    thread = threading.Thread(target=poll, name="spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
