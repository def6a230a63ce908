"""Reading an audit log file from its end without loading it: tails, lines, counts.

The writer (:mod:`fusion.auth.audit`) needs the last record's hash and the number of records
after a known offset; ``auditLog`` needs the newest records first. All read in chunks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from fusion.auth.auditcheckpoint import EMPTY, Head
from fusion.errors import AuditUnavailable

_CHUNK = 64 * 1024
_COUNT_CHUNK = 1 << 20
_sync = getattr(os, "fdatasync", os.fsync)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_torn_tail(path: Path, fd: int, size: int) -> int:
    """Cut a partial last line (a write that never returned) and return the new size."""
    if size == 0:
        return 0
    with path.open("rb") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return size
    last = last_line(path, size, complete_only=False) or b""
    keep = size - len(last)
    os.ftruncate(fd, keep)
    _sync(fd)
    return keep


def last_line(path: Path, size: int, complete_only: bool = True) -> bytes | None:
    """The last line of the first ``size`` bytes (with its newline), or None when empty."""
    if size == 0:
        return None
    with path.open("rb") as fh:
        start, tail = size, b""
        while start > 0:
            step = min(_CHUNK, start)
            start -= step
            fh.seek(start)
            tail = fh.read(step) + tail
            cut = tail.rfind(b"\n", 0, len(tail) - 1)
            if cut >= 0:
                return tail[cut + 1:]
        return tail if tail or not complete_only else None


def count_lines(path: Path, start: int, end: int) -> int:
    """Newlines in bytes ``start`` to ``end`` of ``path``."""
    count = 0
    with path.open("rb") as fh:
        fh.seek(start)
        while start < end:
            chunk = fh.read(min(_COUNT_CHUNK, end - start))
            if not chunk:
                break
            count += chunk.count(b"\n")
            start += len(chunk)
    return count


def hash_of(line: bytes, path: Path) -> str:
    """The ``hash`` of a stored record line."""
    try:
        return json.loads(line)["hash"]
    except (ValueError, KeyError, TypeError):
        raise AuditUnavailable(
            f"The last record of {path} is unreadable; run `fusion audit verify`.") from None


def head_of(path: Path, size: int) -> Head:
    """The head of the chain in the first ``size`` bytes (complete lines only)."""
    last = last_line(path, size)
    if last is None:
        return EMPTY
    return Head(count_lines(path, 0, size), hash_of(last, path), size)


def holds(path: Path, head: Head) -> bool:
    """True when the line ending at byte ``head.size`` of ``path`` is the record with
    ``head.hash`` (the file may have grown since).

    Reads one line, not the file: the hash covers ``prev_hash``, so the record stands for the
    whole chain before it (`fusion audit verify` checks that chain and its count)."""
    if head.count == 0:
        return True
    try:
        if path.stat().st_size < head.size:
            return False
        last = last_line(path, head.size)
        return (last is not None and last.endswith(b"\n")
                and json.loads(last).get("hash") == head.hash)
    except (OSError, ValueError, AttributeError):
        return False


def lines_backwards(path: Path) -> Iterator[bytes]:
    """Complete lines of ``path``, last first, read in chunks from the end.

    Bytes after the last newline (a write in progress in another process) are skipped.
    """
    return (line for _, line in lines_before(path))


def lines_before(path: Path, end: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Complete lines of ``path`` before byte ``end`` (None: the file's end), last first, each
    with the offset it starts at (a stable position: the file only grows).

    Bytes after the last newline before ``end`` (a write in progress) are skipped.
    """
    if not path.exists():
        return
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        pos = size if end is None else min(end, size)
        rest, tail_skipped = b"", False
        while pos > 0:
            step = min(_CHUNK, pos)
            pos -= step
            fh.seek(pos)
            parts = (fh.read(step) + rest).split(b"\n")
            starts, at = [], pos
            for part in parts:
                starts.append(at)
                at += len(part) + 1
            rest, complete = parts[0], list(zip(starts[1:], parts[1:], strict=True))
            if not tail_skipped:
                if not complete:
                    continue
                complete, tail_skipped = complete[:-1], True
            yield from ((start, line) for start, line in reversed(complete) if line)
        if rest and tail_skipped:
            yield 0, rest
