"""The append-only, hash-chained audit log of every /graphql request (FUSION_HOME/audit/audit.log).

Durability without a disk flush per request: :meth:`AuditLog.append` queues its record and
waits; one writer at a time takes everything queued, chains it, writes it with one ``write`` and
one ``fdatasync`` in a worker thread, and then wakes every waiter (group commit). A request that
arrives while a flush is running joins the next one. Chaining happens in the writer, under an
exclusive ``flock``, after re-reading the file's tail if another process appended — so the chain
stays valid with several service processes, and nothing is chained in memory that is not on disk.

The log never loses its place silently. It knows its head (records, last hash, size); a file that
shrank below it, or was replaced by one that does not hold it, makes the log refuse every append
until an operator acts. With a :class:`CheckpointStore` the head is also copied to Neo4j every few
records or seconds, checked before the first append, and re-read while refusing: an operator's
`fusion audit reset-checkpoint` lets appends resume. A failed write leaves the descriptor closed
(never closed twice) and the next append or probe reopens the path.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fusion.auth.access import document_hash
from fusion.auth.auditcheckpoint import EMPTY, Checkpoint, CheckpointStore, Head
from fusion.auth.auditfile import (
    count_lines,
    drop_torn_tail,
    fsync_dir,
    hash_of,
    head_of,
    holds,
    last_line,
    lines_backwards,
    lines_before,
)
from fusion.auth.auditfile import write_all as _write_all
from fusion.auth.auditrecord import AuditRecord, body_of, from_stored, seal
from fusion.auth.auditverify import VerifyResult, verify_audit_log
from fusion.errors import AuditUnavailable

__all__ = ["AuditLog", "AuditPage", "AuditPositionLost", "AuditRecord", "VerifyResult",
           "audit_path", "verify_audit_log"]

logger = logging.getLogger("fusion.audit")
_sync = getattr(os, "fdatasync", os.fsync)

CHECKPOINT_RECORDS = 200   # records not yet in the checkpoint that make it be written at once
CHECKPOINT_SECONDS = 1.0   # otherwise the longest a written record waits for the checkpoint
RECHECK_SECONDS = 1.0      # a refusing log re-reads its checkpoint at most this often
NEO4J_TIMEOUT = 5.0        # the longest a checkpoint read or write may take (shutdown waits)
UNWRITABLE = "The audit log cannot be written."


def audit_path(home: Path) -> Path:
    """Where the audit log of a FUSION_HOME lives."""
    return home / "audit" / "audit.log"


@dataclass
class _Pending:
    body: dict
    done: asyncio.Future


class AuditLog:
    """Appends records durably (group commit) and reads them back newest first."""

    def __init__(self, path: Path, checkpoint: CheckpointStore | None = None,
                 worker: str | None = None) -> None:
        self.path = path
        self.worker = worker                  # named in every record when set
        self._store = checkpoint
        self._fd = -1
        self._loaded = False                  # _head was read from the file
        self._head = EMPTY
        self._halted: str | None = None       # why appends are refused until an operator acts
        self._resets = 0                      # checkpoint resets seen (a new one lifts a halt)
        self._halted_resets = 0
        self._anchored = checkpoint is None   # the file was checked against the checkpoint
        self._checkpointed = -1               # records the stored checkpoint counts
        self._failing = False                 # the last write failed
        self._next_anchor = 0.0
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task | None = None
        self._pusher: asyncio.Task | None = None
        # Its own thread: a flush never queues behind analyses in the loop's default executor.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fusion-audit")
        try:
            self._ensure_open()
        except OSError:
            logger.exception("audit log %s cannot be opened; appends fail until it can", path)
            self._failing = True

    # -- the file (worker thread) ----------------------------------------------------------

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if created:
            fsync_dir(self.path.parent)

    def _same_file(self) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except OSError:
            return False

    def _ensure_open(self) -> None:
        """Open the path if closed or replaced; a replacement must still hold our head."""
        if self._fd >= 0:
            if self._same_file():
                return
            fd, self._fd = self._fd, -1   # forget the number first: it is never closed twice
            os.close(fd)
        self._open()
        if not self._loaded:
            self._load_head()
        elif not holds(self.path, self._head):
            self._halt(f"the audit log was deleted or replaced by a file without its last "
                       f"{self._head.count} records")

    def _load_head(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            size = drop_torn_tail(self.path, self._fd, os.fstat(self._fd).st_size)
            self._head = head_of(self.path, size)
            self._loaded = True
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _halt(self, reason: str) -> None:
        """Refuse every append from now on, loudly, until an operator resets the checkpoint."""
        self._halted, self._halted_resets = reason, self._resets
        logger.critical("AUDIT LOG REFUSES APPENDS: %s (%s). Run `fusion audit verify`, then "
                        "`fusion audit reset-checkpoint --reason ...`.", reason, self.path)
        raise AuditUnavailable(UNWRITABLE)

    def _sync_tail(self) -> None:
        """Follow records other processes appended since our last write (lock held).

        Only a log that still holds our head where we left it is followed: one cut below it
        and written again by another process (whose own head lay below the cut) no longer
        has our last record at that byte, and is refused like one that shrank."""
        size, head = os.fstat(self._fd).st_size, self._head
        if size == head.size:
            return
        if size < head.size:
            self._halt(f"the audit log shrank below its last {head.count} records")
        size = drop_torn_tail(self.path, self._fd, size)
        if size > head.size:
            if not holds(self.path, head):
                self._halt(f"the audit log no longer holds its record {head.count} where it "
                           "was written (cut, then written again)")
            self._head = Head(head.count + count_lines(self.path, head.size, size),
                              hash_of(last_line(self.path, size), self.path), size)

    def _write_batch(self, bodies: list[dict]) -> list[AuditRecord]:
        """Chain, write and sync ``bodies`` under the file lock (runs in a worker thread)."""
        if self._halted is not None:
            raise AuditUnavailable(UNWRITABLE)
        self._ensure_open()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            self._sync_tail()
            head = self._head
            prev, lines, records = head.hash, [], []
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
                os.ftruncate(self._fd, head.size)   # leave no torn or unsynced tail behind
                raise
            self._head = Head(head.count + len(bodies), prev, head.size + len(data))
            return records
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _anchor(self, checkpoint: Checkpoint | None) -> None:
        """Check the file against the stored checkpoint; a new reset lifts a halt."""
        resets = 0 if checkpoint is None else checkpoint.resets
        if self._halted is not None:
            self._lift_halt(checkpoint, resets)
        self._resets = resets
        self._ensure_open()
        if checkpoint is not None and not holds(self.path, checkpoint.head):
            self._halt(f"the audit log does not hold the {checkpoint.head.count} records its "
                       "checkpoint counts (truncated, emptied, deleted or rewritten)")
        self._checkpointed = -1 if checkpoint is None else checkpoint.head.count
        self._anchored = True

    def _lift_halt(self, checkpoint: Checkpoint | None, resets: int) -> None:
        """Append again after an operator's reset, or once the lost records are back."""
        if resets > self._halted_resets:
            logger.warning("audit checkpoint reset by an operator (%s); reading %s again",
                           checkpoint.reason, self.path)
            self._loaded = False
        elif not (holds(self.path, self._head)
                  and (checkpoint is None or holds(self.path, checkpoint.head))):
            raise AuditUnavailable(UNWRITABLE)
        else:
            logger.warning("audit log %s holds its records again; appending again", self.path)
        self._halted = None
        self._close_fd()

    def _probe(self) -> bool:
        """True when the log's file and directory can be written again."""
        try:
            self._ensure_open()
            probe = self.path.parent / ".probe"
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, b"probe\n")
                _sync(fd)
            finally:
                os.close(fd)
            probe.unlink()
        except (OSError, AuditUnavailable):
            return False
        return True

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    # -- appending (event loop) ------------------------------------------------------------

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
        if self.worker is not None:
            body["worker"] = self.worker
        pending = _Pending(body, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # Shielded: a cancelled request still gets its record written.
        return await asyncio.shield(pending.done)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._check_anchor()
                records = await loop.run_in_executor(
                    self._thread, self._write_batch, [p.body for p in batch])
            except Exception as exc:  # every waiter learns the audit write failed
                await self._failed(batch, exc)
                continue
            self._failing = False
            for p, record in zip(batch, records, strict=True):
                if not p.done.done():
                    p.done.set_result(record)
            self._schedule_checkpoint()

    async def _failed(self, batch: list[_Pending], exc: Exception) -> None:
        self._failing = self._halted is None
        if self._failing:
            logger.error("audit log %s: write failed: %r", self.path, exc)
        if self._halted is not None and self._store is not None:
            await self._push()  # the head we wrote outlives us: a restart refuses too
        error = AuditUnavailable(UNWRITABLE)
        error.__cause__ = exc
        for p in batch:
            if not p.done.done():
                p.done.set_exception(error)

    async def _check_anchor(self) -> None:
        """Before writing: the file must hold the checkpoint (at start, and while refusing)."""
        if self._store is None or (self._anchored and self._halted is None):
            return
        now = time.monotonic()
        if now < self._next_anchor:
            raise AuditUnavailable(UNWRITABLE)
        self._next_anchor = now + RECHECK_SECONDS
        try:
            checkpoint = await asyncio.wait_for(self._store.read(), NEO4J_TIMEOUT)
        except Exception as exc:
            logger.warning("audit checkpoint cannot be read; appends wait for it: %r", exc)
            raise AuditUnavailable(UNWRITABLE) from exc
        await asyncio.get_running_loop().run_in_executor(self._thread, self._anchor, checkpoint)
        if self._head.count > self._checkpointed:
            await self._push()

    # -- the checkpoint (event loop) -------------------------------------------------------

    def _schedule_checkpoint(self) -> None:
        if self._store is None or self._halted is not None:
            return
        behind = self._head.count - self._checkpointed
        if behind <= 0 or (self._pusher is not None and not self._pusher.done()):
            return
        delay = 0.0 if behind >= CHECKPOINT_RECORDS else CHECKPOINT_SECONDS
        self._pusher = asyncio.create_task(self._push_after(delay))

    async def _push_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if await self._push():
            self._pusher = None
            self._schedule_checkpoint()   # records written while we pushed

    async def _push(self) -> bool:
        """Advance the stored checkpoint to our head; False (logged) when Neo4j refused, or
        when the log no longer holds the stored checkpoint: then the log refuses appends and
        the checkpoint stays where it was, so a restart refuses too.

        Another process may have moved the checkpoint since we last read it, and our chain
        extends the file as it is now, not necessarily the checkpoint: a log cut below the
        checkpoint and written again (by a worker whose head lay below the cut) reaches the
        checkpoint's count with other records. Reading the checkpoint back and checking the
        file still holds it before moving it on is what catches that."""
        head = self._head
        try:
            stored = await asyncio.wait_for(self._store.read(), NEO4J_TIMEOUT)
            if stored is not None and stored.head.count > 0:
                loop = asyncio.get_running_loop()
                held = await loop.run_in_executor(self._thread, holds, self.path, stored.head)
                if not held and self._halted is None:
                    with contextlib.suppress(AuditUnavailable):
                        self._halt(f"the audit log does not hold the {stored.head.count} "
                                   "records its checkpoint counts (cut, then written again)")
                if not held:
                    return False
            await asyncio.wait_for(self._store.advance(head), NEO4J_TIMEOUT)
        except Exception as exc:
            logger.warning("audit checkpoint not written (next write retries): %r", exc)
            return False
        self._checkpointed = max(self._checkpointed, head.count)
        return True

    async def problem(self) -> str | None:
        """Why the log cannot take records now (None: it can); what /readyz reports."""
        if self._store is not None and (self._halted is not None or not self._anchored):
            with contextlib.suppress(AuditUnavailable, OSError):
                await self._check_anchor()
        if self._halted is not None:
            return f"{self._halted}; an operator must verify the log and reset its checkpoint"
        if self._failing:
            loop = asyncio.get_running_loop()
            if not await loop.run_in_executor(self._thread, self._probe):
                return "the audit log cannot be written"
            self._failing = False
        if not self._anchored:
            return "the audit log has not been checked against its checkpoint in Neo4j yet"
        return None

    async def aclose(self) -> None:
        """Wait for queued records to be written, checkpoint them, then close the file."""
        while self._writer is not None and not self._writer.done():
            await self._writer
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        if (self._store is not None and self._anchored and self._halted is None
                and self._head.count > self._checkpointed):
            await self._push()
        self.close()

    def close(self) -> None:
        """Close the file (records still queued are not written: use :meth:`aclose`)."""
        self._thread.shutdown(wait=True)
        self._close_fd()

    def query(self, since: datetime | None = None, user: str | None = None,
              limit: int = 100) -> list[AuditRecord]:
        """Up to ``limit`` records, newest first, at or after ``since``, of ``user`` if given."""
        found: list[AuditRecord] = []
        if limit <= 0:
            return found
        for line in lines_backwards(self.path):
            try:
                record = from_stored(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # unreadable (tampered) line: `fusion audit verify` reports it
            if (since is None or record.at >= since) and (user is None or record.user == user):
                found.append(record)
                if len(found) == limit:
                    break
        return found

    def page(self, before: int | None = None, since: datetime | None = None,
             user: str | None = None, limit: int = 100, mark: str | None = None) -> AuditPage:
        """Up to ``limit`` records as :meth:`query` finds them, but only those starting before
        byte ``before`` of the log (None: all written so far), with where the next page starts.

        The log only grows, so a position names one point of it for good: paging on from it
        never meets a record twice or misses one, however many are appended meanwhile. ``mark``
        (the hash of the record at ``before``) must still be there, or the log was replaced:
        AuditPositionLost.
        """
        if before is not None and mark is not None and self._hash_at(before) != mark:
            raise AuditPositionLost("The audit log no longer holds this position; page again "
                                    "from the start.")
        found: list[tuple[int, AuditRecord]] = []
        for start, line in lines_before(self.path, before):
            try:
                record = from_stored(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            if (since is None or record.at >= since) and (user is None or record.user == user):
                found.append((start, record))
                if len(found) > limit:
                    break
        more = len(found) > limit
        found = found[:limit]
        return AuditPage([r for _, r in found],
                         found[-1][0] if more else None, found[-1][1].hash if more else None)

    def _hash_at(self, offset: int) -> str | None:
        """The hash of the record starting at byte ``offset`` (None: no record there)."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(offset)
                return json.loads(fh.readline()).get("hash")
        except (OSError, ValueError, AttributeError):
            return None


class AuditPositionLost(ValueError):
    """A paging position the audit log no longer holds (the file was replaced)."""


@dataclass(frozen=True)
class AuditPage:
    """Records of one page, newest first; the next page starts before byte ``next_before``
    (None: this is the last), where the record with hash ``next_mark`` starts."""

    records: list[AuditRecord]
    next_before: int | None
    next_mark: str | None
