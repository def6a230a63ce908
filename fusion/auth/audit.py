"""The append-only, hash-chained audit log of every /graphql request (FUSION_HOME/audit/audit.log).

Durability without a disk flush per request: :meth:`AuditLog.append` queues its record and
waits; one writer at a time takes everything queued, chains it, writes it with one ``write`` and
one ``fdatasync`` in a worker thread, and then wakes every waiter (group commit). A request that
arrives while a flush is running joins the next one. Chaining happens in the writer, under an
exclusive ``flock``, after re-reading the file's tail if another process appended — so the chain
stays valid with several service processes, and nothing is chained in memory that is not on disk.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fusion.auth.access import document_hash
from fusion.auth.auditrecord import GENESIS, AuditRecord, body_of, from_stored, seal
from fusion.auth.auditverify import VerifyResult, verify_audit_log
from fusion.errors import AuditUnavailable

__all__ = ["AuditLog", "AuditRecord", "VerifyResult", "audit_path", "verify_audit_log"]

_TAIL_CHUNK = 64 * 1024
_sync = getattr(os, "fdatasync", os.fsync)


def audit_path(home: Path) -> Path:
    """Where the audit log of a FUSION_HOME lives."""
    return home / "audit" / "audit.log"


@dataclass
class _Pending:
    body: dict
    done: asyncio.Future


class AuditLog:
    """Appends records durably (group commit) and reads them back newest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1
        self._size = -1                      # file size after our last write; -1: re-read tail
        self._last_hash = GENESIS
        self._carried: str | None = None      # our last hash, when the file was replaced
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task | None = None
        # Its own thread: a flush never queues behind analyses in the loop's default executor.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fusion-audit")
        self._open()
        self._lock_and_sync_tail()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = -1
        if created:
            _fsync_dir(self.path.parent)

    def _reopen_if_replaced(self) -> None:
        """Follow the path when the file was moved away or deleted (never write to a ghost).

        The chain carries on from our last record, so the new file's first line does not chain
        to the genesis hash and verify reports the loss.
        """
        try:
            same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(self._fd)
            self._open()
            self._carried = self._last_hash

    async def append(self, *, user: str | None, role: str | None, operation_name: str | None,
                     document: str | None, variables: dict | None, purpose: str | None,
                     scope: list[str] | frozenset[str] | None, outcome: str,
                     result_count: int | None) -> AuditRecord:
        """Record one request; returns once the record is on disk (fdatasync'ed)."""
        body = body_of(
            datetime.now(UTC), user=user, role=None if role is None else str(role),
            operation_name=operation_name,
            document_hash=None if document is None else document_hash(document),
            variables=variables, purpose=purpose,
            scope=None if scope is None else sorted(scope), outcome=outcome,
            result_count=result_count)
        pending = _Pending(body, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # Shielded: a cancelled request still gets its record written.
        return await asyncio.shield(pending.done)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                records = await asyncio.get_running_loop().run_in_executor(
                    self._thread, self._write_batch, [p.body for p in batch])
            except Exception as exc:  # every waiter learns the audit write failed
                error = AuditUnavailable("The audit log cannot be written.")
                error.__cause__ = exc
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(error)
                continue
            for p, record in zip(batch, records, strict=True):
                if not p.done.done():
                    p.done.set_result(record)

    def _write_batch(self, bodies: list[dict]) -> list[AuditRecord]:
        """Chain, write and sync ``bodies`` under the file lock (runs in a worker thread)."""
        self._reopen_if_replaced()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            self._sync_tail()
            prev, lines, records = self._last_hash, [], []
            for body in bodies:
                stored, line = seal(body, prev)
                prev = stored["hash"]
                lines.append(line)
                records.append(from_stored(stored))
            data = "".join(lines).encode()
            try:
                _write_all(self._fd, data)
                _sync(self._fd)
            except BaseException:
                os.ftruncate(self._fd, self._size)   # leave no torn or unsynced tail behind
                raise
            self._size += len(data)
            self._last_hash = prev
            return records
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _lock_and_sync_tail(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            self._sync_tail()
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _sync_tail(self) -> None:
        """Re-read the last hash when the file changed since our last write (lock held)."""
        size = os.fstat(self._fd).st_size
        if size == self._size:
            return
        size = _drop_torn_tail(self.path, self._fd, size)
        last = _last_line(self.path, size)
        if last is None:
            self._last_hash = self._carried or GENESIS
        else:
            self._last_hash = _hash_of(last, self.path)
        self._carried = None
        self._size = size

    async def aclose(self) -> None:
        """Wait for queued records to be written, then close the file."""
        while self._writer is not None and not self._writer.done():
            await self._writer
        self.close()

    def close(self) -> None:
        """Close the file (records still queued are not written: use :meth:`aclose`)."""
        self._thread.shutdown(wait=True)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def query(self, since: datetime | None = None, user: str | None = None,
              limit: int = 100) -> list[AuditRecord]:
        """Up to ``limit`` records, newest first, at or after ``since``, of ``user`` if given."""
        found: list[AuditRecord] = []
        if limit <= 0:
            return found
        for line in _lines_backwards(self.path):
            try:
                record = from_stored(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # unreadable (tampered) line: `fusion audit verify` reports it
            if (since is None or record.at >= since) and (user is None or record.user == user):
                found.append(record)
                if len(found) == limit:
                    break
        return found


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _drop_torn_tail(path: Path, fd: int, size: int) -> int:
    """Cut a partial last line (a write that never returned) and return the new size."""
    if size == 0:
        return 0
    with path.open("rb") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return size
    last = _last_line(path, size, complete_only=False) or b""
    keep = size - len(last)
    os.ftruncate(fd, keep)
    _sync(fd)
    return keep


def _last_line(path: Path, size: int, complete_only: bool = True) -> bytes | None:
    """The last line of the first ``size`` bytes (with its newline), or None when empty."""
    if size == 0:
        return None
    with path.open("rb") as fh:
        start, tail = size, b""
        while start > 0:
            step = min(_TAIL_CHUNK, start)
            start -= step
            fh.seek(start)
            tail = fh.read(step) + tail
            cut = tail.rfind(b"\n", 0, len(tail) - 1)
            if cut >= 0:
                return tail[cut + 1:]
        return tail if tail or not complete_only else None


def _hash_of(line: bytes, path: Path) -> str:
    try:
        return json.loads(line)["hash"]
    except (ValueError, KeyError, TypeError):
        raise AuditUnavailable(
            f"The last record of {path} is unreadable; run `fusion audit verify`.") from None


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """Complete lines of ``path``, last first, read in chunks from the end.

    Bytes after the last newline (a write in progress in another process) are skipped.
    """
    if not path.exists():
        return
    with path.open("rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        rest, tail_skipped = b"", False
        while end > 0:
            step = min(_TAIL_CHUNK, end)
            end -= step
            fh.seek(end)
            parts = (fh.read(step) + rest).split(b"\n")
            rest, complete = parts[0], parts[1:]
            if not tail_skipped:
                if not complete:
                    continue
                complete, tail_skipped = complete[:-1], True
            yield from (line for line in reversed(complete) if line)
        if rest and tail_skipped:
            yield rest
