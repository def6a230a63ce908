"""What a service call runs with, whoever calls it (the GraphQL service, the CLI, a benchmark):
the async Neo4j driver and database, FUSION_HOME (the event store), the query timeout, and the
slots that bound how many CPU-heavy analyses run at once.

CPU work (polars, igraph, numpy sweeps, the sync driver) runs through :func:`in_worker`: in a
worker thread, at most ``slots`` at once (the machine has two cores; more would only queue
inside the CPU), abandoned after ``query_timeout`` seconds with TOO_COMPLEX. An abandoned
thread still holds its slot until it finishes, so runaway work cannot pile up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import neo4j
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from fusion.errors import DatabaseError, TooComplex

T = TypeVar("T")


@dataclass
class Runtime:
    """The resources every service function takes as its first argument."""

    driver: neo4j.AsyncDriver
    database: str
    home: Path
    query_timeout: float | None = 30.0  # None: no limit (an operator's run from the CLI)
    sync_driver: neo4j.Driver | None = None
    # CPU-heavy analyses running in worker threads at once (2 cores: more only queue up).
    slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(2))
    # Told when Neo4j could not be reached (the service counts it in its metrics).
    on_unavailable: Callable[[], None] | None = None


def unavailable(err: Exception) -> DatabaseError:
    """The client-safe error for a Neo4j that cannot be reached."""
    error = DatabaseError("The graph database is not reachable; try again shortly.")
    error.__cause__ = err
    return error


async def in_worker(runtime: Runtime, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, within the query timeout."""
    return await _in_thread(runtime, runtime.query_timeout, fn, *args, **kwargs)


async def in_worker_to_the_end(runtime: Runtime, fn: Callable[..., T], /, *args, **kwargs
                               ) -> T:
    """``fn(*args, **kwargs)`` in a worker thread (a slot within the query timeout), however
    long it runs: for work whose callers bound their own wait and whose result is kept for
    the next one (a paged list's build, :func:`fusion.services.paging.rows_of`)."""
    return await _in_thread(runtime, None, fn, *args, **kwargs)


async def _in_thread(runtime: Runtime, limit: float | None, fn: Callable[..., T], /, *args,
                     **kwargs) -> T:
    timeout, slots = runtime.query_timeout, runtime.slots

    def run() -> T:
        if not slots.acquire(timeout=timeout):
            raise TooComplex("The service is busy with other analyses; try again shortly.")
        try:
            return fn(*args, **kwargs)
        finally:
            slots.release()

    try:
        return await asyncio.wait_for(asyncio.to_thread(run), limit)
    except TimeoutError:
        raise TooComplex(f"The analysis took longer than {timeout:g} s; narrow it (a smaller "
                         "scope or time range).") from None
    except (ServiceUnavailable, SessionExpired) as err:
        if runtime.on_unavailable is not None:
            runtime.on_unavailable()
        raise unavailable(err) from err
