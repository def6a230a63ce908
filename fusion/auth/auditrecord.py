"""The audit record format: one canonical JSON object per line, chained by sha256.

``hash = sha256(canonical JSON of every field except hash)``, where the fields include
``prev_hash``, the previous record's ``hash`` (:data:`GENESIS` for the first record).
``worker`` is present only in records written by a worker of `fusion serve --workers N` (its
process id): all workers append to one chain, so the file's order is the one total order.
Canonical JSON: keys sorted, no spaces, UTF-8. The stored line is the canonical JSON of the
record including ``hash``, so a verifier needs nothing but the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime

GENESIS = "0" * 64

@dataclass(frozen=True)
class AuditRecord:
    """One audited /graphql request; ``outcome`` is allowed, denied:<CODE> or failed:<CODE>."""

    at: datetime
    user: str | None
    role: str | None
    operation_name: str | None
    document_hash: str | None
    variables: dict | None
    purpose: str | None
    scope: list[str] | None
    outcome: str
    result_count: int | None
    prev_hash: str
    hash: str
    worker: str | None = None


FIELD_NAMES = tuple(f.name for f in fields(AuditRecord))
# Fields a stored record may leave out (absent: the record was written by a single process).
OPTIONAL_FIELDS = frozenset({"worker"})
REQUIRED_FIELDS = tuple(n for n in FIELD_NAMES if n not in OPTIONAL_FIELDS)


def canonical(obj: dict) -> str:
    """Canonical JSON text of ``obj`` (values that are not JSON become strings)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def record_hash(body: dict) -> str:
    """sha256 (hex) of the canonical JSON of a record's fields other than ``hash``."""
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def seal(body: dict, prev_hash: str) -> tuple[dict, str]:
    """Chain ``body`` (fields without the two hashes) to ``prev_hash``: (stored object, line)."""
    # Round-trip through JSON first so the hash covers exactly what a verifier will read back.
    chained = json.loads(canonical({**body, "prev_hash": prev_hash}))
    stored = {**chained, "hash": record_hash(chained)}
    return stored, canonical(stored) + "\n"


def body_of(at: datetime, **values: object) -> dict:
    """The hashed fields of a new record (``at`` in ISO 8601 with offset)."""
    return {"at": at.isoformat(), **values}


def from_stored(stored: dict) -> AuditRecord:
    """The AuditRecord of a stored (parsed) line."""
    values = {name: stored[name] for name in REQUIRED_FIELDS}
    values.update({name: stored[name] for name in OPTIONAL_FIELDS if name in stored})
    values["at"] = datetime.fromisoformat(stored["at"])
    return AuditRecord(**values)


def to_stored(record: AuditRecord) -> dict:
    """The stored object of a record (inverse of :func:`from_stored`)."""
    stored = {**asdict(record), "at": record.at.isoformat()}
    return {k: v for k, v in stored.items() if k not in OPTIONAL_FIELDS or v is not None}
