"""Checking an audit log's hash chain, record by record, and naming the first bad one.

Each line must parse, hold every field, carry the hash of its own contents, and name the
previous line's hash as ``prev_hash`` (the genesis value on line 1). An edited record fails its
own hash; a removed, reordered or inserted record breaks the link at the first line after the
change. Records removed from the end leave a valid shorter chain, and a deleted or emptied log
is an empty one: pass the checkpoint's head (``head``, kept in Neo4j by the service) or a hash
noted earlier (``anchor``) to prove the chain still reaches it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from fusion.auth.auditcheckpoint import Head
from fusion.auth.auditrecord import FIELD_NAMES, GENESIS, REQUIRED_FIELDS, record_hash


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a verify: ``ok``, how many records were good, the head hash, the first bad."""

    ok: bool
    records: int
    head: str
    bad_line: int | None = None
    reason: str | None = None
    workers: dict[str, int] = field(default_factory=dict)  # good records per named worker

    def __str__(self) -> str:
        if self.ok:
            return f"ok, {self.records} records, head {self.head}{self._by_worker()}"
        return f"bad record at line {self.bad_line}: {self.reason}"

    def _by_worker(self) -> str:
        if not self.workers:
            return ""
        counts = ", ".join(f"{w}: {n}" for w, n in sorted(self.workers.items()))
        return f" (by worker process: {counts})"


def _problem(raw: bytes, expected_prev: str) -> str | None:
    """Why ``raw`` is not the valid successor of ``expected_prev``; None when it is."""
    if not raw.endswith(b"\n"):
        return "incomplete last line (torn write)"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    try:
        stored = json.loads(line)
    except json.JSONDecodeError:
        return "not a JSON record"
    if not isinstance(stored, dict):
        return "not a JSON record"
    missing = [name for name in REQUIRED_FIELDS if name not in stored]
    if missing:
        return f"missing fields: {', '.join(missing)}"
    extra = sorted(set(stored) - set(FIELD_NAMES))
    if extra:
        return f"unexpected fields: {', '.join(extra)}"
    try:
        datetime.fromisoformat(stored["at"])
    except (TypeError, ValueError):
        return "unreadable time"
    body = {k: v for k, v in stored.items() if k != "hash"}
    if record_hash(body) != stored["hash"]:
        return "contents do not match the record's hash (edited)"
    if not isinstance(stored.get("worker", ""), str):
        return "unreadable worker"
    if stored["prev_hash"] != expected_prev:
        return ("does not chain to the record before "
                "(a record was removed, inserted or reordered, or the one before was edited)")
    return None


def verify_audit_log(path: Path, anchor: str | None = None,
                     head: Head | None = None) -> VerifyResult:
    """Check the whole chain in ``path``; with ``anchor``, also that a record has that hash;
    with ``head`` (a checkpoint), also that record ``head.count`` is there with ``head.hash``."""
    expected, count, seen_anchor, at_head = GENESIS, 0, anchor is None, None
    workers: dict[str, int] = {}
    if path.exists():
        with path.open("rb") as fh:
            for number, raw in enumerate(_settled_lines(fh), start=1):
                reason = _problem(raw, expected)
                if reason is not None:
                    return VerifyResult(False, count, expected, number, reason)
                stored = json.loads(raw)
                expected = stored["hash"]
                count += 1
                if "worker" in stored:
                    workers[stored["worker"]] = workers.get(stored["worker"], 0) + 1
                seen_anchor = seen_anchor or expected == anchor
                at_head = expected if head is not None and count == head.count else at_head
    result = _checked(path, anchor, head, count, expected, seen_anchor, at_head)
    return replace(result, workers=workers) if result.ok else result


def _settled_lines(fh: BinaryIO) -> Iterator[bytes]:
    """The lines of the log as it stands between two writes: its size is read under a shared
    ``flock`` (writers hold the exclusive one while they write and sync a batch), and lines
    are read up to that size, so a live service's write in progress is neither reported as
    a torn line nor read. A line the size cuts is given as it is (torn: a crash's)."""
    fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
    try:
        end = os.fstat(fh.fileno()).st_size
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    while fh.tell() < end:
        raw = fh.readline()
        if not raw:
            return
        over = fh.tell() - end
        yield raw[:len(raw) - over] if over > 0 else raw


def _checked(path: Path, anchor: str | None, head: Head | None, count: int, expected: str,
             seen_anchor: bool, at_head: str | None) -> VerifyResult:
    """The result of a chain of ``count`` good records checked against anchor and head."""
    if not seen_anchor:
        return VerifyResult(False, count, expected, count + 1,
                            f"no record has the anchored hash {anchor} "
                            "(records were removed from the end, or the log was rewritten)")
    if head is not None:
        return _against_head(path, head, count, expected, at_head)
    return VerifyResult(True, count, expected)


def _against_head(path: Path, head: Head, count: int, last: str,
                  at_head: str | None) -> VerifyResult:
    """The result of a valid chain of ``count`` records checked against a checkpoint."""
    if count < head.count:
        state = ("is missing" if not path.exists() else "is empty" if count == 0
                 else f"has only {count} records")
        return VerifyResult(False, count, last, count + 1,
                            f"the log {state} but its checkpoint counts {head.count} "
                            "(records were removed from the end, or the log was emptied "
                            "or deleted)")
    if head.count > 0 and at_head != head.hash:
        return VerifyResult(False, count, last, head.count,
                            f"is not the checkpointed record (hash {head.hash}): the log "
                            "was rewritten")
    return VerifyResult(True, count, last)
