"""A load killed anywhere and run again ends as a clean load; bad files write nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fusion.errors import UnreadableFile
from loaders.ingest import load_files
from tests.crash_load import CRASH_MARKER

pytestmark = pytest.mark.neo4j

REPO = Path(__file__).resolve().parent.parent
CHILD = "tests.crash_load"  # the load with its stop hook


def _calls_file(path: Path, rows: int = 26_000) -> Path:
    """Calls for two CALLED batches (>20,000 pairs), a repeat and a bad row every so often."""
    lines = ["caller,callee,start_time,duration_s,call_type"]
    for i in range(rows):
        a, b = 13800000000 + i % 5000, 13900000000 + (i * 7) % 4999
        minute = i // 4
        lines.append(f"{a},{b},2024-03-01 {minute // 60 % 24:02d}:{minute % 60:02d}:"
                     f"{i % 4 * 10:02d},{i % 300},{'sms' if i % 11 == 0 else 'voice'}")
        if i % 97 == 0:
            lines.append(lines[-1])  # the same record again
        if i % 1000 == 0:
            lines.append(f"{a},12,2024-03-01 00:00:00,1,voice")
    path.write_text("\n".join(lines) + "\n")
    return path


def _snapshot(driver) -> tuple:
    nodes, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:LoadRecord RETURN labels(n) AS l, n {.*} AS p ORDER BY p.key")
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN a.key AS a, type(r) AS t, b.key AS b, r {.*} AS p "
        "ORDER BY a, t, b")
    loads, _, _ = driver.execute_query(
        "MATCH (l:LoadRecord) RETURN l.status AS s, l.read AS r, l.loaded AS l, "
        "l.duplicates AS d, l.quarantined AS q")
    return ([(x["l"], sorted(x["p"].items())) for x in nodes],
            [(x["a"], x["t"], x["b"], sorted(x["p"].items())) for x in rels],
            [dict(x) for x in loads])


def _wipe(driver) -> None:
    with driver.session() as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
                    ).consume()


def _run_and_kill(settings, work: Path, file: Path, after_batches: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-m", CHILD, str(after_batches), str(settings.home),
         str(settings.db_bolt_port), str(settings.db_http_port), str(work), "calls", "ZJ",
         str(file)],
        stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stderr is not None
        for line in child.stderr:
            if CRASH_MARKER in line:
                break
        else:
            pytest.fail(f"the child ended (status {child.wait()}) before the crash point")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL


# Batches: 1 LoadRecord "running", 2 Phone nodes, 3 and 4 CALLED (killed after 3: half of the
# pairs were CREATEd, the rerun must MERGE those); then manifest, LoadRecord "complete".
@pytest.mark.parametrize("after_batches", [1, 2, 3, 4])
def test_load_killed_mid_way_and_rerun_equals_a_clean_load(empty_graph, neo4j_settings,
                                                           tmp_path, after_batches):
    db = neo4j_settings.neo4j_database
    file = _calls_file(tmp_path / "calls.csv")
    _run_and_kill(neo4j_settings, tmp_path / "work", file, after_batches)
    resumed = load_files(empty_graph, db, tmp_path / "work", "calls", [file], "ZJ")
    after_resume = _snapshot(empty_graph)

    _wipe(empty_graph)
    clean = load_files(empty_graph, db, tmp_path / "clean", "calls", [file], "ZJ")
    assert resumed.loads[0].status == "resumed"
    assert resumed.total.as_dict() == clean.total.as_dict()
    assert clean.total.duplicates > 0 and clean.total.quarantined > 0
    assert after_resume == _snapshot(empty_graph)
    called, _, _ = empty_graph.execute_query("MATCH ()-[r:CALLED]->() RETURN count(r) AS n")
    assert called[0]["n"] > 20_000  # two batches of CALLED


def test_unreadable_file_fails_the_whole_command_and_writes_nothing(empty_graph,
                                                                     neo4j_settings, tmp_path):
    good = _calls_file(tmp_path / "good.csv", rows=50)
    bad = tmp_path / "bad.csv"
    bad.write_bytes("caller,callee,start_time,duration_s\n张三,李四,x,1\n".encode("gbk"))
    home = tmp_path / "work"
    with pytest.raises(UnreadableFile, match=r"bad\.csv: cannot be decoded as utf-8") as err:
        load_files(empty_graph, neo4j_settings.neo4j_database, home, "calls", [good, bad], "ZJ")
    assert err.value.exit_code == 2
    records, _, _ = empty_graph.execute_query("MATCH (n) RETURN count(n) AS n")
    assert records[0]["n"] == 0
    assert not list((home / "events").rglob("*.parquet"))
    assert not list((home / "quarantine").glob("*.csv"))


def test_command_exits_2_naming_the_missing_file(neo4j_settings, tmp_path):
    script = ("from fusion.cli import app, main\n"
              "from fusion.commands.load import load\n"
              "if not any(c.name == 'load' for c in app.registered_commands):\n"
              "    app.command('load')(load)\n"
              "main()\n")
    env = {**os.environ, "FUSION_HOME": str(neo4j_settings.home),
           "FUSION_DB_BOLT_PORT": str(neo4j_settings.db_bolt_port),
           "FUSION_DB_HTTP_PORT": str(neo4j_settings.db_http_port), "PYTHONPATH": str(REPO)}
    env.pop("FUSION_NEO4J_URI", None)
    out = subprocess.run([sys.executable, "-c", script, "load", "calls",
                          str(tmp_path / "absent.csv"), "--region", "ZJ", "--json"],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 2, out.stderr
    assert "absent.csv: no such file" in out.stderr


def _waybills(path: Path, numbers: list[str]) -> Path:
    lines = ["waybill_no,sender_phone,receiver_phone,shipped_at"]
    lines += [f"{n},13812345678,13912345678,2024-01-01 10:00:00" for n in numbers]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_resumed_load_keeps_the_records_later_loads_deduplicated_against(
        empty_graph, neo4j_settings, tmp_path):
    """Load A holds W1 and W2; load B repeats W2 (a duplicate of A's) and adds W3. If A's
    LoadRecord never reached `complete` (Neo4j went away at the end), the next run stages A
    again: W2 must be A's record again, not a duplicate of B's duplicate held by nobody."""
    from loaders.eventstore import EventStore

    settings, db = neo4j_settings, neo4j_settings.neo4j_database
    a = _waybills(tmp_path / "a.csv", ["W1", "W2"])
    b = _waybills(tmp_path / "b.csv", ["W2", "W3"])
    first = load_files(empty_graph, db, settings.home, "waybills", [a], "330100").loads[0]
    second = load_files(empty_graph, db, settings.home, "waybills", [b], "330100").loads[0]
    assert (second.accounting.loaded, second.accounting.duplicates) == (1, 1)
    empty_graph.execute_query("MATCH (l:LoadRecord {id: $id}) SET l.status = 'running'",
                              id=first.load_id, database_=db)
    again = load_files(empty_graph, db, settings.home, "waybills", [a], "330100").loads[0]
    assert again.status == "resumed"
    assert (again.accounting.loaded, again.accounting.duplicates) == (2, 0)
    store = EventStore(settings.home)   # (other tests' waybills may be in the store too)
    held = store.scan_records("waybills", store.complete_loads("waybills")).collect()
    ours = [w for w in held["waybill_no"].to_list() if w in ("W1", "W2", "W3")]
    assert sorted(ours) == ["W1", "W2", "W3"]       # each held once, W2 among them
