"""The audit log as the running service uses it (a real uvicorn server with its own FUSION_HOME
on the session's Neo4j): an unwritable log refuses requests with 503 and recovers by itself,
a mutation never runs before its intent record is written, and the chain's head checkpointed
in Neo4j makes a cut, emptied or deleted log fail verify and stop the service from re-chaining
onto it until an operator resets the checkpoint."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from neo4j import AsyncGraphDatabase
from pydantic import SecretStr

from bench._service import ThreadedService
from fusion.auth.audit import AuditLog, audit_path, verify_audit_log
from fusion.auth.auditcheckpoint import CheckpointStore, checkpoint_key, read_checkpoint
from fusion.config import Settings
from fusion.errors import AuditUnavailable
from fusion.managed.server import ADMIN_USER, ManagedNeo4j

if TYPE_CHECKING:
    from tests.api_support import Api

pytestmark = pytest.mark.neo4j

JOINT_OPS = "{ jointOperations { id } }"
CREATE = """mutation Create($name: String!, $until: DateTime!) {
  createJointOperation(name: $name, regions: ["330100"], members: ["someone"],
                       validUntil: $until) { id name } }"""
UNTIL = "2031-01-01T00:00:00+00:00"


def external(neo4j_settings: Settings, home: Path) -> Settings:
    """Settings for a service in ``home`` that uses the session's Neo4j as an external one."""
    from tests.api_support import app_settings  # imported late: other modules load it as a plugin

    managed = ManagedNeo4j(neo4j_settings)
    return app_settings(neo4j_settings, home=home, neo4j_uri=managed.uri,
                        neo4j_user=ADMIN_USER, neo4j_password=SecretStr(managed.password()))


@pytest.fixture(scope="module")
def service(neo4j_settings: Settings, tmp_path_factory) -> Iterator[Api]:
    """A service of its own (own FUSION_HOME, so its log may be broken), with a client."""
    from fusion.api.app import create_app
    from tests.api_support import Api

    settings = external(neo4j_settings, tmp_path_factory.mktemp("audit-home"))
    with ThreadedService(create_app(settings), start_timeout=60) as server, \
            httpx.Client(timeout=60) as http:
        yield Api(server.url, settings, {}, http)


def log_of(api: Api) -> Path:
    return audit_path(api.settings.home)


def records(api: Api) -> list[dict]:
    return [json.loads(line) for line in log_of(api).read_text("utf-8").splitlines()]


def unwritable(path: Path) -> Path:
    """Make the log unwritable even for root (chmod does not stop root): a directory takes
    the file's place."""
    aside = path.with_suffix(".aside")
    path.rename(aside)
    path.mkdir()
    return aside


def restore(path: Path, aside: Path) -> None:
    path.rmdir()
    aside.rename(path)


def assert_refused(response: httpx.Response) -> None:
    """503 with a JSON error body (never an empty reply or a closed connection)."""
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


def readyz(api: Api) -> httpx.Response:
    return api.http.get(f"{api.url}/readyz")


def wait_for(check, seconds: float = 10.0):
    """The first truthy value of ``check()`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def cli(api: Api, *args: str) -> subprocess.CompletedProcess:
    s = api.settings
    env = {"FUSION_HOME": str(s.home), "FUSION_NEO4J_URI": s.neo4j_uri,
           "FUSION_NEO4J_USER": s.neo4j_user,
           "FUSION_NEO4J_PASSWORD": s.neo4j_password.get_secret_value(),
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "fusion.cli", "audit", *args],
                          capture_output=True, text=True, env=env, cwd=Path.cwd())


def stored_head(api: Api, driver):
    checkpoint = read_checkpoint(driver, api.settings.neo4j_database,
                                 checkpoint_key(log_of(api)))
    return None if checkpoint is None else checkpoint.head


def checkpoint_caught_up(api: Api, driver) -> bool:
    head = stored_head(api, driver)
    last = records(api)[-1]
    return head is not None and (head.count, head.hash) == (len(records(api)), last["hash"])


# -- item 4: an unwritable log --------------------------------------------------------------

def test_unwritable_log_refuses_with_503_and_recovers_when_restored(service):
    service.gql(JOINT_OPS)
    before = len(records(service))
    aside = unwritable(log_of(service))
    try:
        for _ in range(5):
            assert_refused(service.post(JOINT_OPS))
        with ThreadPoolExecutor(8) as pool:  # many connections open while writes fail
            for response in pool.map(lambda _: service.post(JOINT_OPS), range(24)):
                assert_refused(response)
        ready = readyz(service)
        assert ready.status_code == 503 and ready.json()["reason"]
        assert service.http.get(f"{service.url}/healthz").status_code == 200
    finally:
        restore(log_of(service), aside)
    assert readyz(service).json()["status"] == "ready"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: service.post(JOINT_OPS), range(24)))
    assert [a.status_code for a in answers] == [200] * 24
    assert all("errors" not in a.json() for a in answers)
    assert len(records(service)) == before + 24
    assert verify_audit_log(log_of(service)).ok


# -- item 5: no change without its record ---------------------------------------------------

def joint_operations_named(driver, settings: Settings, name: str) -> int:
    found, _, _ = driver.execute_query("MATCH (j:JointOperation {name: $name}) RETURN count(j) "
                                       "AS n", name=name, database_=settings.neo4j_database)
    return found[0]["n"]


def test_mutation_with_an_unwritable_log_changes_nothing(service, driver):
    name = f"never-{uuid.uuid4().hex[:8]}"
    aside = unwritable(log_of(service))
    try:
        assert_refused(service.post(CREATE, {"name": name, "until": UNTIL}, role="admin"))
    finally:
        restore(log_of(service), aside)
    assert joint_operations_named(driver, service.settings, name) == 0


def test_a_mutation_writes_its_intent_before_it_runs_and_its_outcome_after(service, driver):
    name = f"audited-{uuid.uuid4().hex[:8]}"
    before = len(records(service))
    service.gql(CREATE, {"name": name, "until": UNTIL}, role="admin", user="intent-admin")
    intent, outcome = records(service)[before:]
    assert (intent["outcome"], outcome["outcome"]) == ("intent", "allowed")
    for record in (intent, outcome):
        assert record["user"] == "intent-admin" and record["operation_name"] == "Create"
        assert record["variables"] == {"name": name, "until": UNTIL}
    assert intent["document_hash"] == outcome["document_hash"]
    assert joint_operations_named(driver, service.settings, name) == 1


# -- W6: the checkpoint ---------------------------------------------------------------------

def test_the_checkpoint_follows_the_log_and_verify_checks_against_it(service, driver):
    for _ in range(3):
        service.gql(JOINT_OPS)
    assert wait_for(lambda: checkpoint_caught_up(service, driver))
    done = cli(service, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"checkpoint: {len(records(service))} records" in done.stdout


@pytest.mark.parametrize(("damage", "reason", "state"), [
    ("cut", "shrank", "has only"), ("deleted", "deleted or replaced", "is empty")])
def test_service_refuses_to_rechain_onto_a_damaged_log_until_an_operator_resets(
        service, driver, damage, reason, state):
    for _ in range(4):
        service.gql(JOINT_OPS)
    assert wait_for(lambda: checkpoint_caught_up(service, driver))
    lines = log_of(service).read_text("utf-8").splitlines(keepends=True)
    kept = len(lines) - 3 if damage == "cut" else 0
    if damage == "cut":
        log_of(service).write_text("".join(lines[:kept]), "utf-8")
    else:
        log_of(service).unlink()
    assert_refused(service.post(JOINT_OPS))
    ready = readyz(service)
    assert ready.status_code == 503 and reason in ready.json()["reason"]
    assert len(records(service)) == kept                # nothing re-chained onto the damage
    done = cli(service, "verify")
    assert done.returncode == 1 and state in done.stdout
    assert f"checkpoint counts {len(lines)}" in done.stdout
    done = cli(service, "reset-checkpoint", "--reason", "incident 42: tail lost")
    assert done.returncode == 0, done.stdout + done.stderr
    assert wait_for(lambda: readyz(service).status_code == 200)
    service.gql(JOINT_OPS)
    reset = records(service)[kept]
    assert (reset["outcome"], reset["purpose"]) == ("checkpoint-reset", "incident 42: tail lost")
    assert reset["variables"]["checkpoint"]["count"] == len(lines)
    assert cli(service, "verify").returncode == 0


def test_service_resumes_by_itself_when_the_lost_records_are_put_back(service, driver):
    service.gql(JOINT_OPS)
    assert wait_for(lambda: checkpoint_caught_up(service, driver))
    whole = log_of(service).read_bytes()
    log_of(service).write_bytes(whole[:whole.rindex(b"\n", 0, len(whole) - 1) + 1])
    assert_refused(service.post(JOINT_OPS))
    assert readyz(service).status_code == 503
    log_of(service).write_bytes(whole)
    assert wait_for(lambda: readyz(service).status_code == 200)
    service.gql(JOINT_OPS)
    assert records(service)[-1]["prev_hash"] == json.loads(whole.splitlines()[-1])["hash"]
    assert cli(service, "verify").returncode == 0


def test_verify_without_neo4j_says_so_unless_told_to_check_the_file_alone(service):
    s = service.settings
    env = {"FUSION_HOME": str(s.home), "FUSION_NEO4J_URI": "bolt://127.0.0.1:9",
           "FUSION_NEO4J_USER": "neo4j", "FUSION_NEO4J_PASSWORD": "x", "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "fusion.cli", "audit", "verify"]
    down = subprocess.run(run, capture_output=True, text=True, env=env)
    assert down.returncode == 2 and "Cannot read the audit checkpoint" in down.stdout
    alone = subprocess.run([*run, "--no-checkpoint"], capture_output=True, text=True, env=env)
    assert alone.returncode == 0 and " records, head " in alone.stdout


@pytest.mark.parametrize("damage", ["deleted", "emptied", "cut"])
def test_a_restarted_service_refuses_a_log_that_lost_records(neo4j_settings, tmp_path, damage):
    settings = external(neo4j_settings, tmp_path)
    path = audit_path(tmp_path)
    entry = dict(user="u", role="analyst", operation_name="Op", document="{ x }",
                 variables=None, purpose="p", scope=None, outcome="allowed", result_count=1)

    async def run(n: int) -> tuple[int, str | None]:
        driver = AsyncGraphDatabase.driver(settings.neo4j_uri, auth=(
            settings.neo4j_user, settings.neo4j_password.get_secret_value()))
        log = AuditLog(path, CheckpointStore(driver, settings.neo4j_database,
                                             checkpoint_key(path)))
        written = 0
        try:
            for _ in range(n):
                with pytest.raises(AuditUnavailable) if damage_done else nullcontext():
                    await log.append(**entry)
                    written += 1
            return written, await log.problem()
        finally:
            await log.aclose()
            await driver.close()

    damage_done = False
    assert asyncio.run(run(6)) == (6, None)                 # first run: checkpoint written
    if damage == "deleted":
        path.unlink()
    else:
        kept = path.read_text("utf-8").splitlines(keepends=True)[:0 if damage == "emptied" else 4]
        path.write_text("".join(kept), "utf-8")
    damage_done = True
    written, problem = asyncio.run(run(2))                  # restart on the damaged log
    assert written == 0 and "does not hold the 6 records" in problem
    assert not path.exists() or len(path.read_text("utf-8").splitlines()) <= 4


def test_two_workers_refuse_a_log_cut_below_its_checkpoint_and_written_again(
        neo4j_settings, tmp_path, monkeypatch):
    """Worker B's head lies below a cut of worker A's last records: B's own chain stays valid
    as it writes on, but the log no longer holds what the checkpoint counts. The checkpoint must
    not be moved past the loss: B's next push finds it and the log refuses appends."""
    from fusion.auth import audit as audit_module

    monkeypatch.setattr(audit_module, "CHECKPOINT_SECONDS", 0.05)
    settings = external(neo4j_settings, tmp_path)
    path = audit_path(tmp_path)
    key = checkpoint_key(path)
    entry = dict(user="u", role="analyst", operation_name="Op", document="{ x }",
                 variables=None, purpose="p", scope=None, outcome="allowed", result_count=1)

    async def run() -> tuple[int, str | None, int]:
        driver = AsyncGraphDatabase.driver(settings.neo4j_uri, auth=(
            settings.neo4j_user, settings.neo4j_password.get_secret_value()))
        a = AuditLog(path, CheckpointStore(driver, settings.neo4j_database, key), worker="A")
        b = AuditLog(path, CheckpointStore(driver, settings.neo4j_database, key), worker="B")
        try:
            await b.append(**entry)
            for _ in range(20):
                await a.append(**entry)
            store = CheckpointStore(driver, settings.neo4j_database, key)
            for _ in range(100):                       # A's checkpoint reaches 21 records
                if (await store.read()).head.count == 21:
                    break
                await asyncio.sleep(0.05)
            kept = path.read_text("utf-8").splitlines(keepends=True)[:16]
            path.write_text("".join(kept), "utf-8")    # A's last 5 records are cut
            written = 0
            for _ in range(60):                        # B follows and writes on
                try:
                    await b.append(**entry)
                except AuditUnavailable:
                    break
                written += 1
                await asyncio.sleep(0.01)
            return written, await b.problem(), (await store.read()).head.count
        finally:
            await a.aclose()
            await b.aclose()
            await driver.close()

    written, problem, checkpointed = asyncio.run(run())
    assert written < 60 and "does not hold the 21 records" in problem
    assert checkpointed == 21
    assert not verify_audit_log(path, head=read_checkpoint_head(settings, key)).ok


def read_checkpoint_head(settings: Settings, key: str):
    from neo4j import GraphDatabase

    with GraphDatabase.driver(settings.neo4j_uri, auth=(
            settings.neo4j_user, settings.neo4j_password.get_secret_value())) as driver:
        return read_checkpoint(driver, settings.neo4j_database, key).head


def test_a_service_started_on_a_cut_log_refuses_and_readyz_says_why(neo4j_settings, tmp_path):
    from fusion.api.app import create_app
    from tests.api_support import Api

    settings = external(neo4j_settings, tmp_path)
    with httpx.Client(timeout=60) as http:
        with ThreadedService(create_app(settings), start_timeout=60) as server:
            first = Api(server.url, settings, {}, http)
            for _ in range(5):
                first.gql(JOINT_OPS)
        lines = log_of(first).read_text("utf-8").splitlines(keepends=True)
        log_of(first).write_text("".join(lines[:2]), "utf-8")
        with ThreadedService(create_app(settings), start_timeout=60) as server:
            again = Api(server.url, settings, {}, http)
            ready = readyz(again)
            assert ready.status_code == 503
            assert f"does not hold the {len(lines)} records" in ready.json()["reason"]
            assert_refused(again.post(JOINT_OPS))
    assert len(records(again)) == 2
