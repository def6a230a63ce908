"""The Docker deployment files: checked with the docker client where one is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"


def _compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_is_valid_for_docker_compose() -> None:
    compose = _compose_command()
    if compose is None:
        pytest.skip("no docker compose client on this machine")
    env = {"NEO4J_PASSWORD": "change-me-please", "FUSION_SECRET": "x" * 32,
           "PATH": "/usr/bin:/bin:/usr/local/bin"}
    result = subprocess.run([*compose, "-f", str(DOCKER / "compose.yaml"), "config"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["services"]["fusion"]["environment"]["FUSION_NEO4J_URI"] == "bolt://neo4j:7687"


def test_compose_runs_neo4j_526_community_with_auth_health_and_volume() -> None:
    spec = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    neo4j = spec["services"]["neo4j"]
    assert neo4j["image"] == "neo4j:5.26-community"
    assert neo4j["environment"]["NEO4J_AUTH"].startswith("neo4j/${NEO4J_PASSWORD")
    assert "healthcheck" in neo4j and any(v.endswith(":/data") for v in neo4j["volumes"])
    fusion = spec["services"]["fusion"]
    assert fusion["environment"]["FUSION_NEO4J_URI"] == "bolt://neo4j:7687"
    assert fusion["depends_on"]["neo4j"]["condition"] == "service_healthy"


def test_dockerfile_copies_every_package_of_the_design() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for package in ("fusion", "loaders", "algorithms", "queries"):
        assert f"COPY {package} ./{package}" in text


def test_the_spark_profile_runs_the_cluster_the_tests_start_and_the_engine_on_it() -> None:
    """The compose profile's master and workers are the launcher classes the loopback cluster
    of tests/test_spark_engine.py runs (bench._spark_cluster), its workers join the master's
    URL, the driver runs the Spark engine against that URL, and every Spark container shares
    the event store's volume and has the packages the executors import."""
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    spark = {name: s for name, s in services.items() if "spark" in s.get("profiles", [])}
    assert set(spark) == {"spark-master", "spark-worker", "spark-driver"}
    master, worker, driver = (spark[n]["command"] for n in
                              ("spark-master", "spark-worker", "spark-driver"))
    assert master[:2] == ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.master.Master"]
    host, port = master[master.index("--host") + 1], master[master.index("--port") + 1]
    url = f"spark://{host}:{port}"
    assert worker == ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.worker.Worker", url]
    assert driver[:5] == ["fusion", "analyze", "cotravel", "--engine", "spark"]
    assert driver[driver.index("--master") + 1] == url
    assert all("fusion-home:/var/lib/fusion" in s["volumes"] for s in spark.values())
    cluster = (Path(__file__).resolve().parent.parent / "bench" / "_spark_cluster.py").read_text()
    assert all(cls in cluster for cls in ("org.apache.spark.deploy.master.Master",
                                          "org.apache.spark.deploy.worker.Worker"))
    text = (DOCKER / "Dockerfile.spark").read_text()
    for package in ("fusion", "loaders", "algorithms", "queries"):
        assert f"COPY {package} ./{package}" in text
    assert "'.[spark]'" in text and "/opt/spark" in text
