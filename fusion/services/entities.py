"""Entity lookups: full-text search over names, keys and addresses, with exact key matches
first. Also re-exports the reference and displayed-entity models
(:mod:`fusion.services.models`) under the names the analyses import."""

from __future__ import annotations

import re

from fusion.errors import BadInput
from fusion.services.arguments import check_limit
from fusion.services.cypher import read
from fusion.services.models import Entity, EntityRef, PathNode
from fusion.services.runtime import Runtime
from loaders.normalize import InvalidValue, canonical_key
from queries.entities import SEARCH_WITH_KEYS
from queries.model import KIND_LABELS, LABEL_KINDS

__all__ = ["Entity", "EntityRef", "PathNode", "exact_keys", "lucene_query", "search"]

MAX_SEARCH_CHARS = 200
MAX_SEARCH_TERMS = 16
_PLAIN_TERM = re.compile(r"^[0-9A-Za-z]+$")


async def search(
    runtime: Runtime,
    text: str,
    *,
    kinds: list[str] | None = None,
    limit: int = 20,
    scope: frozenset[str],
    limit_cap: int | None = None,
) -> list[PathNode]:
    """Entities visible in ``scope`` (of ``kinds``; None: all) whose key is ``text`` first,
    then full-text hits by score; each with all its properties."""
    check_limit(limit, limit_cap)
    query = lucene_query(text)
    keys = exact_keys(text, kinds or list(KIND_LABELS))
    by_label: dict[str, list[str]] = {}
    for ref in keys:
        by_label.setdefault(KIND_LABELS[ref.kind], []).append(ref.key)
    # One statement, one round trip: exact matches and enough full-text hits to fill `limit`
    # even if every exact match is among them too.
    records = await read(runtime, SEARCH_WITH_KEYS, query=query, scope=sorted(scope),
                         keys={label: sorted(found) for label, found in by_label.items()},
                         labels=[KIND_LABELS[k] for k in kinds] if kinds else None,
                         limit=limit + len(keys))
    return _ranked(keys, records)[:limit]


def _ranked(keys: list[EntityRef], records: list) -> list[PathNode]:
    """Exact matches in the order of ``keys``, then full-text hits in the order received,
    each entity once."""
    exact = {(LABEL_KINDS[r["label"]], r["key"]): r for r in records if r["exact"]}
    hits = {}
    for ref in keys:
        if (ref.kind, ref.key) in exact:
            r = exact[ref.kind, ref.key]
            hits[ref] = PathNode.from_props(r["label"], r["props"])
    for r in records:
        if not r["exact"]:
            node = PathNode.from_props(r["label"], r["props"])
            hits.setdefault(node.ref, node)
    return list(hits.values())


def exact_keys(text: str, kinds: list[str]) -> list[EntityRef]:
    """The text read as a key of each kind that accepts it."""
    found = []
    for kind in kinds:
        try:
            found.append(EntityRef(kind, canonical_key(kind, text.strip())))
        except InvalidValue:
            continue
    return found


def lucene_query(text: str) -> str:
    """A Lucene query matching any of the words of ``text``, with no query syntax of its own.

    Each word becomes a quoted phrase (analysed like the index; only ``"`` and ``\\`` need
    escaping inside quotes); plain ASCII words also match as a prefix.
    """
    if len(text) > MAX_SEARCH_CHARS:
        raise BadInput(f"search text is longer than {MAX_SEARCH_CHARS} characters")
    words = text.split()
    if not words:
        raise BadInput("search text is empty")
    if len(words) > MAX_SEARCH_TERMS:
        raise BadInput(f"search text has more than {MAX_SEARCH_TERMS} words")
    parts = []
    for word in words:
        parts.append('"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"')
        if _PLAIN_TERM.match(word):
            parts.append(word.lower() + "*")
    return " OR ".join(parts)
