"""The audit log's head kept where the log's writer cannot rewrite it alone: a node in Neo4j.

A hash chain cannot show records cut from its end, nor a log deleted or emptied. The service
therefore copies the chain's head — record count, last hash, byte size — to
``(:AuditCheckpoint {key})`` every few records or seconds and at shutdown. `fusion audit verify`
fails when the log no longer reaches the checkpointed record, and the service refuses to append
to such a log until an operator runs `fusion audit reset-checkpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import neo4j

from fusion.auth.auditrecord import GENESIS
from queries.auditcheckpoint import (
    ADVANCE_AUDIT_CHECKPOINT,
    READ_AUDIT_CHECKPOINT,
    RESET_AUDIT_CHECKPOINT,
)


@dataclass(frozen=True)
class Head:
    """A chain's head: ``count`` records, the last one's ``hash``, ``size`` bytes of file."""

    count: int
    hash: str
    size: int


EMPTY = Head(0, GENESIS, 0)


@dataclass(frozen=True)
class Checkpoint:
    """The stored head, how often an operator reset it, and the last reset's reason."""

    head: Head
    resets: int
    at: datetime | None = None
    reason: str | None = None


def checkpoint_key(path: Path) -> str:
    """The key of a log's checkpoint: its absolute path."""
    return str(path.resolve())


def _checkpoint(records: list) -> Checkpoint | None:
    if not records or records[0]["checkpoint"].get("count") is None:
        return None
    c = records[0]["checkpoint"]
    at = c["at"].to_native() if c.get("at") is not None else None
    return Checkpoint(Head(c["count"], c.get("hash"), c.get("size")), c.get("resets") or 0, at,
                      c.get("reset_reason"))


class CheckpointStore:
    """The checkpoint of one audit log, read and advanced through the service's async driver."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str, key: str) -> None:
        self._driver = driver
        self._database = database
        self.key = key

    async def read(self) -> Checkpoint | None:
        """The stored checkpoint (None: never written)."""
        records, _, _ = await self._driver.execute_query(
            READ_AUDIT_CHECKPOINT, key=self.key, database_=self._database,
            routing_=neo4j.RoutingControl.READ)
        return _checkpoint(records)

    async def advance(self, head: Head) -> None:
        """Move the checkpoint to ``head`` unless it already counts as many records."""
        await self._driver.execute_query(
            ADVANCE_AUDIT_CHECKPOINT, key=self.key, count=head.count, hash=head.hash,
            size=head.size, database_=self._database)


def read_checkpoint(driver: neo4j.Driver, database: str, key: str) -> Checkpoint | None:
    """The stored checkpoint, through a sync driver (the command line)."""
    records, _, _ = driver.execute_query(READ_AUDIT_CHECKPOINT, key=key, database_=database,
                                         routing_=neo4j.RoutingControl.READ)
    return _checkpoint(records)


def reset_checkpoint(driver: neo4j.Driver, database: str, key: str, head: Head, reason: str,
                     by: str) -> Checkpoint:
    """Set the checkpoint to ``head`` (possibly backwards), counting the reset."""
    records, _, _ = driver.execute_query(
        RESET_AUDIT_CHECKPOINT, key=key, count=head.count, hash=head.hash, size=head.size,
        reason=reason, by=by, database_=database)
    checkpoint = _checkpoint(records)
    assert checkpoint is not None  # the statement always returns the node it set
    return checkpoint
