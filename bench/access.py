"""What access control costs: scope enforcement and the audit write, on the same data.

Starts its own managed Neo4j (temporary FUSION_HOME, ports 37804/37504), generates and loads
the multi-region scenario as ``fusion demo`` does (scale 0.2 x ``scale``), and measures:

1. **Scope inside the analyses** (the functions the service calls): each analysis unscoped
   (``scope=None``, no filter at all: an administrative run) against the same call scoped to
   every region (every filter evaluated, same answer — checked) and to one region. Runs
   alternate between the variants so drift hits both alike.
2. **Scope through the running service** (uvicorn in this process, real HTTP over loopback):
   the same request with the caller's home regions (all regions), through a joint operation over
   the same regions (a membership lookup more), and with one home region.
3. **Audit overhead through the running service**: the wall time each request spends in
   ``AuditLog.append`` (durable: fdatasync'ed before the response), measured inside the server,
   for requests one at a time and from concurrent clients (group commit).

Usage: ``python -m bench --only access [--scale S]``.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import httpx

from bench._service import ThreadedService
from bench.api import _load_scenario

BOLT, HTTP = 37804, 37504
SCENARIO_SCALE = 0.2
REPEATS = 11
CONCURRENT_CLIENTS = 8
CONCURRENT_SECONDS = 12.0
AUDIT_PAIRS = 300
TARGET_RATIO, TARGET_AUDIT_MS = 1.2, 2.0


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def _alternating(variants: dict[str, Callable[[], object]], repeats: int
                 ) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Seconds of every run per variant (after one warm-up each) and each variant's answer."""
    answers = {name: fn() for name, fn in variants.items()}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            took, _ = _timed(fn)
            seconds[name].append(took)
    return seconds, answers


# -- 1. analyses --------------------------------------------------------------------------------

def _analysis_calls(call: Callable, truth: dict) -> dict[str, Callable]:
    """Each analysis as ``fn(scope)``, run through the service layer (``call``)."""
    from fusion.services.cotravel import co_travel_groups, co_travel_pairs
    from fusion.services.gangs import gangs
    from fusion.services.models import EntityRef
    from fusion.services.paths import relationship_paths

    chain = truth["fraud_chain"]
    victim, member = EntityRef("PERSON", chain["victim"]), EntityRef("PERSON", chain["gang_member"])
    subject = EntityRef(**truth["cross_region_pair"]["members"][0])
    return {
        "relationship_paths (fraud chain, 3 shortest)": lambda scope: call(
            relationship_paths, victim, member, scope=scope),
        "gangs (Leiden)": lambda scope: call(gangs, scope=scope),
        "co_travel_pairs (one subject)": lambda scope: call(
            co_travel_pairs, scope=scope, subject=subject),
        "co_travel_groups": lambda scope: call(co_travel_groups, scope=scope),
    }


def _analyses_section(settings, truth: dict, repeats: int) -> tuple[list[str], list[float]]:
    from fusion.services.blocking import blocking_calls

    regions = frozenset(r["code"] for r in truth["regions"])
    one = frozenset({truth["fraud_chain"]["victim_region"]})
    rows, ratios = [], []
    with blocking_calls(settings) as run:
        for name, call in _analysis_calls(run, truth).items():
            seconds, answers = _alternating({
                "unscoped": lambda c=call: c(None), "all": lambda c=call: c(regions),
                "one": lambda c=call: c(one)}, repeats)
            if answers["unscoped"] != answers["all"]:
                raise RuntimeError(f"{name}: scoped to every region, the answer differs")
            base, scoped = _p(seconds["unscoped"], 50), _p(seconds["all"], 50)
            ratios.append(scoped / base)
            rows.append(f"| {name} | {base * 1000:.1f} | {scoped * 1000:.1f} | "
                        f"{scoped / base:.2f}x | {_p(seconds['one'], 50) * 1000:.1f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows, ratios


# -- 2. and 3. the running service --------------------------------------------------------------

class _Service(ThreadedService):
    """The service in a background thread, its audit appends timed from inside.

    ``audit_on = False`` turns the append into an immediate return: the benchmark's own
    baseline (the product has no such switch), so that the same requests can be timed with
    and without the audit write.
    """

    def __init__(self, settings) -> None:
        from fusion.api.app import create_app

        super().__init__(create_app(settings))
        self.audit_on = True
        self.appends: list[float] = []      # seconds each request spent in append()
        self.writes: list[float] = []       # seconds of each flush: lock, write, fdatasync

    def __enter__(self) -> _Service:
        super().__enter__()
        self._instrument(self.app.state.services.audit)
        return self

    def _instrument(self, audit) -> None:
        append, write_batch = audit.append, audit._write_batch

        async def timed_append(**fields):
            if not self.audit_on:
                return None
            began = time.perf_counter()
            try:
                return await append(**fields)
            finally:
                self.appends.append(time.perf_counter() - began)

        def timed_write(bodies):
            began = time.perf_counter()
            try:
                return write_batch(bodies)
            finally:
                self.writes.append(time.perf_counter() - began)
        audit.append, audit._write_batch = timed_append, timed_write

    def reset(self) -> None:
        """Forget the timings so far."""
        self.appends.clear()
        self.writes.clear()


def _document(name: str) -> str:
    return files("queries").joinpath("saved", f"{name}.graphql").read_text("utf-8")


def _post(http: httpx.Client, token: str, name: str, variables: dict) -> dict:
    response = http.post("/graphql", json={"query": _document(name), "variables": variables,
                                           "operationName": name},
                         headers={"Authorization": f"Bearer {token}", "X-Purpose": "BENCH"})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{name} failed: {response.text[:300]}")
    return body["data"]


def _service_requests(truth: dict) -> dict[str, dict]:
    chain = truth["fraud_chain"]
    victim = {"kind": "PERSON", "key": chain["victim"]}
    return {
        "Entity": {"ref": victim},
        "Search": {"text": chain["victim"]},
        "Neighborhood": {"ref": victim, "hops": 2},
        "RelationshipPaths": {"from": victim,
                              "to": {"kind": "PHONE", "key": chain["victim_phone"]}},
        "CoTravel": {"subject": truth["cross_region_pair"]["members"][0]},
        "Gangs": {},
    }


def _joint_operation(http: httpx.Client, admin: str, regions: list[str], member: str) -> str:
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    data = _post(http, admin, "CreateJointOperation",
                 {"name": "bench", "regions": regions, "members": [member], "validUntil": until})
    return data["createJointOperation"]["id"]


def _service_section(service: _Service, tokens: dict[str, str], truth: dict, joint: str,
                     repeats: int) -> tuple[list[str], list[float]]:
    rows, ratios = [], []
    with httpx.Client(base_url=service.url, timeout=120) as http:
        for name, variables in _service_requests(truth).items():
            seconds, answers = _alternating({
                "home": lambda n=name, v=variables: _post(http, tokens["all"], n, v),
                "joint": lambda n=name, v=variables: _post(
                    http, tokens["all"], n, {**v, "scope": {"jointOperation": joint}}),
                "one": lambda n=name, v=variables: _post(http, tokens["one"], n, v),
            }, repeats)
            if answers["home"] != answers["joint"]:
                raise RuntimeError(f"{name}: the joint operation's answer differs")
            home, through = _p(seconds["home"], 50), _p(seconds["joint"], 50)
            ratios.append(through / home)
            rows.append(f"| {name} | {home * 1000:.1f} | {through * 1000:.1f} | "
                        f"{through / home:.2f}x | {_p(seconds['one'], 50) * 1000:.1f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows, ratios


def _entity_payload(truth: dict) -> dict:
    return {"query": _document("Entity"), "variables": _service_requests(truth)["Entity"],
            "operationName": "Entity"}


def _checked(response: httpx.Response) -> None:
    if response.status_code != 200 or response.json().get("errors"):
        raise RuntimeError(f"Entity failed: {response.text[:300]}")


def _sequential_ab(service: _Service, token: str, truth: dict, pairs: int
                   ) -> dict[bool, list[float]]:
    """Entity one request at a time, alternating audit on and off; client-side seconds."""
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "BENCH"}
    payload = _entity_payload(truth)
    seconds: dict[bool, list[float]] = {True: [], False: []}
    with httpx.Client(base_url=service.url, headers=headers, timeout=120) as http:
        for _ in range(pairs):
            for on in (True, False):
                service.audit_on = on
                took, response = _timed(lambda: http.post("/graphql", json=payload))
                _checked(response)
                seconds[on].append(took)
    service.audit_on = True
    return seconds


async def _concurrent_ab(service: _Service, token: str, truth: dict, clients: int,
                         seconds: float, phases: int) -> dict[bool, list[float]]:
    """``clients`` clients sending Entity; phases alternate audit on and off."""
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "BENCH"}
    payload = _entity_payload(truth)
    out: dict[bool, list[float]] = {True: [], False: []}

    async def client(http: httpx.AsyncClient, deadline: float, on: bool) -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            response = await http.post("/graphql", json=payload)
            _checked(response)
            out[on].append(time.perf_counter() - began)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=service.url, headers=headers, limits=limits,
                                 timeout=120) as http:
        for phase in range(2 * phases):
            on = phase % 2 == 0
            service.audit_on = on
            deadline = time.perf_counter() + seconds / phases
            await asyncio.gather(*(client(http, deadline, on) for _ in range(clients)))
    service.audit_on = True
    return out


def _ab_row(label: str, seconds: dict[bool, list[float]], appends: list[float],
            writes: list[float]) -> tuple[str, float]:
    on, off = _p(seconds[True], 50), _p(seconds[False], 50)
    row = (f"| {label} | {len(seconds[True]):,} / {len(seconds[False]):,} | {on * 1000:.2f} | "
           f"{off * 1000:.2f} | {(on - off) * 1000:+.2f} | {_p(appends, 50) * 1000:.2f} | "
           f"{_p(appends, 95) * 1000:.2f} | {_p(writes, 50) * 1000:.2f} | "
           f"{len(appends) / max(1, len(writes)):.1f} |")
    return row, (on - off) * 1000


def _audit_rows(service: _Service, token: str, truth: dict, pairs: int, settings
                ) -> tuple[list[str], float]:
    from bench.audit import _disk_floor

    floor = _disk_floor(settings.home / "audit", 200).latencies
    service.reset()
    sequential = _sequential_ab(service, token, truth, pairs)
    row_seq, added = _ab_row("one request at a time", sequential, list(service.appends),
                             list(service.writes))
    service.reset()
    concurrent = asyncio.run(_concurrent_ab(service, token, truth, CONCURRENT_CLIENTS,
                                            CONCURRENT_SECONDS, 4))
    row_conc, _ = _ab_row(f"{CONCURRENT_CLIENTS} concurrent clients", concurrent,
                          list(service.appends), list(service.writes))
    floor_row = ("Disk floor in the same run (write + fdatasync of one line in the audit "
                 f"directory): p50 {_p(floor, 50) * 1000:.2f} ms, "
                 f"p95 {_p(floor, 95) * 1000:.2f} ms.")
    return [row_seq, row_conc, "", floor_row], added


def _measure_service(settings, truth: dict, repeats: int
                     ) -> tuple[list[str], list[float], list[str], float]:
    from fusion.auth import issue_token

    secret = settings.secret.get_secret_value().encode()
    regions = sorted(r["code"] for r in truth["regions"])
    one = truth["fraud_chain"]["victim_region"]

    def token(user: str, role: str, home: list[str]) -> str:
        return issue_token(secret, user, role, home, timedelta(hours=2))
    tokens = {"all": token("bench", "analyst", regions), "one": token("bench", "analyst", [one])}
    with _Service(settings) as service:
        with httpx.Client(base_url=service.url, timeout=120) as http:
            joint = _joint_operation(http, token("root", "admin", regions), regions, "bench")
        rows, ratios = _service_section(service, tokens, truth, joint, repeats)
        audit, added = _audit_rows(service, tokens["all"], truth, AUDIT_PAIRS, settings)
    return rows, ratios, audit, added


def _report(scale: float, repeats: int, analyses: tuple[list[str], list[float]],
            service: tuple[list[str], list[float], list[str], float]) -> str:
    a_rows, a_ratios = analyses
    s_rows, s_ratios, audit, audit_p50 = service
    verdict = ("met" if max(a_ratios + s_ratios) <= TARGET_RATIO else "NOT met")
    return "\n".join([
        "## Access control: scope and audit overhead (bench.access)", "",
        f"Demo scenario at scale {SCENARIO_SCALE * scale:g}, managed Neo4j 5.26 on the same "
        f"machine; p50 of {repeats} alternating runs per variant.", "",
        "### Scope inside the analyses (same data; answers of unscoped and all-regions equal)",
        "",
        "| analysis | unscoped p50 ms | scoped, all regions p50 ms | ratio | one region p50 ms |",
        "|---|---:|---:|---:|---:|", *a_rows, "",
        "### Scope through the running service (HTTP; answers of home and joint equal)", "",
        "| operation | home regions p50 ms | joint operation p50 ms | ratio | one region p50 ms |",
        "|---|---:|---:|---:|---:|", *s_rows, "",
        f"Target: scoped within {TARGET_RATIO}x of unscoped — {verdict} (worst ratio "
        f"{max(a_ratios + s_ratios):.2f}x).", "",
        "### Audit overhead in the running service (Entity requests, audit on/off alternating)",
        "",
        "Request latency at the client with the durable audit append and with the append "
        "skipped (a benchmark-only switch); the append's own time measured inside the server, "
        "and of that the flush (lock, write, fdatasync) in the writer thread.", "",
        "| load | requests on / off | p50 on ms | p50 off ms | added p50 ms | append p50 ms "
        "| append p95 ms | flush p50 ms | records per flush |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|", *audit, "",
        f"Target: audit adds <= {TARGET_AUDIT_MS} ms p50 per request — "
        f"{'met' if audit_p50 <= TARGET_AUDIT_MS else 'NOT met'} ({audit_p50:.2f} ms, one "
        "request at a time).",
    ])


def run(scale: float = 1.0) -> str:
    """Start Neo4j, load the scenario, measure scope and audit costs; the Markdown section."""
    from pydantic import SecretStr

    from fusion.config import Settings
    from fusion.managed import ManagedNeo4j

    repeats = max(5, int(REPEATS * min(scale, 2.0)))
    with tempfile.TemporaryDirectory(prefix="fusion-bench-access-") as tmp:
        tmp_path = Path(tmp)
        settings = Settings(home=tmp_path / "home", db_bolt_port=BOLT, db_http_port=HTTP,
                            db_heap="2g", db_pagecache="1g", neo4j_uri=None,
                            secret=SecretStr(secrets.token_hex(32)))
        neo4j = ManagedNeo4j(settings)
        try:
            neo4j.start()
            truth = _load_scenario(settings, tmp_path / "scenario", SCENARIO_SCALE * scale)
            analyses = _analyses_section(settings, truth, repeats)
            service = _measure_service(settings, truth, repeats)
        finally:
            neo4j.stop()
    return _report(scale, repeats, analyses, service)


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
