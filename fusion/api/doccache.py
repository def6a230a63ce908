"""Documents the service has already parsed and validated, kept for the next request.

Other systems send the same few documents over and over (the shipped saved queries, a
client's fixed operations), and parsing plus graphql-core's validation of such a document
took about a third of a request's CPU (docs/bench/latest.md, "Where the time went"). The
outcome of both depends only on the document's text and the schema, which is fixed for the
life of the app, so it is remembered:

- the parsed ``DocumentNode`` by (text, token limit) — graphql-core never mutates a document;
- that a text passed every validation rule and Fusion's linear limits with no error.

Only successes are kept (an error carries the request id it was reported with), only texts
up to :data:`MAX_TEXT` characters, and at most :data:`MAX_ENTRIES` of each, least recently
used first out — so a client sending endless distinct documents gains nothing and costs a
bounded amount of memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from graphql import DocumentNode, parse

MAX_ENTRIES = 256
MAX_TEXT = 64 * 1024


class _Lru:
    """A small thread-safe LRU map (validation may run in a worker thread)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[object, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> object | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: object, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class DocumentCache:
    """Parsed documents and validated texts of one schema."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._parsed = _Lru(size)
        self._valid = _Lru(size)

    def parse(self, text: str, max_tokens: int | None = None) -> DocumentNode:
        """``text`` parsed (as graphql-core's ``parse``; errors are raised, never kept)."""
        if len(text) > MAX_TEXT:
            return parse(text, max_tokens=max_tokens)
        key = (text, max_tokens)
        document = self._parsed.get(key)
        if document is None:
            document = parse(text, max_tokens=max_tokens)
            self._parsed.put(key, document)
        return document  # type: ignore[return-value]

    def is_valid(self, text: str) -> bool:
        """True when ``text`` passed validation before (with no error)."""
        return self._valid.get(text) is not None

    def mark_valid(self, text: str) -> None:
        """Remember that ``text`` passed validation with no error."""
        if len(text) <= MAX_TEXT:
            self._valid.put(text, True)

    def sizes(self) -> tuple[int, int]:
        """(parsed documents, validated texts) held now."""
        return len(self._parsed), len(self._valid)
