"""The machine a benchmark report was measured on, as Markdown.

Ratios between two implementations measured in the same run travel between machines; absolute
seconds do not, so every report starts with what it ran on.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = ("polars", "numpy", "networkx", "igraph", "neo4j", "neo4j-rust-ext", "duckdb",
            "strawberry-graphql", "uvicorn")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo."""
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return None


def java_version() -> str:
    """The first line of ``java -version``, or "not found"."""
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (done.stderr or done.stdout).splitlines()
    return lines[0] if lines else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def machine_section(command: str) -> str:
    """A Markdown section describing this machine, the software and the command run."""
    from fusion.managed.install import NEO4J_VERSION

    memory = memory_gib()
    load1, load5, _ = os.getloadavg()
    rows = [
        ("date (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("command", f"`{command}`"),
        ("CPU", f"{cpu_model()}, {os.cpu_count()} logical cores"),
        ("memory", f"{memory:.1f} GiB" if memory else "unknown"),
        ("load average at start (1/5 min)", f"{load1:.2f} / {load5:.2f}"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Java", java_version()),
        ("Neo4j", f"Community {NEO4J_VERSION} (managed, from Maven Central)"),
        ("packages", ", ".join(f"{p} {_version(p)}" for p in PACKAGES)),
    ]
    lines = ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB, since it started its program.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` survives ``exec``: a child started by a big benchmark
    process would report its parent's size. The kernel's ``VmHWM`` belongs to the address space
    that ``exec`` created, so it is the program's own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
