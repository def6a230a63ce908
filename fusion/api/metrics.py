"""Prometheus metrics of one service instance (``GET /metrics``).

Each :class:`Metrics` owns its own ``CollectorRegistry``, so several apps in one process (tests,
benchmarks) never share counters. Label values come from clients (operation names) and from
error handling (outcomes, Neo4j error kinds); each label accepts a bounded number of distinct
values and folds the rest into ``_other``, so a client sending random operation names cannot
grow the registry without bound. Only authenticated requests spend the operation budget: every
request without a valid token is counted under the one label ``_unauthenticated``, so junk
names sent without a token cannot push real operations into ``_other``.

With `fusion serve --workers N` every worker counts into files of one shared directory
(prometheus_client's multiprocess mode: the supervisor sets ``PROMETHEUS_MULTIPROC_DIR``
before it starts the workers, see :mod:`fusion.commands.serve`), and ``GET /metrics``, whichever
worker answers it, sums every worker's counters and histograms; the ``process_*`` series are
those of the answering worker.

Series:
    fusion_graphql_requests_total{operation,outcome}
    fusion_graphql_request_duration_seconds{operation,outcome}   (histogram)
    fusion_graphql_request_statements{operation}   (histogram: Cypher statements per request)
    fusion_neo4j_errors_total{kind}
    fusion_build_info{version}
    process_* / python_* (the standard process, platform and GC collectors)
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.platform_collector import PlatformCollector

from fusion import __version__

# Where prometheus_client's multiprocess mode keeps the workers' counters (read at its import).
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
ANONYMOUS = "_anonymous"
UNAUTHENTICATED = "_unauthenticated"
OTHER = "_other"
INVALID = "_invalid"

# GraphQL operations answer in milliseconds to a few seconds (paths, gangs); the transaction
# timeout caps the top.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A request runs a handful of statements; a count growing with its results shows per-entity
# queries (the "N+1" pattern) creeping in.
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 32, 64)

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_OUTCOME = re.compile(r"[a-z]+(:[A-Z_]{1,40})?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,99}")


class _LabelBudget:
    """Admits at most `limit` distinct values for one label; later newcomers become OTHER."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def admit(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self._limit:
                self._seen.add(value)
                return value
        return OTHER


def operation_label(name: str | None) -> str:
    """The label for a GraphQL operation name: the name, ANONYMOUS, or INVALID."""
    if not name:
        return ANONYMOUS
    return name if _NAME.fullmatch(name) else INVALID


class Metrics:
    """Request, latency and Neo4j-error metrics in a registry of this instance's own."""

    def __init__(self, *, max_operations: int = 200, max_outcomes: int = 50,
                 max_error_kinds: int = 50, process: bool = True,
                 shared_dir: Path | None = None) -> None:
        # shared_dir: the workers' directory (PROMETHEUS_MULTIPROC_DIR, set before
        # prometheus_client was imported); None: this process's counters alone.
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.process_registry = CollectorRegistry(auto_describe=True)
        self._operations = _LabelBudget(max_operations)
        self._outcomes = _LabelBudget(max_outcomes)
        self._kinds = _LabelBudget(max_error_kinds)
        self.requests = Counter(
            "fusion_graphql_requests", "GraphQL requests by operation name and outcome.",
            ["operation", "outcome"], registry=self.registry)
        self.latency = Histogram(
            "fusion_graphql_request_duration_seconds",
            "Time from receiving a GraphQL request to its response, by operation and outcome.",
            ["operation", "outcome"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.statements = Histogram(
            "fusion_graphql_request_statements",
            "Cypher statements a GraphQL request ran through fusion.api.cypher (joint-operation "
            "lookups and the analyses' statements in worker threads not included), by "
            "operation.",
            ["operation"], buckets=STATEMENT_BUCKETS, registry=self.registry)
        self.neo4j_errors = Counter(
            "fusion_neo4j_errors", "Errors raised by the Neo4j driver or server, by kind.",
            ["kind"], registry=self.registry)
        build = Gauge("fusion_build_info", "The running Fusion version (always 1).",
                      ["version"], registry=self.registry, multiprocess_mode="max")
        build.labels(version=__version__).set(1)
        if process:
            ProcessCollector(registry=self.process_registry)
            PlatformCollector(registry=self.process_registry)
            GCCollector(registry=self.process_registry)

    def observe_request(self, operation: str | None, seconds: float, outcome: str,
                        statements: int | None = None, *, authenticated: bool = True) -> None:
        """Count one GraphQL request and record its latency (and its Cypher statements)."""
        op = (self._operations.admit(operation_label(operation)) if authenticated
              else UNAUTHENTICATED)
        out = self._outcomes.admit(outcome if _OUTCOME.fullmatch(outcome) else INVALID)
        self.requests.labels(operation=op, outcome=out).inc()
        self.latency.labels(operation=op, outcome=out).observe(max(seconds, 0.0))
        if statements is not None:
            self.statements.labels(operation=op).observe(max(statements, 0))

    def neo4j_error(self, kind: str) -> None:
        """Count one Neo4j error of the given kind (e.g. the exception class or Neo4j code)."""
        label = kind if _KIND.fullmatch(kind) else INVALID
        self.neo4j_errors.labels(kind=self._kinds.admit(label)).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text of every series (of every worker when they share a directory),
        and its content type."""
        if self.shared_dir is None:
            counted = generate_latest(self.registry)
        else:
            workers = CollectorRegistry()
            MultiProcessCollector(workers, path=str(self.shared_dir))
            counted = generate_latest(workers)
        return counted + generate_latest(self.process_registry), CONTENT_TYPE_LATEST
