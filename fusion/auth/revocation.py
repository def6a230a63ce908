"""Revoked tokens: kept in Neo4j, checked by the service on every request without a round trip.

A revocation is a ``(:RevokedToken {jti, at, by, reason})`` node, so it survives restarts and
reaches every service process that shares the graph. Each process holds the revoked ids in
memory (:class:`RevocationList`) and re-reads them in a background thread every
``FUSION_TOKEN_REVOCATION_REFRESH`` seconds (2 by default): a revocation takes effect within
that period, and checking a request is a set lookup.

The check fails closed: until the first read has succeeded, or when the last successful read
is older than :data:`STALE_PERIODS` refresh periods (Neo4j unreachable), tokens cannot be
checked and requests are refused as ``UNAVAILABLE``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j
from neo4j import Driver, GraphDatabase

from fusion.config import Settings
from fusion.db import DRIVER_OPTIONS, target
from fusion.errors import BadInput, DatabaseError, Unauthenticated
from queries.revocations import (
    REVOKE_TOKEN,
    REVOKED_JTIS,
    REVOKED_TOKENS,
)

logger = logging.getLogger("fusion.auth")

JTI = re.compile(r"[0-9a-f]{32}")
STALE_PERIODS = 15  # a list not read for this many periods is not trusted
MIN_STALE_SECONDS = 30.0
CONNECT_TIMEOUT = 3.0  # seconds; a read that cannot connect waits for the next period
FIRST_READ_WAIT = 5.0  # seconds the first check waits for the first read to end


@dataclass(frozen=True)
class Revocation:
    """One revoked token: its id, when, by whom and why."""

    jti: str
    at: datetime
    by: str
    reason: str | None

    def as_dict(self) -> dict[str, object]:
        return {"jti": self.jti, "at": self.at.isoformat(), "by": self.by,
                "reason": self.reason}


def check_jti(jti: str) -> str:
    """``jti`` when it is a token id as Fusion issues them (32 hex digits); BadInput else."""
    cleaned = jti.strip().lower()
    if not JTI.fullmatch(cleaned):
        raise BadInput(f"{jti!r} is not a token id (32 hex digits, as `fusion token issue` "
                       "prints them).")
    return cleaned


def revoke_token(driver: Driver, database: str, jti: str, by: str, reason: str | None = None,
                 now: datetime | None = None) -> Revocation:
    """Revoke the token ``jti`` (idempotent: a second revocation keeps the first's record)."""
    jti = check_jti(jti)
    records, _, _ = driver.execute_query(
        REVOKE_TOKEN, jti=jti, at=(now or datetime.now(UTC)), by=by,
        reason=(reason or "").strip() or None, database_=database)
    return _revocation(records[0])


def revoked_tokens(driver: Driver, database: str) -> list[Revocation]:
    """Every revocation, oldest first."""
    records, _, _ = driver.execute_query(REVOKED_TOKENS, database_=database,
                                         routing_=neo4j.RoutingControl.READ)
    return [_revocation(r) for r in records]


def _revocation(record: neo4j.Record) -> Revocation:
    return Revocation(record["jti"], record["at"].to_native(), record["by"], record["reason"])


class RevocationList:
    """The revoked token ids of one service process, re-read in the background."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._period = settings.token_revocation_refresh
        self._stale_after = max(MIN_STALE_SECONDS, STALE_PERIODS * self._period)
        self._revoked: frozenset[str] = frozenset()
        self._read_at: float | None = None  # time.monotonic() of the last successful read
        self._first_attempt = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._conn = _Connection()

    def check(self, jti: str) -> None:
        """Unauthenticated when ``jti`` is revoked; UNAVAILABLE when that cannot be known."""
        self._ensure_watching()
        if self._read_at is None:
            self._first_attempt.wait(FIRST_READ_WAIT)
        read_at = self._read_at
        if read_at is None or time.monotonic() - read_at > self._stale_after:
            raise DatabaseError("Token revocations cannot be checked (the graph database is "
                                "not reachable); try again shortly.")
        if jti in self._revoked:
            raise Unauthenticated("The token has been revoked.")

    def refresh(self) -> None:
        """Read the revoked ids from Neo4j now."""
        # One auto-commit read, no retries: the next period is the retry.
        with self._conn.driver(self._settings).session(
                database=self._settings.neo4j_database,
                default_access_mode=neo4j.READ_ACCESS) as session:
            jtis = session.run(REVOKED_JTIS).single(strict=True)["jtis"]
        self._revoked = frozenset(jtis)
        self._read_at = time.monotonic()

    def close(self) -> None:
        """Stop the background reads and close the connection."""
        self._conn.stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._conn.close()

    def _ensure_watching(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=_watch, name="fusion-revocations", daemon=True,
                                          args=(weakref.ref(self), self._conn.stop,
                                                self._period))
                weakref.finalize(self, self._conn.close)
                thread.start()
                self._thread = thread


class _Connection:
    """The list's own driver (opened on first use) and the stop signal of its thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._driver: Driver | None = None

    def driver(self, settings: Settings) -> Driver:
        if self._driver is None:
            t = target(settings)
            self._driver = GraphDatabase.driver(t.uri, auth=(t.user, t.password),
                                                connection_timeout=CONNECT_TIMEOUT,
                                                **DRIVER_OPTIONS)
        return self._driver

    def close(self) -> None:
        self.stop.set()
        if self._driver is not None:
            self._driver.close()
            self._driver = None


def _watch(ref: weakref.ref, stop: threading.Event, period: float) -> None:
    """Refresh the list every ``period`` seconds until it is closed or collected."""
    failing = False
    while not stop.is_set():
        revocations = ref()
        if revocations is None:
            return
        try:
            revocations.refresh()
            failing = False
        except Exception as err:  # Neo4j down or not yet started: the list goes stale
            if not failing:
                logger.warning("revoked tokens not re-read (retrying every %g s): %s",
                               period, err)
            failing = True
        revocations._first_attempt.set()
        del revocations
        stop.wait(period)
