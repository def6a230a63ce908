"""GraphQL service under load: Entity alone and the mix, at 1 to 32 clients, one process and
`fusion serve --workers 2`; GraphQL vs Bolt for one 6-hop path statement; the CPU it all took.

Starts its own managed Neo4j (temporary FUSION_HOME, ports 37787/37574 or
FUSION_BENCH_API_BOLT_PORT/_HTTP_PORT), generates and loads the multi-region scenario and
materializes co-travel as ``fusion demo`` does (scale 0.2 x ``scale``), starts ``fusion serve``
on a free loopback port in a subprocess, issues an analyst token for every region, and drives a
fixed, seeded mix of contract operations (Entity 40 %, Search 30 %, RelationshipPaths 20 %,
CoTravel with a subject 10 %; documents from the shipped saved queries, arguments from the
scenario's truth.json) from asyncio clients (bench._lean; FUSION_BENCH_API_CLIENT=httpx for
httpx), for a bounded time per level after a warm-up
(bench._apiload: requests/s, p50/p95, service CPU ms per request, the load generator's CPU).
Every response must be HTTP 200 with data and no GraphQL error; a run with any error fails.
Then the 6-hop path statement over Bolt vs RelationshipPaths over HTTP (bench._pathcost, with
the floor under the ratio: the statement over bare HTTP, bench._pathfloor), and a
soak: 32 clients for 60 s (x ``scale``) of the mix, with the audit records it added counted
against the requests sent (they must be equal). Then the busiest levels again with two worker
processes. The report lists the issue's targets (#17), met or not.

Against a running service (e.g. to measure another commit the same way)::

    python -m bench.api --url http://127.0.0.1:8000 --token T --truth .../truth.json \
        --pid <fusion serve's pid> --paths
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from importlib.resources import files
from pathlib import Path

import httpx
import numpy as np

from bench import _pathcost as pathcost
from bench import _pathfloor as pathfloor
from bench._apiload import HEADER, Level, Measured, run_level
from bench._lean import Answer, LeanConnection, LeanError
from bench._service import serve_command, server_env, serving
from fusion.services.models import EntityRef

# Ports of the managed Neo4j the benchmark starts (overridable: two engineers on one machine).
BOLT = int(os.environ.get("FUSION_BENCH_API_BOLT_PORT", "37787"))
HTTP = int(os.environ.get("FUSION_BENCH_API_HTTP_PORT", "37574"))
SECONDS_PER_LEVEL = 10.0
SOAK_CLIENTS = 32
SOAK_SECONDS = 60.0  # at scale 1 (the reference run); shorter for smaller runs
WARMUP_SECONDS = 3.0
REQUEST_TIMEOUT = 60.0
READY_TIMEOUT = 300.0
SCENARIO_SCALE = 0.2  # what `fusion demo` loads
MIX = {"Entity": 4, "Search": 3, "RelationshipPaths": 2, "CoTravel": 1}
SURNAMES = ("王", "李", "张", "刘", "陈", "杨")
# The load generator's HTTP client: "lean" (bench._lean) or "httpx" (the figures before
# 2026-12-03 used httpx, which costs the shared cores about 0.3 ms of CPU more per request).
CLIENT = os.environ.get("FUSION_BENCH_API_CLIENT", "lean")
Post = Callable[[dict], Awaitable["httpx.Response | Answer"]]


@dataclass(frozen=True)
class Call:
    """One request of the mix: a saved operation and its variables."""

    operation: str
    variables: dict


@dataclass(frozen=True)
class Sample:
    """One answered request."""

    operation: str
    seconds: float
    error: str | None


def _ref(kind: str, key: str) -> dict:
    return {"kind": kind, "key": key}


def _arguments(truth: dict) -> dict[str, list[dict]]:
    """Variables per operation, drawn from the planted structures of the scenario."""
    gangs = truth["gangs"]
    entities = ([_ref("PERSON", k) for g in gangs for k in g["members"]]
                + [_ref("PHONE", k) for g in gangs for k in g["phones"]]
                + [_ref("VEHICLE", k) for g in gangs for k in g["plates"]])
    texts = ([k for g in gangs for k in g["plates"][:2]]
             + [k for g in gangs for k in g["phones"][:2]] + list(SURNAMES))
    pairs = [(_ref("PERSON", a), _ref("PERSON", b))
             for g in gangs for a, b in zip(g["members"], g["members"][1:], strict=False)]
    chain = truth["fraud_chain"]
    pairs.append((_ref("PERSON", chain["victim"]), _ref("PERSON", chain["gang_member"])))
    subjects = {(p["a"]["kind"], p["a"]["key"]) for p in truth["cotravel_pairs"]}
    return {
        "Entity": [{"ref": e} for e in entities],
        "Search": [{"text": t, "limit": 20} for t in texts],
        "RelationshipPaths": [{"from": a, "to": b, "maxHops": 6, "limit": 3} for a, b in pairs],
        "CoTravel": [{"subject": _ref(k, key), "limit": 100} for k, key in sorted(subjects)],
    }


def workload(truth: dict, size: int = 2000, seed: int = 5) -> list[Call]:
    """A seeded sequence of calls in the proportions of MIX."""
    rng = random.Random(seed)
    arguments = _arguments(truth)
    names = [name for name, weight in MIX.items() for _ in range(weight)]
    return [Call(op, rng.choice(arguments[op])) for op in (rng.choice(names) for _ in range(size))]


def documents() -> dict[str, str]:
    """The shipped saved-query documents of the operations in the mix."""
    saved = files("queries").joinpath("saved")
    return {name: saved.joinpath(f"{name}.graphql").read_text(encoding="utf-8") for name in MIX}


def _error_of(response: httpx.Response | Answer) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    body = response.json()
    if body.get("errors"):
        return json.dumps(body["errors"][0], ensure_ascii=False)[:300]
    return None if body.get("data") is not None else "no data"


async def _client(post: Post, docs: dict[str, str], calls: list[Call], start: int,
                  deadline: float, out: list[Sample]) -> None:
    i = start
    while time.perf_counter() < deadline:
        call = calls[i % len(calls)]
        i += 1
        payload = {"query": docs[call.operation], "operationName": call.operation,
                   "variables": call.variables}
        began = time.perf_counter()
        try:
            response = await post(payload)
            error = _error_of(response)
        except (httpx.HTTPError, LeanError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        out.append(Sample(call.operation, time.perf_counter() - began, error))


async def drive(base_url: str, token: str, docs: dict[str, str], calls: list[Call],
                concurrency: int, seconds: float, client: str = CLIENT
                ) -> tuple[list[Sample], float]:
    """Run `concurrency` clients for `seconds`; the answered samples and the wall time.

    ``client``: ``lean`` (bench._lean, one keep-alive connection per client) or ``httpx``
    (one AsyncClient with a pool of `concurrency` connections, as before)."""
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "BENCH load test"}
    samples: list[Sample] = []
    async with _posters(base_url, headers, concurrency, client) as posts:
        began = time.perf_counter()
        deadline = began + seconds
        stride = max(1, len(calls) // concurrency)
        await asyncio.gather(*(_client(post, docs, calls, c * stride, deadline, samples)
                               for c, post in enumerate(posts)))
        return samples, time.perf_counter() - began


@asynccontextmanager
async def _posters(base_url: str, headers: dict[str, str], concurrency: int, client: str
                   ) -> AsyncIterator[list[Post]]:
    """One POST-to-/graphql function per simulated client."""
    if client == "httpx":
        limits = httpx.Limits(max_connections=concurrency,
                              max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits,
                                     timeout=REQUEST_TIMEOUT) as http:
            yield [partial(_httpx_post, http) for _ in range(concurrency)]
        return
    if client != "lean":
        raise ValueError(f"unknown load generator client {client!r} (lean or httpx)")
    connections = [LeanConnection(base_url, headers, REQUEST_TIMEOUT)
                   for _ in range(concurrency)]
    try:
        yield [partial(_lean_post, c) for c in connections]
    finally:
        for c in connections:
            await c.aclose()


async def _httpx_post(http: httpx.AsyncClient, payload: dict) -> httpx.Response:
    return await http.post("/graphql", json=payload)


async def _lean_post(connection: LeanConnection, payload: dict) -> Answer:
    return await connection.post("/graphql", payload)


def _ms(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q) * 1000:.1f}"


def summarize(concurrency: int, samples: list[Sample], wall: float) -> list[str]:
    """Table rows for one level: every operation, then all together."""
    by_op: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_op[s.operation].append(s)
    rows = []
    for name, group in [*((op, by_op[op]) for op in MIX if by_op[op]), ("all", samples)]:
        seconds = [s.seconds for s in group]
        errors = sum(1 for s in group if s.error)
        rows.append(f"| {concurrency} | {name} | {len(group):,} | {len(group) / wall:,.1f} | "
                    f"{_ms(seconds, 50)} | {_ms(seconds, 95)} | {errors} |")
    return rows


def _load_scenario(settings, scenario: Path, scale: float) -> dict:
    """Generate and load the scenario in `fusion demo`'s order; its truth.json."""
    from fusion.db import connect, ensure_schema
    from fusion.scenario.generate import generate_scenario
    from loaders.ingest import load_files

    generate_scenario(scenario, scale=scale, seed=1)
    truth = json.loads((scenario / "truth.json").read_text(encoding="utf-8"))
    with connect(settings) as driver:
        ensure_schema(driver, settings.neo4j_database)
        for entry in truth["load_order"]:
            profile = scenario / entry["profile"] if entry["profile"] else None
            load_files(driver, settings.neo4j_database, settings.home, entry["kind"],
                       [scenario / entry["file"]], entry["region"], profile)
    return truth


def _analyze_cotravel(settings, secret: str) -> None:
    """Materialize CO_TRAVELED as `fusion demo` does (`fusion analyze cotravel`)."""
    fusion = Path(sys.executable).with_name("fusion")
    done = subprocess.run([str(fusion), "analyze", "cotravel", "--json"], capture_output=True,
                          text=True, env=server_env(settings, secret), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"fusion analyze cotravel failed:\n{done.stderr[-3000:]}")


def _server_counted(base_url: str) -> float:
    """Requests the server's own /metrics counted (all operations and outcomes)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text)
               for s in f.samples if s.name == "fusion_graphql_requests_total")


LEVELS = (Level("Entity", ("Entity",), 1), Level("Entity", ("Entity",), 8),
          Level("mix", None, 1), Level("mix", None, 8), Level("mix", None, 32))
# With `fusion serve --workers 2`: the levels that load the service most.
WORKER_LEVELS = (Level("Entity", ("Entity",), 8), Level("mix", None, 8), Level("mix", None, 32))
# The busiest level again with httpx as the load generator's client (how the figures before
# bench._lean were taken): what the client's own CPU costs the shared cores.
HTTPX_LEVEL = Level("mix, httpx client", None, 32)


def measure(base_url: str, token: str, calls: list[Call], seconds: float,
            levels: tuple[Level, ...] = LEVELS, service_pid: int | None = None,
            client: str = CLIENT) -> tuple[list[Measured], list[str], int]:
    """Every level: its figures, error examples, and how many requests the clients sent."""
    docs = documents()

    def bound(chosen: list[Call], clients: int, span: float):
        return drive(base_url, token, docs, chosen, clients, span, client)

    results, errors, sent = [], [], 0
    for level in levels:
        measured, samples = run_level(bound, level, calls, seconds, WARMUP_SECONDS, service_pid)
        results.append(measured)
        sent += len(samples)
        errors += [f"{s.operation}: {s.error}" for s in samples if s.error][:3]
        print(measured.row(), file=sys.stderr, flush=True)
    return results, errors, sent


def path_pairs(truth: dict) -> list[tuple[EntityRef, EntityRef]]:
    """The RelationshipPaths pairs of the mix, as the service's canonical references."""
    return [(EntityRef.parse(a["kind"], a["key"]), EntityRef.parse(b["kind"], b["key"]))
            for a, b in ((v["from"], v["to"]) for v in _arguments(truth)["RelationshipPaths"])]


def path_overhead(base_url: str, token: str, settings, truth: dict, env: dict[str, str],
                  scratch: Path) -> tuple[list[str], float]:
    """GraphQL over HTTP vs Cypher over Bolt for the mix's path pairs (bench._pathcost), with
    the floor under it (bench._pathfloor, started with ``env``; its audit log and output in
    ``scratch``, which should be on FUSION_HOME's file system)."""
    audit_dir = scratch / "path-floor-audit"
    with pathfloor.served(env, audit_dir, scratch / "path-floor.log") as floor_url:
        timings = pathcost.measure(base_url, token, settings, path_pairs(truth),
                                   [r["code"] for r in truth["regions"]], floor_url)
    return pathcost.section(timings, f"{len(path_pairs(truth))} pairs of the scenario (gang "
                                     "members, the fraud chain), every region in scope")


def targets(results: list[Measured], ratio: float | None) -> list[str]:
    """The issue's targets (#17), each met or not, from this run's figures."""
    at = {(m.level.name, m.level.clients): m for m in results}
    checks = []
    if ("Entity", 8) in at:
        m = at["Entity", 8]
        checks.append(("Entity only, 8 clients >= 300 req/s with 0 errors",
                       f"{m.rate:,.1f} req/s, {m.errors} errors", m.rate >= 300 and not m.errors))
    if ("Entity", 1) in at:
        checks.append(("Entity p50 at 1 client <= 5 ms", f"{at['Entity', 1].ms(50):.1f} ms",
                       at["Entity", 1].ms(50) <= 5))
    if ("mix", 8) in at:
        checks.append(("mix, 8 clients >= 150 req/s", f"{at['mix', 8].rate:,.1f} req/s",
                       at["mix", 8].rate >= 150))
    if ("mix", 32) in at:
        checks.append(("mix p95 at 32 clients <= 250 ms", f"{at['mix', 32].ms(95):.1f} ms",
                       at["mix", 32].ms(95) <= 250))
    if ratio is not None:
        checks.append(("GraphQL / Bolt, 6-hop path, p50 <= 1.5x", f"{ratio:.2f}x", ratio <= 1.5))
    return [f"- {name}: {got} — {'met' if ok else '**not met**'}" for name, got, ok in checks]


@dataclass(frozen=True)
class Soak:
    """A long run at many clients: what was sent, failed, and written to the audit log."""

    clients: int
    seconds: float
    sent: int
    errors: int
    records: int
    error_examples: tuple[str, ...]

    def row(self) -> str:
        """One Markdown line of the soak's figures."""
        return (f"Soak: {self.clients} clients x {self.seconds:g} s of the mix: "
                f"{self.sent:,} requests ({self.sent / self.seconds:,.1f} req/s), "
                f"{self.errors} errors, {self.records:,} audit records written for them.")


def audit_records(home: Path) -> int:
    """Complete records in the audit log of a FUSION_HOME (lines ending in a newline)."""
    from fusion.auth.audit import audit_path

    path = audit_path(home)
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def soak(base_url: str, token: str, calls: list[Call], seconds: float, home: Path) -> Soak:
    """SOAK_CLIENTS clients for ``seconds``; requests vs audit records added meanwhile."""
    before = audit_records(home)
    samples, _ = asyncio.run(drive(base_url, token, documents(), calls, SOAK_CLIENTS, seconds))
    failed = [f"{s.operation}: {s.error}" for s in samples if s.error]
    return Soak(SOAK_CLIENTS, seconds, len(samples), len(failed),
                audit_records(home) - before, tuple(failed[:3]))


def _section(scale: float, seconds: float, one: list[Measured], two: list[Measured],
             paths: list[str], ratio: float, sent: int, counted: float, soaked: Soak,
             load: str, httpx_row: list[Measured]) -> str:
    head = [
        "## GraphQL service under load", "",
        f"`fusion serve` on the demo scenario at scale {SCENARIO_SCALE * scale:g}, managed "
        f"Neo4j 5.26 on the same 2-core machine; asyncio clients in the bench's process "
        f"({CLIENT}: one keep-alive connection each) over loopback, {WARMUP_SECONDS:g} s "
        f"warm-up then {seconds:g} s per level; the mix is "
        + ", ".join(f"{op} {w * 10} %" for op, w in MIX.items())
        + "; each request authenticated, scoped and audited (fsync) as in production. "
        f"Load average at the start: {load}.", "",
        "### One process", "", *HEADER, *(m.row() for m in [*one, *httpx_row]), "",
        f"The server's /metrics counted {counted:,.0f} GraphQL requests; the clients sent "
        f"{sent:,}.", "",
        "### `fusion serve --workers 2`", "", *HEADER, *(m.row() for m in two), "",
        "### GraphQL over HTTP vs the same Cypher over Bolt (6-hop shortest path)", "",
        *paths, "", soaked.row(), "", "Targets (#17), one process:", *targets(one, ratio),
        "", "With `--workers 2`:", *targets(two, None),
    ]
    return "\n".join(head)


def _load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(scale: float = 1.0) -> str:
    """Start Neo4j, load, serve (one process, then two workers), measure; the section."""
    from fusion.auth import issue_token
    from fusion.config import Settings
    from fusion.managed import ManagedNeo4j

    seconds = SECONDS_PER_LEVEL * max(scale, 0.25)
    load = _load_average()
    with tempfile.TemporaryDirectory(prefix="fusion-bench-api-") as tmp:
        tmp_path = Path(tmp)
        settings = Settings(home=tmp_path / "home", db_bolt_port=BOLT, db_http_port=HTTP,
                            db_heap="2g", db_pagecache="1g", neo4j_uri=None)
        neo4j = ManagedNeo4j(settings)
        try:
            neo4j.start()
            truth = _load_scenario(settings, tmp_path / "scenario", SCENARIO_SCALE * scale)
            secret = secrets.token_hex(32)
            _analyze_cotravel(settings, secret)
            regions = [r["code"] for r in truth["regions"]]
            token = issue_token(secret.encode(), "bench", "analyst", regions, timedelta(hours=2))
            calls, log = workload(truth), tmp_path / "serve.log"
            with _served(settings, secret, log, 1) as (url, pid):
                one, errors, sent = measure(url, token, calls, seconds, LEVELS, pid)
                counted = _server_counted(url)
                paths, ratio = path_overhead(url, token, settings, truth,
                                             server_env(settings, secret), tmp_path)
                soaked = soak(url, token, calls, SOAK_SECONDS * scale, settings.home)
                httpx_row, also, _ = measure(url, token, calls, seconds, (HTTPX_LEVEL,), pid,
                                             client="httpx")
            with _served(settings, secret, log, 2) as (url, pid):
                two, more, _ = measure(url, token, calls, seconds, WORKER_LEVELS, pid)
        finally:
            neo4j.stop()
    section = _section(scale, seconds, one, two, paths, ratio, sent, counted, soaked, load,
                       httpx_row)
    errors += more + also + list(soaked.error_examples)
    if soaked.records != soaked.sent:
        errors.append(f"soak: {soaked.sent} requests but {soaked.records} audit records")
    if counted != sent:
        errors.append(f"/metrics counted {counted:,.0f} requests, the clients sent {sent:,}")
    if errors:
        raise RuntimeError(section + "\n\nErrors, first of each level:\n" + "\n".join(errors))
    return section


@contextmanager
def _served(settings, secret: str, log: Path, workers: int) -> Iterator[tuple[str, int]]:
    """`fusion serve` running (url, pid) while the block runs."""
    with serving(partial(serve_command, workers=workers), server_env(settings, secret), log,
                 READY_TIMEOUT) as served:
        yield served


def main() -> None:
    """Measure a running service: the levels, and the path overhead when --neo4j is given."""
    parser = argparse.ArgumentParser(description="bench.api against a running service")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True, help="an analyst token of every region")
    parser.add_argument("--truth", type=Path, required=True, help="the scenario's truth.json")
    parser.add_argument("--pid", type=int, help="the service's process id (its CPU is read)")
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_LEVEL)
    parser.add_argument("--paths", action="store_true",
                        help="also GraphQL vs Bolt (Neo4j from the FUSION_ settings)")
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text(encoding="utf-8"))
    print(f"load average {_load_average()}")
    results, errors, _ = measure(args.url, args.token, workload(truth), args.seconds,
                                 service_pid=args.pid)
    ratio = None
    lines = [*HEADER, *(m.row() for m in results)]
    if args.paths:
        from fusion.config import load_settings

        settings = load_settings()
        with tempfile.TemporaryDirectory(prefix="fusion-path-floor-",
                                         dir=settings.home) as scratch:
            paths, ratio = path_overhead(args.url, args.token, settings, truth,
                                         dict(os.environ), Path(scratch))
        lines += ["", *paths]
    print("\n".join([*lines, "", *targets(results, ratio), *errors]))
    print(f"load average {_load_average()}")


if __name__ == "__main__":
    main()
