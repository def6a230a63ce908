"""`fusion serve --workers 2`: two processes serve the scenario from one port, both append to
the one audit log, and `fusion audit verify` checks the whole chain (against its checkpoint in
Neo4j), counting each worker's records — and finds an edited record of either worker. /metrics,
whichever worker answers, counts the requests of both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bench._service import free_port
from fusion.auth.audit import audit_path
from fusion.managed import ManagedNeo4j
from fusion.managed.server import ADMIN_USER

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

ENTITY = "query Entity($ref: EntityRef!) { entity(ref: $ref) { kind key label regions } }"
MAX_REQUESTS = 600
AUDIT_LOG = "{ auditLog(limit: 1000) { hash worker } }"
BATCH = 40


def _env(api, home: Path) -> dict[str, str]:
    """The service's settings: its own home (audit log), the session's Neo4j as external."""
    settings = api.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSION_")}
    return {**env, "FUSION_HOME": str(home),
            "FUSION_NEO4J_URI": f"bolt://127.0.0.1:{settings.db_bolt_port}",
            "FUSION_NEO4J_USER": ADMIN_USER,
            "FUSION_NEO4J_PASSWORD": ManagedNeo4j(settings).password(),
            "FUSION_SECRET": settings.secret.get_secret_value()}


def _wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180
    while True:
        assert server.poll() is None, server.stderr.read()
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "fusion serve --workers 2 did not become ready"
        time.sleep(0.3)


def _workers(log: Path) -> set[str]:
    if not log.exists():
        return set()
    return {json.loads(line).get("worker") for line in log.read_text().splitlines()}


def _post(url: str, token: str, ref: dict) -> dict:
    """One request on a fresh connection (so the kernel may hand it to either worker)."""
    response = httpx.post(f"{url}/graphql", json={"query": ENTITY, "variables": {"ref": ref}},
                          headers={"Authorization": f"Bearer {token}",
                                   "X-Purpose": "workers test"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _verify(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fusion.cli", "audit", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def served(api, tmp_path: Path):
    """Requests sent to `fusion serve --workers 2` until both workers answered; then stopped.

    Yields (env, audit log, requests sent, answers, expected answers, /metrics text read
    after the last answer, the auditLog's records as the service lists them)."""
    home = tmp_path / "home"
    env = _env(api, home)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "fusion.cli", "serve", "--port", str(port),
                               "--workers", "2", "--log-level", "warning"], env=env,
                              stderr=subprocess.PIPE, text=True)
    refs = [{"kind": "PERSON", "key": k} for g in api.truth["gangs"] for k in g["members"]]
    expected = {r["key"]: api.post(ENTITY, {"ref": r}).json() for r in refs}
    log = audit_path(home)
    answers, sent = [], 0
    try:
        _wait_ready(url, server)
        token = api.token()
        with ThreadPoolExecutor(8) as pool:
            while len(_workers(log)) < 2 and sent < MAX_REQUESTS:
                batch = [refs[(sent + i) % len(refs)] for i in range(BATCH)]
                answers += zip(batch, pool.map(lambda r: _post(url, token, r), batch),
                               strict=True)
                sent += BATCH
        listed = httpx.post(f"{url}/graphql", json={"query": AUDIT_LOG}, timeout=60, headers={
            "Authorization": f"Bearer {api.token(role='auditor')}",
            "X-Purpose": "workers test"}).json()["data"]["auditLog"]
        sent += 1
        # Several fresh connections: whichever worker answers must count both workers.
        scraped = [httpx.get(f"{url}/metrics", timeout=30).text for _ in range(6)]
    finally:
        server.terminate()
        server.wait(timeout=60)
    yield env, log, sent, answers, expected, scraped, listed


def _requests_counted(text: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == "fusion_graphql_requests_total")


def test_metrics_of_either_worker_count_the_requests_of_both(served):
    _, log, sent, _, _, scraped, _ = served
    assert len(_workers(log)) == 2
    assert all(_requests_counted(text) == sent for text in scraped)
    assert all(text.count("fusion_build_info{") == 1 for text in scraped)
    assert all("process_cpu_seconds_total" in text for text in scraped)


def test_two_workers_serve_the_scenario_and_audit_verify_passes_with_both(served):
    env, log, sent, answers, expected, _, _ = served
    assert all(answer == expected[ref["key"]] for ref, answer in answers)
    workers = _workers(log)
    assert len(workers) == 2 and None not in workers
    done = _verify(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok, {sent} records" in done.stdout
    for worker in workers:
        assert f"{worker}: " in done.stdout
    assert "checkpoint: " in done.stdout and "none in Neo4j" not in done.stdout


def test_an_edited_record_of_either_worker_fails_audit_verify(served):
    env, log, _, _, _, _, _ = served
    original = log.read_text()
    lines = original.splitlines(keepends=True)
    for worker in sorted(_workers(log)):
        n = next(i for i, line in enumerate(lines) if json.loads(line)["worker"] == worker)
        record = json.loads(lines[n])
        record["result_count"] = (record["result_count"] or 0) + 1
        edited = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        log.write_text("".join(lines[:n] + [edited + "\n"] + lines[n + 1:]))
        done = _verify(env)
        assert done.returncode == 1, done.stdout
        assert f"bad record at line {n + 1}" in done.stdout
        log.write_text(original)
    assert _verify(env).returncode == 0


def test_the_audit_log_as_the_service_lists_it_names_each_records_worker(served):
    _, log, _, _, _, _, listed = served
    stored = {json.loads(line)["hash"]: json.loads(line).get("worker")
              for line in log.read_text().splitlines()}
    assert listed and all(record["hash"] in stored for record in listed)
    assert [record["worker"] for record in listed] == [stored[r["hash"]] for r in listed]
    assert None not in {record["worker"] for record in listed}
