"""A real Spark standalone cluster on loopback, from pyspark's own launcher (bench and tests).

pyspark ships Spark's jars and ``bin/spark-class``; a master and its workers are started as
``org.apache.spark.deploy.master.Master`` / ``...worker.Worker`` processes (what Spark's
``sbin/start-master.sh`` and ``start-worker.sh`` run), each in its own process group, and
stopped by their process ids. Ports come from one base (``FUSION_TEST_SPARK_PORT``): master,
its UI, then each worker's port and UI; the sessions' driver and block-manager ports follow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
PORT_BASE = int(os.environ.get("FUSION_TEST_SPARK_PORT", "17075"))


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster."""

    url: str
    ui: str
    worker_pids: tuple[int, ...]  # the worker JVMs (spark-class execs java); executors are
                                  # their children


def ports(offset: int) -> int:
    """The port ``offset`` above the base."""
    return PORT_BASE + offset


def session_conf(first_port: int) -> dict[str, str]:
    """Spark settings pinning a session's driver and block-manager ports (and no UI)."""
    return {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.port": str(first_port), "spark.blockManager.port": str(first_port + 1),
            "spark.port.maxRetries": "8", "spark.ui.enabled": "false"}


def _launch(cls: str, args: list[str], log: Path, memory: str) -> subprocess.Popen:
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_DAEMON_MEMORY": memory,
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    with open(log, "wb") as out:
        return subprocess.Popen([str(SPARK_HOME / "bin" / "spark-class"), cls, *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _alive_workers(ui: str) -> int:
    try:
        with urllib.request.urlopen(f"{ui}/json/", timeout=2) as reply:
            return int(json.load(reply).get("aliveworkers", 0))
    except OSError:
        return -1


@contextmanager
def standalone_cluster(work: Path, workers: int = 2, cores: int = 1,
                       memory: str = "1g", timeout: float = 180) -> Iterator[Cluster]:
    """A master and ``workers`` workers on 127.0.0.1, stopped (by pid) on exit."""
    work.mkdir(parents=True, exist_ok=True)
    master_port, ui_port = ports(0), ports(1)
    url, ui = f"spark://127.0.0.1:{master_port}", f"http://127.0.0.1:{ui_port}"
    procs = [_launch("org.apache.spark.deploy.master.Master",
                     ["--host", "127.0.0.1", "--port", str(master_port),
                      "--webui-port", str(ui_port)], work / "master.log", "256m")]
    try:
        for k in range(workers):
            procs.append(_launch(
                "org.apache.spark.deploy.worker.Worker",
                [url, "--host", "127.0.0.1", "--port", str(ports(2 + 2 * k)),
                 "--webui-port", str(ports(3 + 2 * k)), "--cores", str(cores),
                 "--memory", memory, "--work-dir", str(work / f"worker-{k}")],
                work / f"worker-{k}.log", "256m"))
        _wait_for(ui, workers, procs, work, timeout)
        yield Cluster(url, ui, tuple(p.pid for p in procs[1:]))
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _wait_for(ui: str, workers: int, procs: list[subprocess.Popen], work: Path,
              timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive_workers(ui) < workers:
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}"
                             for f in sorted(work.glob("*.log")))
            raise RuntimeError(f"the Spark cluster did not come up:\n{logs}")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group this module started, then SIGKILL after 20 s."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
