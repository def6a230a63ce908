"""Synchronous analyses off the event loop, for the service's resolvers: the service layer's
:func:`fusion.services.runtime.in_worker` with the process's runtime."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fusion.api.resources import Resources
from fusion.services.runtime import in_worker as _in_worker

T = TypeVar("T")


async def in_worker(services: Resources, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, within the query timeout."""
    return await _in_worker(services.runtime, fn, *args, **kwargs)
