"""Audit-log micro-benchmark: what a durable, hash-chained append costs a request.

Measures, on the disk of FUSION_HOME and in the same run: the disk's own floor (one line written
and ``fdatasync``ed), :class:`fusion.auth.audit.AuditLog` appends one at a time (every append
waits for its own flush), and appends from many concurrent requests (group commit: one flush for
everything queued). The same appends on tmpfs (``/dev/shm``, where a flush costs nothing) isolate
the CPU cost of chaining, hashing and the worker-thread hop. Usage::

    python -m bench --only audit [--scale S]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fusion.auth import audit as audit_module
from fusion.auth.audit import AuditLog, verify_audit_log
from fusion.config import load_settings

TMPFS = Path("/dev/shm")
CONCURRENCY = (8, 32, 128)
DOCUMENT = ("query CoTravel($subject: EntityRef, $scope: ScopeInput) { coTravel(subject: $subject,"
            " scope: $scope) { a { kind key } b { kind key } meetings distinctSensors } }")


@dataclass(frozen=True)
class Sample:
    """Latencies (seconds) of one mode, the wall time and how many flushes it took."""

    latencies: list[float]
    wall: float
    flushes: int


def _request(i: int) -> dict:
    return dict(user=f"analyst{i % 17}", role="analyst", operation_name="CoTravel",
                document=DOCUMENT, variables={"subject": {"kind": "VEHICLE", "key": f"P{i}"},
                                              "scope": {"regions": ["north", "south"]}},
                purpose=f"case 2024/{i % 900}", scope=["north", "south"], outcome="allowed",
                result_count=i % 50)


def _counting_sync() -> tuple[list[int], Callable[[int], None]]:
    calls: list[int] = []
    real = audit_module._sync

    def sync(fd: int) -> None:
        calls.append(fd)
        real(fd)
    return calls, sync


async def _appends(path: Path, n: int, workers: int) -> Sample:
    log = AuditLog(path)
    latencies: list[float] = []
    per_worker = max(1, n // workers)

    async def worker(w: int) -> None:
        for j in range(per_worker):
            began = time.perf_counter()
            await log.append(**_request(w * per_worker + j))
            latencies.append(time.perf_counter() - began)

    calls, sync = _counting_sync()
    real, audit_module._sync = audit_module._sync, sync
    try:
        began = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(workers)))
        wall = time.perf_counter() - began
    finally:
        audit_module._sync = real
        await log.aclose()
    return Sample(latencies, wall, len(calls))


def _disk_floor(directory: Path, n: int) -> Sample:
    path = directory / "floor.log"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    line = b"x" * 600 + b"\n"
    latencies = []
    began = time.perf_counter()
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, line)
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - t)
    finally:
        os.close(fd)
    return Sample(latencies, time.perf_counter() - began, n)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _row(mode: str, sample: Sample) -> str:
    q = statistics.quantiles(sample.latencies, n=100, method="inclusive")
    n = len(sample.latencies)
    return (f"| {mode} | {n} | {_ms(q[49])} | {_ms(q[94])} | {n / sample.wall:,.0f} | "
            f"{sample.flushes / n:.3f} |")


def _measure(directory: Path, n: int, label: str) -> list[str]:
    rows = []
    for workers in (1, *CONCURRENCY):
        path = directory / f"audit-{workers}.log"
        sample = asyncio.run(_appends(path, n, workers))
        result = verify_audit_log(path)
        if not result.ok or result.records != len(sample.latencies):
            raise RuntimeError(f"broken chain after the {label} run: {result}")
        mode = "one at a time" if workers == 1 else f"{workers} concurrent requests"
        rows.append(_row(f"{label}, {mode}", sample))
    return rows


def run(scale: float = 1.0) -> str:
    """Audit append latency with and without concurrency, on FUSION_HOME's disk and on tmpfs."""
    n = max(200, int(2000 * scale))
    home = load_settings().home
    home.mkdir(parents=True, exist_ok=True)
    disk = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=home))
    shm = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=TMPFS)) if TMPFS.is_dir() else None
    try:
        rows = [_row("disk floor: write + fdatasync of one line", _disk_floor(disk, n))]
        rows += _measure(disk, n, "AuditLog on disk")
        if shm is not None:
            rows += _measure(shm, n, "AuditLog on tmpfs (no flush cost)")
    finally:
        shutil.rmtree(disk, ignore_errors=True)
        if shm is not None:
            shutil.rmtree(shm, ignore_errors=True)
    return "\n".join([
        "## Audit log: append latency (bench.audit)", "",
        f"{n} appends per mode; latency is from `append()` called to returned, i.e. what a "
        f"request waits for its record to be durable. Disk: the filesystem of {home}.", "",
        "| mode | appends | p50 ms | p95 ms | appends/s | flushes per append |",
        "|---|---:|---:|---:|---:|---:|",
        *rows, "",
        "One at a time, an append costs one `fdatasync` of this disk (compare the floor) plus the "
        "chaining; under concurrency, group commit shares each flush among the queued records.",
    ])


if __name__ == "__main__":
    print(run())
