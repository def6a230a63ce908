"""The audit log: every append durable and chained; any edit, removal, reordering or insertion is
found by verify, which names the first bad record."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fusion.auth import audit as audit_module
from fusion.auth.audit import AuditLog, audit_path, verify_audit_log
from fusion.auth.auditcheckpoint import Head
from fusion.errors import AuditUnavailable

GENESIS = "0" * 64


def entry(i: int, **over) -> dict:
    values = dict(user=f"user{i % 3}", role="analyst", operation_name=f"Op{i}",
                  document=f"query Op{i} {{ x }}", variables={"i": i, "text": "é"},
                  purpose=f"case {i}", scope={"south", "north"}, outcome="allowed",
                  result_count=i)
    return {**values, **over}


def append_many(path: Path, n: int, start: int = 0, concurrent: bool = False):
    async def main():
        log = AuditLog(path)
        try:
            if concurrent:
                return await asyncio.gather(*(log.append(**entry(i)) for i in
                                              range(start, start + n)))
            return [await log.append(**entry(i)) for i in range(start, start + n)]
        finally:
            await log.aclose()
    return asyncio.run(main())


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def independent_hash(stored: dict) -> str:
    body = {k: v for k, v in stored.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "audit.log"


@pytest.fixture
def ten(log_path: Path) -> list[str]:
    append_many(log_path, 10)
    return lines(log_path)


def test_n_appends_give_n_chained_records(log_path):
    records = append_many(log_path, 25)
    stored = [json.loads(line) for line in lines(log_path)]
    assert len(stored) == 25
    assert [s["hash"] for s in stored] == [r.hash for r in records]
    assert stored[0]["prev_hash"] == GENESIS
    for before, after in zip(stored, stored[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    assert all(independent_hash(s) == s["hash"] for s in stored)
    result = verify_audit_log(log_path)
    assert (result.ok, result.records, result.head) == (True, 25, records[-1].hash)


def test_record_holds_the_request_fields_and_hashes_the_document(log_path):
    (record,) = append_many(log_path, 1, start=4)
    assert record.document_hash == hashlib.sha256(b"query Op4 { x }").hexdigest()
    assert (record.user, record.role, record.operation_name, record.purpose) == (
        "user1", "analyst", "Op4", "case 4")
    assert record.scope == ["north", "south"] and record.variables == {"i": 4, "text": "é"}
    assert (record.outcome, record.result_count) == ("allowed", 4)
    assert abs(record.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert "query Op4" not in log_path.read_text(encoding="utf-8")


def test_denied_request_without_a_caller_is_recorded(log_path):
    async def main():
        log = AuditLog(log_path)
        record = await log.append(user=None, role=None, operation_name=None, document=None,
                                  variables=None, purpose=None, scope=None,
                                  outcome="denied:UNAUTHENTICATED", result_count=None)
        await log.aclose()
        return record
    record = asyncio.run(main())
    assert record.outcome == "denied:UNAUTHENTICATED" and record.document_hash is None
    assert verify_audit_log(log_path).ok


def test_reopening_continues_the_chain(log_path):
    first = append_many(log_path, 3)
    second = append_many(log_path, 3, start=3)
    assert second[0].prev_hash == first[-1].hash
    assert verify_audit_log(log_path).records == 6


def test_concurrent_appends_from_many_tasks_keep_a_valid_chain(log_path):
    records = append_many(log_path, 300, concurrent=True)
    assert verify_audit_log(log_path).records == 300
    assert sorted(r.hash for r in records) == sorted(json.loads(x)["hash"]
                                                     for x in lines(log_path))
    assert sorted(r.operation_name for r in records) == sorted(f"Op{i}" for i in range(300))


def test_concurrent_appends_share_disk_flushes(log_path, monkeypatch):
    calls = []
    real = audit_module._sync
    monkeypatch.setattr(audit_module, "_sync", lambda fd: (calls.append(fd), real(fd)))
    append_many(log_path, 200, concurrent=True)
    assert 1 <= len(calls) < 200


def test_each_sequential_append_is_flushed_before_it_returns(log_path, monkeypatch):
    synced_sizes = []
    real = audit_module._sync
    monkeypatch.setattr(audit_module, "_sync",
                        lambda fd: (real(fd), synced_sizes.append(log_path.stat().st_size)))

    async def main():
        log = AuditLog(log_path)
        for i in range(5):
            await log.append(**entry(i))
            assert synced_sizes and synced_sizes[-1] == log_path.stat().st_size
        await log.aclose()
    asyncio.run(main())
    assert len(synced_sizes) == 5


def test_two_writers_on_one_file_keep_one_chain(log_path):
    async def main():
        a, b = AuditLog(log_path), AuditLog(log_path)
        for i in range(10):
            await (a if i % 2 else b).append(**entry(i))
        await asyncio.gather(*(x.append(**entry(i)) for i, x in enumerate([a, b] * 20)))
        await a.aclose()
        await b.aclose()
    asyncio.run(main())
    assert verify_audit_log(log_path).records == 50


def test_cancelled_request_still_gets_its_record(log_path):
    async def main():
        log = AuditLog(log_path)
        task = asyncio.create_task(log.append(**entry(1)))
        await asyncio.sleep(0)
        task.cancel()
        await log.aclose()
    asyncio.run(main())
    assert verify_audit_log(log_path).records == 1


def test_failed_write_leaves_the_file_unchanged_and_the_log_usable(log_path, monkeypatch):
    append_many(log_path, 3)
    before = log_path.read_bytes()
    real = audit_module._write_all

    def half_then_fail(fd, data):
        real(fd, data[: len(data) // 2])
        raise OSError("disk full")

    async def main():
        log = AuditLog(log_path)
        monkeypatch.setattr(audit_module, "_write_all", half_then_fail)
        with pytest.raises(AuditUnavailable):
            await log.append(**entry(3))
        assert log_path.read_bytes() == before
        monkeypatch.setattr(audit_module, "_write_all", real)
        await log.append(**entry(4))
        await log.aclose()
    asyncio.run(main())
    assert verify_audit_log(log_path).records == 4


def test_a_log_moved_away_while_open_is_not_silently_restarted(log_path):
    async def main():
        log = AuditLog(log_path)
        await log.append(**entry(0))
        log_path.rename(log_path.with_suffix(".old"))
        with pytest.raises(AuditUnavailable):
            await log.append(**entry(1))
        with pytest.raises(AuditUnavailable):  # and it stays refused
            await log.append(**entry(2))
        problem = await log.problem()
        await log.aclose()
        return problem
    problem = asyncio.run(main())
    assert "deleted or replaced" in problem
    assert lines(log_path) == []
    assert verify_audit_log(log_path.with_suffix(".old")).records == 1


def test_a_log_cut_at_its_end_while_open_is_refused(log_path):
    async def main():
        log = AuditLog(log_path)
        for i in range(4):
            await log.append(**entry(i))
        rewrite(log_path, lines(log_path)[:2])
        with pytest.raises(AuditUnavailable):
            await log.append(**entry(4))
        problem = await log.problem()
        await log.aclose()
        return problem
    assert "shrank below its last 4 records" in asyncio.run(main())
    assert len(lines(log_path)) == 2


def test_a_worker_refuses_a_log_cut_below_its_last_record_and_written_again(log_path):
    """Worker A's last records are cut; worker B, whose head lay below the cut, writes on past
    the byte where A's last record ended: A must not count B's lines from that byte."""
    async def main():
        a, b = AuditLog(log_path, worker="A"), AuditLog(log_path, worker="B")
        await b.append(**entry(0))
        for i in range(1, 8):
            await a.append(**entry(i))
        rewrite(log_path, lines(log_path)[:3])          # A's records 3..7 are gone
        for i in range(10):                             # B follows 0..2 and writes on
            await b.append(**entry(100 + i))
        with pytest.raises(AuditUnavailable):
            await a.append(**entry(8))
        problem = await a.problem()
        await a.aclose()
        await b.aclose()
        return problem
    assert "no longer holds its record 8 where it was written" in asyncio.run(main())
    assert verify_audit_log(log_path).records == 13     # B's chain is whole; A wrote nothing


def unwritable(path: Path) -> Path:
    """Make ``path`` unwritable even for root: a directory stands where the file was."""
    aside = path.with_suffix(".aside")
    path.rename(aside)
    path.mkdir()
    return aside


def restore(path: Path, aside: Path) -> None:
    path.rmdir()
    aside.rename(path)


def test_an_unwritable_log_refuses_then_recovers_when_the_path_is_back(log_path):
    async def main():
        log = AuditLog(log_path)
        first = await log.append(**entry(0))
        aside = unwritable(log_path)
        for i in (1, 2):
            with pytest.raises(AuditUnavailable):
                await log.append(**entry(i))
        broken = await log.problem()
        restore(log_path, aside)
        healed = await log.problem()
        second = await log.append(**entry(3))
        await log.aclose()
        return first, broken, healed, second
    first, broken, healed, second = asyncio.run(main())
    assert broken == "the audit log cannot be written" and healed is None
    assert second.prev_hash == first.hash
    assert verify_audit_log(log_path).records == 2


def test_a_failed_reopen_never_closes_a_descriptor_it_no_longer_owns(log_path, tmp_path):
    async def main():
        log = AuditLog(log_path)
        await log.append(**entry(0))
        aside = unwritable(log_path)
        with pytest.raises(AuditUnavailable):
            await log.append(**entry(1))   # closes its descriptor, cannot open a new one
        other = os.open(tmp_path / "client-socket-stand-in", os.O_RDWR | os.O_CREAT)
        try:
            for i in (2, 3):
                with pytest.raises(AuditUnavailable):
                    await log.append(**entry(i))
            os.fstat(other)                # still open: nobody closed its number
        finally:
            os.close(other)
        restore(log_path, aside)
        await log.append(**entry(4))
        await log.aclose()
    asyncio.run(main())
    assert verify_audit_log(log_path).records == 2


def test_torn_last_line_is_dropped_on_start(log_path, ten):
    with log_path.open("a", encoding="utf-8") as fh:
        fh.write(ten[0][:40])
    assert verify_audit_log(log_path).bad_line == 11
    (record,) = append_many(log_path, 1, start=10)
    assert record.prev_hash == json.loads(ten[-1])["hash"]
    assert verify_audit_log(log_path).records == 11


def test_query_returns_newest_first_with_filters(log_path):
    records = append_many(log_path, 12)

    async def read():
        log = AuditLog(log_path)
        try:
            return (log.query(None, None, 100), log.query(None, "user1", 2),
                    log.query(records[9].at, None, 100), log.query(None, None, 0))
        finally:
            await log.aclose()
    everything, user1, recent, none = asyncio.run(read())
    assert everything == records[::-1]
    assert user1 == [r for r in records[::-1] if r.user == "user1"][:2]
    assert recent == [r for r in records[::-1] if r.at >= records[9].at]
    assert none == []


# -- tampering -------------------------------------------------------------------------------

def rewrite(path: Path, new_lines: list[str]) -> None:
    path.write_text("".join(new_lines), encoding="utf-8")


def reseal(line: str, **changes) -> str:
    stored = {**json.loads(line), **changes}
    stored["hash"] = independent_hash(stored)
    return json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def edited(line: str, **changes) -> str:
    stored = {**json.loads(line), **changes}
    return json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def assert_bad(path: Path, line: int, reason: str) -> None:
    result = verify_audit_log(path)
    assert not result.ok
    assert result.bad_line == line and reason in result.reason
    assert result.records == line - 1


@pytest.mark.parametrize("k", [0, 4, 9])
@pytest.mark.parametrize("change", [{"user": "mallory"}, {"outcome": "denied:FORBIDDEN"},
                                    {"result_count": 999}, {"scope": ["north"]},
                                    {"at": "2020-01-01T00:00:00+00:00"}])
def test_edited_record_is_named(log_path, ten, k, change):
    rewrite(log_path, ten[:k] + [edited(ten[k], **change)] + ten[k + 1:])
    assert_bad(log_path, k + 1, "edited")


@pytest.mark.parametrize("k", [0, 4, 8])
def test_edited_record_with_recomputed_hash_breaks_the_next_link(log_path, ten, k):
    rewrite(log_path, ten[:k] + [reseal(ten[k], user="mallory")] + ten[k + 1:])
    assert_bad(log_path, k + 2, "does not chain")


@pytest.mark.parametrize("k", [0, 4, 8])
def test_removed_record_is_named(log_path, ten, k):
    rewrite(log_path, ten[:k] + ten[k + 1:])
    assert_bad(log_path, k + 1, "does not chain")


@pytest.mark.parametrize("k", [0, 4, 8])
def test_reordered_records_are_named(log_path, ten, k):
    swapped = ten[:k] + [ten[k + 1], ten[k]] + ten[k + 2:]
    rewrite(log_path, swapped)
    assert_bad(log_path, k + 1, "does not chain")


@pytest.mark.parametrize("k", [0, 5, 10])
def test_inserted_copy_is_named(log_path, ten, k):
    rewrite(log_path, ten[:k] + [ten[3]] + ten[k:])
    assert_bad(log_path, k + 1, "does not chain")


@pytest.mark.parametrize("k", [1, 5, 9])
def test_forged_record_chained_to_its_predecessor_breaks_the_next_link(log_path, ten, k):
    prev = json.loads(ten[k - 1])["hash"]
    forged = reseal(ten[k - 1], prev_hash=prev, user="mallory")
    rewrite(log_path, ten[:k] + [forged] + ten[k:])
    assert_bad(log_path, k + 2, "does not chain")


@pytest.mark.parametrize(("junk", "reason"), [("\n", "not a JSON"), ("{}\n", "missing fields"),
                                               ("[1]\n", "not a JSON")])
def test_unreadable_line_is_named(log_path, ten, junk, reason):
    rewrite(log_path, ten[:6] + [junk] + ten[6:])
    assert_bad(log_path, 7, reason)


def test_removed_tail_is_found_with_an_anchor(log_path, ten):
    head = verify_audit_log(log_path).head
    assert verify_audit_log(log_path, anchor=head).ok
    rewrite(log_path, ten[:-1])
    assert verify_audit_log(log_path).ok  # a shorter chain is still a chain ...
    result = verify_audit_log(log_path, anchor=head)  # ... but it lost the anchored record
    assert not result.ok and result.bad_line == 10 and "anchored" in result.reason


def test_verify_of_a_live_log_waits_for_a_write_in_progress(log_path, ten, tmp_path):
    """A service writes a batch under its exclusive lock: verify reads the log as it stands
    between writes, never the half-written line."""
    copy = tmp_path / "copy" / "audit.log"
    copy.parent.mkdir()
    copy.write_text("".join(ten), "utf-8")
    append_many(copy, 1, start=10)
    line = lines(copy)[-1].encode()                     # the next record, as a writer has it
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    found = {}
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line[:40])                         # the write is under way
        reader = threading.Thread(target=lambda: found.update(result=verify_audit_log(log_path)))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive()                        # waiting for the writer's lock
        os.write(fd, line[40:])
        fcntl.flock(fd, fcntl.LOCK_UN)
        reader.join(10)
    finally:
        os.close(fd)
    assert found["result"].ok and found["result"].records == 11


def test_a_torn_last_line_without_a_writer_is_still_named(log_path, ten):
    with log_path.open("ab") as fh:
        fh.write(ten[0].encode()[:30])
    result = verify_audit_log(log_path)
    assert not result.ok and result.bad_line == 11 and "torn write" in result.reason


def test_missing_log_is_an_empty_valid_chain(tmp_path):
    result = verify_audit_log(tmp_path / "nothing.log")
    assert (result.ok, result.records, result.head) == (True, 0, GENESIS)


def test_invalid_utf8_in_a_record_is_named_not_a_traceback(log_path, ten):
    broken = ten[3].replace('"é"', '"XX"').encode()
    broken = broken.replace(b'"XX"', b'"\xff\xfe"')
    log_path.write_bytes("".join(ten[:3]).encode() + broken + "".join(ten[4:]).encode())
    assert_bad(log_path, 4, "not UTF-8")
    assert str(verify_audit_log(log_path)) == "bad record at line 4: not UTF-8"


def checkpoint_of(path: Path) -> Head:
    result = verify_audit_log(path)
    return Head(result.records, result.head, path.stat().st_size)


def test_the_checkpoint_head_verifies_and_a_longer_log_still_does(log_path, ten):
    head = checkpoint_of(log_path)
    assert verify_audit_log(log_path, head=head).ok
    rewrite(log_path, ten[:7])
    early = checkpoint_of(log_path)
    rewrite(log_path, ten)
    assert verify_audit_log(log_path, head=early).ok


@pytest.mark.parametrize(("cut", "state"), [(9, "has only 9 records"), (0, "is empty"),
                                             (None, "is missing")])
def test_a_log_cut_emptied_or_deleted_fails_against_its_checkpoint(log_path, ten, cut, state):
    head = checkpoint_of(log_path)
    if cut is None:
        log_path.unlink()
    else:
        rewrite(log_path, ten[:cut])
    assert verify_audit_log(log_path).ok       # the chain alone cannot tell ...
    result = verify_audit_log(log_path, head=head)   # ... the checkpoint can
    assert not result.ok and result.bad_line == (cut or 0) + 1
    assert state in result.reason and "checkpoint counts 10" in result.reason


def test_a_log_rewritten_past_its_checkpoint_fails(log_path, ten):
    head = checkpoint_of(log_path)
    append_many(log_path.with_name("other.log"), 12)
    rewrite(log_path, lines(log_path.with_name("other.log")))
    result = verify_audit_log(log_path, head=head)
    assert not result.ok and result.bad_line == 10 and "checkpointed record" in result.reason


def test_verify_command_without_a_reachable_neo4j_says_so_and_exits_2(tmp_path):
    append_many(audit_path(tmp_path), 3)
    run = [sys.executable, "-m", "fusion.cli", "audit", "verify"]
    env = {"FUSION_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # Neo4j never started here
    done = subprocess.run(run, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "Cannot read the audit checkpoint" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    alone = subprocess.run([*run, "--no-checkpoint"], capture_output=True, text=True, env=env)
    assert alone.returncode == 0 and "ok, 3 records" in alone.stdout


def test_verify_command_names_a_non_utf8_record(tmp_path):
    path = audit_path(tmp_path)
    append_many(path, 3)
    path.write_bytes(path.read_bytes().replace("é".encode(), b"\xe9", 1))
    done = subprocess.run([sys.executable, "-m", "fusion.cli", "audit", "verify",
                           "--no-checkpoint"], capture_output=True, text=True,
                          env={"FUSION_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and "bad record at line 1: not UTF-8" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_records_of_several_workers_form_one_chain_verify_counts_each(log_path):
    """Two logs on one file (as two worker processes hold it) chain each other's records."""
    async def main() -> None:
        one, two = AuditLog(log_path, worker="101"), AuditLog(log_path, worker="202")
        try:
            for i in range(6):
                await (one if i % 3 else two).append(**entry(i))
        finally:
            await one.aclose()
            await two.aclose()

    asyncio.run(main())
    result = verify_audit_log(log_path)
    stored = [json.loads(line) for line in lines(log_path)]
    assert result.ok and result.records == 6
    assert result.workers == {"101": 4, "202": 2}
    assert [s["worker"] for s in stored] == ["202", "101", "101", "202", "101", "101"]
    assert "by worker process: 101: 4, 202: 2" in str(result)


@pytest.mark.parametrize("worker", ["101", "202"])
def test_an_edited_record_of_either_worker_is_found(log_path, worker):
    async def main() -> None:
        one, two = AuditLog(log_path, worker="101"), AuditLog(log_path, worker="202")
        try:
            for i in range(6):
                await (one if i % 2 else two).append(**entry(i))
        finally:
            await one.aclose()
            await two.aclose()

    asyncio.run(main())
    text = lines(log_path)
    target = next(n for n, line in enumerate(text) if json.loads(line)["worker"] == worker)
    record = json.loads(text[target])
    record["worker"] = "303" if worker == "101" else "101"   # claim another worker wrote it
    text[target] = json.dumps(record, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False) + "\n"
    log_path.write_text("".join(text), encoding="utf-8")
    result = verify_audit_log(log_path)
    assert not result.ok and result.bad_line == target + 1 and "edited" in result.reason
