"""GraphQL service under load: requests/s and p50/p95 per operation at 1, 8 and 32 clients.

Starts its own managed Neo4j (temporary FUSION_HOME, ports 37787/37574), generates and loads
the multi-region scenario and materializes co-travel as ``fusion demo`` does (scale 0.2 x
``scale``), starts ``fusion serve`` on a free loopback port in a subprocess, issues an analyst
token for every region, and drives a fixed, seeded mix of contract operations (Entity 40 %,
Search 30 %, RelationshipPaths 20 %, CoTravel with a subject 10 %; documents from the shipped
saved queries, arguments from the scenario's truth.json) from asyncio httpx clients, for a
bounded time per level after a warm-up. Every response must be HTTP 200 with data and no
GraphQL error; a run with any error fails. Then a soak: 32 clients for 60 s (x ``scale``) of the
same mix, with the audit records it added to the log counted against the requests sent (they must
be equal). Traffic goes to 127.0.0.1 only. The clients share
the 2-core machine with Neo4j and the server, so the figures are what one box does with
everything on it.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from pathlib import Path

import httpx
import numpy as np

from bench._service import free_port

BOLT, HTTP = 37787, 37574
LEVELS = (1, 8, 32)
SECONDS_PER_LEVEL = 10.0
SOAK_CLIENTS = 32
SOAK_SECONDS = 60.0  # at scale 1 (the reference run); shorter for smaller runs
WARMUP_SECONDS = 3.0
REQUEST_TIMEOUT = 60.0
READY_TIMEOUT = 300.0
SCENARIO_SCALE = 0.2  # what `fusion demo` loads
MIX = {"Entity": 4, "Search": 3, "RelationshipPaths": 2, "CoTravel": 1}
SURNAMES = ("王", "李", "张", "刘", "陈", "杨")


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


def _error_of(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    body = response.json()
    if body.get("errors"):
        return json.dumps(body["errors"][0], ensure_ascii=False)[:300]
    return None if body.get("data") is not None else "no data"


async def _client(http: httpx.AsyncClient, docs: dict[str, str], calls: list[Call],
                  start: int, deadline: float, out: list[Sample]) -> None:
    i = start
    while time.perf_counter() < deadline:
        call = calls[i % len(calls)]
        i += 1
        payload = {"query": docs[call.operation], "operationName": call.operation,
                   "variables": call.variables}
        began = time.perf_counter()
        try:
            response = await http.post("/graphql", json=payload)
            error = _error_of(response)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        out.append(Sample(call.operation, time.perf_counter() - began, error))


async def drive(base_url: str, token: str, docs: dict[str, str], calls: list[Call],
                concurrency: int, seconds: float) -> tuple[list[Sample], float]:
    """Run `concurrency` clients for `seconds`; the answered samples and the wall time."""
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "BENCH load test"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    samples: list[Sample] = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits,
                                 timeout=REQUEST_TIMEOUT) as http:
        began = time.perf_counter()
        deadline = began + seconds
        stride = max(1, len(calls) // concurrency)
        await asyncio.gather(*(_client(http, docs, calls, c * stride, deadline, samples)
                               for c in range(concurrency)))
        return samples, time.perf_counter() - began


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
                          text=True, env=_server_env(settings, secret), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"fusion analyze cotravel failed:\n{done.stderr[-3000:]}")


def _server_env(settings, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FUSION_NEO4J_URI"}
    env.update(FUSION_HOME=str(settings.home), FUSION_DB_BOLT_PORT=str(BOLT),
               FUSION_DB_HTTP_PORT=str(HTTP), FUSION_SECRET=secret,
               FUSION_DB_HEAP=settings.db_heap, FUSION_DB_PAGECACHE=settings.db_pagecache)
    return env


def _wait_ready(base_url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"fusion serve exited {server.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"fusion serve not ready in {READY_TIMEOUT:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _server_counted(base_url: str) -> float:
    """Requests the server's own /metrics counted (all operations and outcomes)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text)
               for s in f.samples if s.name == "fusion_graphql_requests_total")


def measure(base_url: str, token: str, calls: list[Call],
            seconds: float) -> tuple[list[str], list[str], int]:
    """Every level: table rows, error examples, and how many requests the clients sent."""
    docs = documents()
    rows: list[str] = []
    errors: list[str] = []
    sent = 0
    for level in LEVELS:
        warm, _ = asyncio.run(drive(base_url, token, docs, calls, level, WARMUP_SECONDS))
        samples, wall = asyncio.run(drive(base_url, token, docs, calls, level, seconds))
        sent += len(warm) + len(samples)
        rows += summarize(level, samples, wall)
        errors += [f"{s.operation}: {s.error}" for s in warm + samples if s.error][:3]
        print(rows[-1], file=sys.stderr, flush=True)
    return rows, errors, sent


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


def _section(scale: float, seconds: float, rows: list[str], sent: int, counted: float,
             soaked: Soak) -> str:
    head = [
        "## GraphQL service under load", "",
        f"`fusion serve` (one process) on the demo scenario at scale {SCENARIO_SCALE * scale:g}, "
        f"managed Neo4j 5.26 on the same 2-core machine; asyncio httpx clients over loopback, "
        f"{WARMUP_SECONDS:g} s warm-up then {seconds:g} s per level; mix "
        + ", ".join(f"{op} {w * 10} %" for op, w in MIX.items())
        + "; each request authenticated, scoped and audited (fsync) as in production.", "",
        "| clients | operation | requests | req/s | p50 ms | p95 ms | errors |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    tail = ["", f"The server's /metrics counted {counted:,.0f} GraphQL requests; "
                f"the clients sent {sent:,} (before the soak).", "", soaked.row()]
    return "\n".join(head + rows + tail)


def run(scale: float = 1.0) -> str:
    """Start Neo4j, load, serve, measure every level; the Markdown section."""
    from fusion.auth import issue_token
    from fusion.config import Settings
    from fusion.managed import ManagedNeo4j

    seconds = SECONDS_PER_LEVEL * max(scale, 0.25)
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
            rows, errors, sent, counted, soaked = _serve_and_measure(
                settings, secret, token, workload(truth), seconds, SOAK_SECONDS * scale,
                tmp_path / "serve.log")
        finally:
            neo4j.stop()
    section = _section(scale, seconds, rows, sent, counted, soaked)
    errors += list(soaked.error_examples)
    if soaked.records != soaked.sent:
        errors.append(f"soak: {soaked.sent} requests but {soaked.records} audit records")
    if errors:
        raise RuntimeError(section + "\n\nErrors, first of each level:\n" + "\n".join(errors))
    return section


def serve_command(port: int) -> list[str]:
    """The command line starting the service on a loopback port."""
    fusion = Path(sys.executable).with_name("fusion")
    return [str(fusion), "serve", "--host", "127.0.0.1", "--port", str(port)]


def _serve_and_measure(settings, secret: str, token: str, calls: list[Call], seconds: float,
                       soak_seconds: float, log: Path
                       ) -> tuple[list[str], list[str], int, float, Soak]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log.open("w") as sink:
        server = subprocess.Popen(serve_command(port), env=_server_env(settings, secret),
                                  stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base_url, server, log)
        rows, errors, sent = measure(base_url, token, calls, seconds)
        counted = _server_counted(base_url)
        return rows, errors, sent, counted, soak(base_url, token, calls, soak_seconds,
                                                 settings.home)
    finally:
        _stop(server)


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
