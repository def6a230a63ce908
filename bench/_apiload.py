"""Load levels of bench.api: who sends what, and what it cost the service and the load
generator.

A level is a set of operations (Entity alone, or the whole mix) at a number of concurrent
clients. Besides requests/s and latency it records CPU time: of this process (the load
generator shares the 2 cores with the service and Neo4j, so it is reported) and, when the
service's process id is known, of the service's whole process tree (workers included) — CPU
ms per request, a figure a busy machine disturbs far less than requests/s.
"""

from __future__ import annotations

import asyncio
import os
import resource
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Level:
    """``clients`` concurrent clients sending ``operations`` (None: the whole mix)."""

    name: str
    operations: tuple[str, ...] | None
    clients: int


@dataclass(frozen=True)
class Measured:
    """One level's outcome."""

    level: Level
    latencies: list[float]       # seconds, answered requests
    errors: int
    wall: float
    client_cpu: float            # CPU seconds of the load generator
    service_cpu: float | None    # CPU seconds of the service's process tree

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return len(self.latencies) / self.wall

    def ms(self, q: float) -> float:
        """The ``q``-th percentile latency, milliseconds."""
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else 0.0

    def row(self) -> str:
        """One Markdown table row."""
        per_request = ("" if self.service_cpu is None or not self.latencies else
                       f"{self.service_cpu / len(self.latencies) * 1000:.2f}")
        return (f"| {self.level.name} | {self.level.clients} | {len(self.latencies):,} | "
                f"{self.rate:,.1f} | {self.ms(50):.1f} | {self.ms(95):.1f} | {self.errors} | "
                f"{per_request} | {self.client_cpu / self.wall:.2f} |")


HEADER = ["| operations | clients | requests | req/s | p50 ms | p95 ms | errors | "
          "service CPU ms/request | load generator CPU (cores) |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(pid: int | None) -> float | None:
    """CPU seconds of process ``pid`` and its children (live ones); None without a pid."""
    if pid is None:
        return None
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def run_level(drive, level: Level, calls: list, seconds: float, warmup: float,
              service_pid: int | None) -> tuple[Measured, list]:
    """Warm up, then measure one level: its figures and its samples (warm-up's included).

    ``drive(calls, clients, seconds)`` runs the clients (bench.api.drive bound to a service).
    """
    chosen = [c for c in calls if level.operations is None or c.operation in level.operations]
    warm, _ = asyncio.run(drive(chosen, level.clients, warmup))
    client, service = _own_cpu(), tree_cpu(service_pid)
    samples, wall = asyncio.run(drive(chosen, level.clients, seconds))
    client = _own_cpu() - client
    if service is not None:
        service = tree_cpu(service_pid) - service
    return Measured(level, [s.seconds for s in samples if not s.error],
                    sum(1 for s in samples if s.error), wall, client, service), warm + samples
