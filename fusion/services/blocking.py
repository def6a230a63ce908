"""Service calls from synchronous code (the command line, benchmarks, tests).

The services are coroutines over the async Neo4j driver; :func:`blocking_calls` opens one
driver on one event loop and hands back a function that runs a service call to completion
on it, so a caller making many calls (a benchmark) pays for the connection once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import copy_context
from pathlib import Path
from typing import Any, TypeVar

from neo4j import AsyncGraphDatabase

from fusion.config import Settings
from fusion.db import DRIVER_OPTIONS, target
from fusion.services.runtime import Runtime

T = TypeVar("T")
Call = Callable[..., Any]


@contextmanager
def blocking_calls(settings: Settings, query_timeout: float | None = None,
                   home: Path | None = None) -> Iterator[Call]:
    """``call(service, *args, **kwargs)``: ``service(runtime, *args, **kwargs)`` run to the
    end. ``query_timeout`` None: no limit (an operator's run may take as long as it takes);
    ``home``: the event store to read instead of the settings' FUSION_HOME."""
    t = target(settings)
    with asyncio.Runner() as runner:
        driver = AsyncGraphDatabase.driver(t.uri, auth=(t.user, t.password), **DRIVER_OPTIONS)
        runtime = Runtime(driver=driver, database=settings.neo4j_database,
                          home=home or settings.home,
                          query_timeout=query_timeout)

        def call(service: Callable[..., Awaitable[T]], /, *args, **kwargs) -> T:
            # In the caller's context as it is now (the runner would keep the first one's).
            return runner.run(service(runtime, *args, **kwargs), context=copy_context())

        try:
            yield call
        finally:
            runner.run(driver.close())
