"""Answers computed from the event store, remembered until the store changes.

A co-travel request scans the visible sightings twice (its pairs, then their meetings), and
under the API bench's mix those scans took a quarter of the service's CPU for a tenth of its
requests — while the same subjects are asked about again and again. The answer depends only on
its arguments (scope included) and on the event store's contents, which change only when a
load commits (a new manifest in ``events/<source>/loads``) or is discarded. So an answer is kept
under (its arguments, the store's version) where the version is the set of complete loads and
the loads directory's modification time: the next load makes every kept answer unreachable.
At most :data:`MAX_ENTRIES` answers, least recently used out; callers get a fresh list.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

from loaders.eventstore import EventStore

T = TypeVar("T")
MAX_ENTRIES = 128


def store_version(home: Path, source: str) -> Hashable:
    """What changes whenever a load of ``source`` commits or is discarded."""
    store = EventStore(home)
    loads = store.dir(source, "loads")
    try:
        stamp = loads.stat().st_mtime_ns
    except OSError:
        stamp = None
    return frozenset(store.complete_loads(source)), stamp


class StoreCache:
    """Answers by (arguments, store version), thread-safe (analyses run in worker threads)."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, list] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, home: Path, source: str, key: Hashable,
               compute: Callable[[], list[T]]) -> list[T]:
        """``compute()``'s list, or the one kept for ``key`` over this version of the store."""
        full = (str(home), source, key, store_version(home, source))
        with self._lock:
            kept = self._items.get(full)
            if kept is not None:
                self._items.move_to_end(full)
                return list(kept)
        value = compute()
        with self._lock:
            self._items[full] = list(value)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
