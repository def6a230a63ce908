"""The Spark engine of co-travel gives the in-process engine's answers, on local mode and on a
real standalone cluster (a master and two workers on loopback, started from pyspark's launcher).

The oracle is :func:`algorithms.cotravel.co_travel_pairs` over the same visible sightings
(:func:`fusion.services.events.visible_sightings`), and for the materialized relationships the
in-process ``fusion analyze cotravel``. One SparkSession per master for the whole module; the
command-line test runs the engine in its own process.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algorithms.cotravel import co_travel_pairs
from algorithms.meetings import PAIR_KEYS, co_travel_meetings, meeting_regions
from bench._spark_cluster import SPARK_HOME, ports, session_conf, standalone_cluster
from fusion.errors import BadInput
from fusion.managed.server import ADMIN_USER, ManagedNeo4j
from fusion.services.cotravel_spark import (
    DRIVER_JVM,
    SparkOptions,
    pair_slices,
    read_pairs,
    spark_co_travel_pairs,
    spark_session,
)
from fusion.services.events import visible_sightings
from fusion.services.materialize import materialize_co_travel
from loaders.eventstore import EventStore
from loaders.sources import source_for
from tests.analyses_scenario import load_scenario
from tests.test_spark_plan import (
    WIDTHS,
    WINDOWS,
    assert_same_pairs,
    edge_sightings,
    tiny_enough,
)

pytestmark = pytest.mark.slow

REGIONS = ("GD", "ZJ")


@pytest.fixture(scope="module", params=["local", "standalone"])
def spark(request, tmp_path_factory):
    """(session, options) on local[2], or on a standalone cluster of two 1-core workers."""
    if request.param == "local":
        options = SparkOptions("local[2]", {**session_conf(ports(10)),
                                            "spark.driver.memory": "1g"})
        with spark_session(options) as session:
            yield session, options
        return
    work = tmp_path_factory.mktemp("spark-cluster")
    with standalone_cluster(work, workers=2) as cluster:
        options = SparkOptions(cluster.url, {**session_conf(ports(12)),
                                             "spark.executor.memory": "512m",
                                             "spark.cores.max": "2"})
        with spark_session(options) as session:
            yield session, options


def _run(spark, home: Path, scope=None, with_regions=False, conf=None, slice_rows=None,
         **kwargs) -> pl.DataFrame:
    session, options = spark
    options = SparkOptions(options.master, {**options.conf, **(conf or {})})
    out = Path(tempfile.mkdtemp(dir=home)) / "pairs"
    run = spark_co_travel_pairs(session, home, out, scope=scope, with_regions=with_regions,
                                options=options, **kwargs)
    pairs = read_pairs(out)
    assert run.pairs == pairs.height
    if slice_rows:  # streamed back in slices, the pairs are the same
        slices = list(pair_slices(out, slice_rows))
        assert len(slices) > 1 and max(s.height for s in slices) <= slice_rows
        assert_same_pairs(pl.concat(slices).drop("regions"), pairs.drop("regions"))
    return pairs


_JVM_ARGS = """
import json, sys
from fusion.services.cotravel_spark import SparkOptions, spark_session
with spark_session(SparkOptions(sys.argv[1], json.loads(sys.argv[2]))) as spark:
    bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    print(json.dumps(list(bean.getInputArguments())))
"""


def test_a_clusters_driver_runs_the_lean_jvm_and_local_mode_keeps_the_default(spark) -> None:
    """In a fresh process (a process's first session starts the driver's JVM, later ones
    reuse it): the driver's JVM flags on the fixture's master."""
    _, options = spark
    conf = {**session_conf(ports(16)), "spark.driver.memory": "512m"}
    done = subprocess.run([sys.executable, "-c", _JVM_ARGS, options.master, json.dumps(conf)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    running = set(json.loads(done.stdout.strip().splitlines()[-1]))
    flags = set(DRIVER_JVM["spark.driver.extraJavaOptions"].split())
    if options.master.startswith("local"):  # the driver's JVM runs the tasks: full JIT
        assert not flags & running
    else:
        assert flags <= running


# ---------------------------------------------------------------------------------------------
# The scenario, in and out of scope


@pytest.fixture(scope="module")
def world(scenario_dir, driver, neo4j_settings, tmp_path_factory):
    db = neo4j_settings.neo4j_database
    home = tmp_path_factory.mktemp("spark-home")
    truth = load_scenario(driver, db, scenario_dir, home)
    return truth, home, db


@pytest.mark.neo4j
def test_the_scenarios_pairs_equal_the_in_process_engines_in_and_out_of_scope(spark,
                                                                               world) -> None:
    truth, home, _ = world
    regions = [r["code"] for r in truth["regions"]]
    for scope in [None, frozenset(regions[:1]), frozenset(regions[:2])]:
        want = co_travel_pairs(visible_sightings(home, scope))
        got = _run(spark, home, scope=scope)
        assert want.height > 0
        assert_same_pairs(got, want)


@pytest.mark.neo4j
def test_the_significance_floor_drops_the_pairs_the_in_process_engine_drops(spark,
                                                                             world) -> None:
    _, home, _ = world
    sightings = visible_sightings(home, None)
    floor = float(co_travel_pairs(sightings)["significance"].median())
    want = co_travel_pairs(sightings, min_significance=floor)
    got = _run(spark, home, min_significance=floor)
    assert 0 < want.height < co_travel_pairs(sightings).height
    assert_same_pairs(got, want)


@pytest.mark.neo4j
def test_the_scenarios_pairs_carry_the_regions_of_their_meetings(spark, world) -> None:
    _, home, _ = world
    sightings = visible_sightings(home, None)
    want = co_travel_pairs(sightings)
    regions = meeting_regions(co_travel_meetings(sightings, want, carry=["regions"]))
    got = _run(spark, home, with_regions=True, slice_rows=max(1, want.height // 3))
    assert_same_pairs(got.drop("regions"), want)
    assert got.select(*PAIR_KEYS, "regions").sort(PAIR_KEYS).equals(regions)
    assert got.filter(pl.col("regions").list.len() > 1).height > 0  # cross-region pairs exist


@pytest.mark.neo4j
@pytest.mark.parametrize("launch", ["fusion", "spark-submit"])
def test_the_command_materializes_what_the_in_process_engine_does(world, driver, neo4j_settings,
                                                                  launch) -> None:
    """``fusion analyze cotravel --engine spark`` run directly (--master) and as docs/spark.md
    has sites run it: the command-line module as the application of spark-submit, which sets
    the master."""
    _, home, db = world
    floor = float(co_travel_pairs(visible_sightings(home, None))["significance"].quantile(0.25))
    materialize_co_travel(driver, db, home, min_significance=floor)
    want = _co_traveled(driver, db)
    env = {**os.environ, "FUSION_HOME": str(home),
           "FUSION_NEO4J_URI": f"bolt://127.0.0.1:{neo4j_settings.db_bolt_port}",
           "FUSION_NEO4J_USER": ADMIN_USER,
           "FUSION_NEO4J_PASSWORD": ManagedNeo4j(neo4j_settings).password(),
           "FUSION_NEO4J_DATABASE": db}
    conf = [f"--conf={k}={v}" for k, v in session_conf(ports(14)).items()]
    command = ["analyze", "cotravel", "--engine", "spark", f"--min-significance={floor!r}",
               "--json"]
    if launch == "fusion":
        argv = [sys.executable, "-m", "fusion.cli", *command, "--master", "local[2]", *conf]
    else:
        import fusion.cli

        argv = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", "local[2]", *conf,
                f"--conf=spark.pyspark.python={sys.executable}", fusion.cli.__file__, *command]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout)
    assert run["created"] == run["pairs"] == len(want) == run["deleted"]
    assert run["min_significance"] == floor
    got = _co_traveled(driver, db)
    assert got.keys() == want.keys()
    for key, row in want.items():  # floats (lead, expected, significance) to 1e-9 relative
        assert all(x == y or (isinstance(x, float) and math.isclose(x, y, rel_tol=1e-9))
                   for x, y in zip(got[key], row, strict=True)), key


def _co_traveled(driver, db) -> dict[tuple, tuple]:
    """Every CO_TRAVELED by its ends: all its properties but the computation time."""
    records, _, _ = driver.execute_query(
        "MATCH (a)-[r:CO_TRAVELED]->(b) RETURN a.key AS a, b.key AS b, properties(r) AS p",
        database_=db)
    return {(r["a"], r["b"]): tuple(tuple(v) if isinstance(v, list) else v
                                    for k, v in sorted(r["p"].items()) if k != "computed_at")
            for r in records}


# ---------------------------------------------------------------------------------------------
# Adversarial partitions on Spark


def _store(frame: pl.DataFrame, regions: list[str], home: Path) -> None:
    """``frame``'s sightings as one complete load of the event store under ``home``."""
    schema = source_for("sightings").schema()
    full = frame.with_columns(region=pl.Series(regions, dtype=pl.String), load_id=pl.lit("L1"),
                              row=pl.int_range(pl.len(), dtype=pl.Int64))
    full = full.select(pl.col(c) if c in full.columns else pl.lit(None, d).alias(c)
                       for c, d in schema.items()).cast(dict(schema))
    store = EventStore(home)
    store.write("sightings", "parts", "L1", 0, full)
    store.commit("sightings", "L1", {"load_id": "L1"})


@settings(max_examples=int(os.environ.get("FUSION_SPARK_EXAMPLES", "6")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(frame=edge_sightings(), width=WIDTHS, window=WINDOWS, partitions=st.integers(1, 5),
       data=st.data())
def test_adversarial_cuts_on_spark_equal_the_in_process_engine(spark, frame, width, window,
                                                               partitions, data) -> None:
    width = tiny_enough(width, window)
    regions = [data.draw(st.sampled_from(REGIONS)) for _ in range(frame.height)]
    scope = data.draw(st.sampled_from([None, frozenset({"ZJ"})]))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _store(frame, regions, home)
        want = co_travel_pairs(visible_sightings(home, scope), window, 1, 1)
        got = _run(spark, home, scope=scope, window=window, min_meetings=1,
                   min_distinct_sensors=1,
                   conf={"fusion.cotravel.bucketSeconds": str(width / 1e6),
                         "fusion.cotravel.partitions": str(partitions)})
    assert_same_pairs(got, want)


def test_bad_engine_settings_are_refused() -> None:
    with pytest.raises(BadInput, match="KEY=VALUE"):
        SparkOptions.parse(None, ["spark.executor.memory"])
    with pytest.raises(BadInput, match="bucketSeconds"):
        _ = SparkOptions(conf={"fusion.cotravel.bucketSeconds": "0"}).bucket_us
    with pytest.raises(BadInput, match="partitions"):
        _ = SparkOptions(conf={"fusion.cotravel.partitions": "1.5"}).partitions
