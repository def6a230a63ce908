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
- Partial counts are reduced per (pair, sensor), then per pair, in Spark SQL; the reported pairs
  (with the regions of the sightings behind their meetings) are written as Parquet.

The driver only plans the job and reads the reported pairs back: its memory does not grow with
the input. Executors hold one partition at a time, sized by :data:`ROWS_PER_PARTITION`.
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
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from neo4j import Driver
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

import algorithms
import queries
from algorithms.cotravel import PAIR_SCHEMA, _check_thresholds, _window_us
from algorithms.cotravel_parts import CELL_COLUMNS, PARTIAL_SCHEMA, mapper, sort_pairs
from algorithms.utc import utc
from fusion.errors import BadInput
from fusion.progress import NoProgress, Progress
from fusion.services.materialize import CoTravelRun, replace_co_traveled
from loaders.eventstore import EventStore
from loaders.private import private_dir
from loaders.sources import source_for
from queries.model import CO_TRAVEL_MIN_MEETINGS, CO_TRAVEL_MIN_SENSORS, CO_TRAVEL_WINDOW_S

__all__ = ["SparkOptions", "materialize_co_travel_spark", "read_pairs", "spark_co_travel_pairs",
           "spark_session"]

# Cells per partition are chosen so a partition holds about this many (halo-included) rows:
# the executor's Python worker sweeps one partition at a time (~0.5 GB at this size).
ROWS_PER_PARTITION = 1_000_000
# Default bucket: an hour, so the halo adds 2 x window / 1 h (7% at 120 s) to the rows.
BUCKET_S = 3600.0
_US = 1_000_000
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


@contextmanager
def spark_session(options: SparkOptions) -> Iterator[SparkSession]:
    """A SparkSession for ``options``, with the pure packages shipped to the executors.

    Executors import :mod:`algorithms` (and the vocabulary it reads) from a zip added to the
    job; they need Python with numpy, polars and pyarrow (``spark.pyspark.python``, default:
    this interpreter, right for local mode and for workers installed like this machine).
    """
    builder = SparkSession.builder.appName("fusion co-travel")
    if options.master:
        builder = builder.master(options.master)
    elif "spark.master" not in _submitted_conf():
        builder = builder.master("local[*]")
    # pyspark's context reads the executors' Python from the environment, not from the conf.
    python = options.conf.get("spark.pyspark.python") or os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = python or sys.executable
    defaults = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
                "spark.sql.session.timeZone": "UTC",
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.execution.arrow.pyspark.enabled": "true"}
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
    with_regions: bool = False,
    options: SparkOptions | None = None,
    progress: Progress | None = None,
) -> SparkRun:
    """Write the reported pairs over the sightings visible in ``scope`` to Parquet at ``out``.

    The file has the in-process engine's columns (and ``regions``, the sorted regions of the
    sightings behind the pair's meetings, ``with_regions``); :func:`read_pairs` reads it back in
    the in-process report order.
    """
    options = options or SparkOptions()
    progress = progress or NoProgress()
    try:
        _check_thresholds(window, min_meetings, min_distinct_sensors)
    except ValueError as err:
        raise BadInput(str(err)) from err
    began = time.monotonic()
    store = EventStore(home)
    window_us, width = _window_us(window), options.bucket_us
    rows = _row_count(store)
    parts = options.partitions or _partitions(spark, rows, window_us, width)
    sightings = _sightings(spark, store, scope, utc(since), utc(until), with_regions)
    cells = _cells(sightings, window_us, width).repartition(parts, "sensor_id", "bucket")
    schema = _partial_schema(with_regions)
    partials = cells.mapInArrow(
        mapper(window_us, with_regions, schema), _spark_schema(schema))
    pairs = _reduce(partials, min_meetings, min_distinct_sensors, with_regions)
    progress.phase(f"Finding co-travelling pairs on Spark ({parts} partitions; tasks done)",
                   None)
    with _stage_progress(spark, progress):
        pairs.write.mode("overwrite").parquet(str(out))
        counted = sightings.count()
    found = pl.scan_parquet(out / "*.parquet").select(pl.len()).collect().item()
    return SparkRun(counted, found, parts, out, round(time.monotonic() - began, 3))


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
    progress: Progress | None = None,
) -> CoTravelRun:
    """:func:`fusion.services.materialize.materialize_co_travel`, the pairs found on Spark.

    The job's Parquet output (pairs with their meetings' regions) is kept under
    ``home/cotravel/spark-pairs`` (replaced by the next run) and written to Neo4j as the
    in-process run writes it.
    """
    progress = progress or NoProgress()
    began = time.monotonic()
    out = private_dir(home / "cotravel", home) / "spark-pairs"
    with spark_session(options) as spark:
        job = spark_co_travel_pairs(
            spark, home, out, scope=None, window=window, min_meetings=min_meetings,
            min_distinct_sensors=min_distinct_sensors, since=since, until=until,
            with_regions=True, options=options, progress=progress)
    rows = read_pairs(out)
    run = CoTravelRun(job.sightings, rows.height, 0, 0, float(window), min_meetings,
                      min_distinct_sensors, utc(since), utc(until), 0.0)
    return replace_co_traveled(driver, database, [rows], rows.height, run, began, progress)


def read_pairs(path: Path) -> pl.DataFrame:
    """The pairs a Spark job wrote, in the in-process engine's order and types."""
    files = sorted(Path(path).glob("*.parquet"))
    if not files:
        return sort_pairs(PAIR_SCHEMA.to_frame())
    return sort_pairs(pl.read_parquet(files))


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


def _partial_schema(with_regions: bool) -> pa.Schema:
    """The Arrow schema of a partition's partial counts."""
    types = {pl.String: pa.string(), pl.Int64: pa.int64()}
    fields = [pa.field(name, types[dtype]) for name, dtype in PARTIAL_SCHEMA.items()]
    if with_regions:
        fields.append(pa.field("regions", pa.list_(pa.string())))
    return pa.schema(fields)


def _spark_schema(schema: pa.Schema) -> str:
    """The same schema as a Spark DDL string."""
    names = {pa.string(): "string", pa.int64(): "long", pa.list_(pa.string()): "array<string>"}
    return ", ".join(f"{f.name} {names[f.type]}" for f in schema)


def _reduce(partials: DataFrame, min_meetings: int, min_distinct_sensors: int,
            with_regions: bool) -> DataFrame:
    """Partial counts summed per (pair, sensor), then per pair; the reported pairs."""
    pair = ["a_type", "a", "b_type", "b"]
    union = [F.array_sort(F.array_distinct(F.flatten(F.collect_list("regions"))))
             .alias("regions")] if with_regions else []
    per_sensor = partials.groupBy(*pair, "sensor_id").agg(
        F.sum("n_a").alias("n_a"), F.sum("n_b").alias("n_b"),
        F.min("first_us").alias("first_us"), F.max("last_us").alias("last_us"), *union)
    per_pair = per_sensor.groupBy(*pair).agg(
        F.least(F.sum("n_a"), F.sum("n_b")).cast("long").alias("meetings"),
        F.count(F.lit(1)).cast("long").alias("distinct_sensors"),
        F.timestamp_micros(F.min("first_us")).alias("first_at"),
        F.timestamp_micros(F.max("last_us")).alias("last_at"), *union)
    return per_pair.where((F.col("meetings") >= min_meetings)
                          & (F.col("distinct_sensors") >= min_distinct_sensors))


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
