"""Synchronous analyses (networkx, igraph, polars, the sync Neo4j driver) off the event loop.

Each runs in a worker thread, at most two at once (the machine has two cores; more would only
queue inside the CPU), and is abandoned after ``FUSION_QUERY_TIMEOUT`` seconds with
TOO_COMPLEX. An abandoned thread still holds its slot until it finishes, so runaway work
cannot pile up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from neo4j.exceptions import ServiceUnavailable, SessionExpired

from fusion.api.resources import Resources, unavailable
from fusion.errors import TooComplex

T = TypeVar("T")


async def in_worker(services: Resources, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, within the query timeout."""
    timeout = services.settings.query_timeout
    slots = services.analysis_slots

    def run() -> T:
        if not slots.acquire(timeout=timeout):
            raise TooComplex("The service is busy with other analyses; try again shortly.")
        try:
            return fn(*args, **kwargs)
        finally:
            slots.release()

    try:
        return await asyncio.wait_for(asyncio.to_thread(run), timeout)
    except TimeoutError:
        raise TooComplex(f"The analysis took longer than {timeout:g} s; narrow it (a smaller "
                         "scope or time range).") from None
    except (ServiceUnavailable, SessionExpired) as err:
        if services.metrics is not None:
            services.metrics.neo4j_error("unavailable")
        raise unavailable(err) from err
