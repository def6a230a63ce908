"""Saved queries: named GraphQL documents stored in Neo4j, who may see them, and approval.

The documents in ``queries/saved/*.graphql`` ship with Fusion (the contract's operations and
queries written for operations units), are installed at start-up and approved by the product.
A query an analyst saves belongs to them and their home regions: it is seen and run by them,
by users sharing one of those regions, and by admins. Operators see approved ones only,
because approval is where an admin vouches for what a query costs and reveals.

This module is the storage and its rules, for any caller: who asks is a neutral
:class:`Viewer`, and what a document means is the caller's to check — the GraphQL service
passes a :data:`Check` hook that parses and validates a document against its schema and
answers a :class:`CheckedDocument` (operation name, variables, hash). Running a saved query,
and admitting an operator's document, stay with the GraphQL service (:mod:`fusion.api.saved`).
Whatever builds on saved queries (standing queries re-run on a schedule, say) stores and
reads them here, with its statements beside these in :mod:`queries.saved_queries`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fusion.errors import BadInput, Forbidden, NotFound
from fusion.services.cypher import read, write
from fusion.services.runtime import Runtime
from fusion.services.values import native_time
from queries.saved_queries import (
    APPROVE_SAVED_QUERY,
    APPROVED_QUERY_BY_HASH,
    GET_SAVED_QUERY,
    INSTALL_BUILTIN_QUERIES,
    LIST_SAVED_QUERIES,
    REVOKE_SAVED_QUERY_APPROVAL,
    SAVE_QUERY,
)

__all__ = ["MAX_DESCRIPTION", "NAME", "SAVED_DIR", "Check", "CheckedDocument", "SavedQuery",
           "Viewer", "approve_saved_query", "builtin_rows", "description_of",
           "get_saved_query", "install_builtin_queries", "is_approved_document",
           "list_saved_queries", "revoke_saved_query_approval", "save_query"]

SAVED_DIR = Path(__file__).resolve().parents[2] / "queries" / "saved"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class Viewer:
    """Who asks, as the visibility rule needs it: ``admin`` sees (and may replace) every saved
    query, ``approved_only`` sees approved ones only; otherwise the user sees approved ones,
    their own, and those saved by someone sharing one of their home ``regions``."""

    user: str
    regions: frozenset[str]
    admin: bool = False
    approved_only: bool = False

    def params(self) -> dict:
        """The parameters of queries.saved_queries' visibility rule."""
        return {"all": self.admin, "approved_only": self.approved_only, "user": self.user,
                "regions": sorted(self.regions)}


@dataclass(frozen=True)
class CheckedDocument:
    """A document as its caller checked it: its one operation's name (None: anonymous), the
    operation's variables (name, type, default) and the document's hash (what approval pins)."""

    operation: str | None
    variables: list[dict]
    hash: str


# Parses and validates a document (BadInput when it is not one valid operation).
Check = Callable[[str], CheckedDocument]


@dataclass(frozen=True)
class SavedQuery:
    """One saved query."""

    name: str
    description: str
    document: str
    document_hash: str
    variables: list[dict]
    builtin: bool
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: str | None = None
    regions: tuple[str, ...] = ()
    approved: bool = False
    approved_by: str | None = None
    approved_at: datetime | None = None

    @classmethod
    def from_record(cls, q: dict) -> SavedQuery:
        """From a row of queries.saved_queries."""
        approved = bool(q["approved"])
        return cls(name=q["name"], description=q["description"], document=q["document"],
                   document_hash=q["document_hash"],
                   variables=json.loads(q["variables"] or "[]"), builtin=bool(q["builtin"]),
                   created_by=q["created_by"], created_at=native_time(q["created_at"]),
                   updated_at=native_time(q["updated_at"]), updated_by=q["updated_by"],
                   regions=tuple(q["regions"]),
                   approved=approved, approved_by=q["approved_by"] if approved else None,
                   approved_at=native_time(q["approved_at"]) if approved else None)


def description_of(text: str) -> str:
    """The leading ``#`` comment lines of a shipped document, joined."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(x for x in lines if x)


def builtin_rows(check: Check, directory: Path = SAVED_DIR) -> list[dict]:
    """The shipped saved queries, checked; each named after its operation (ValueError else)."""
    rows = []
    for path in sorted(directory.glob("*.graphql")):
        text = path.read_text("utf-8")
        try:
            checked = check(text)
        except BadInput as err:
            raise ValueError(f"{path.name}: {err}") from None
        if checked.operation != path.stem:
            raise ValueError(f"{path.name}: its operation must be named {path.stem}")
        rows.append({"name": path.stem, "description": description_of(text), "document": text,
                     "document_hash": checked.hash,
                     "variables": json.dumps(checked.variables)})
    return rows


async def install_builtin_queries(runtime: Runtime, rows: list[dict]) -> int:
    """Create or update the shipped saved queries (:func:`builtin_rows`); returns how many."""
    await write(runtime, INSTALL_BUILTIN_QUERIES, rows=rows, now=datetime.now(UTC))
    return len(rows)


async def list_saved_queries(runtime: Runtime, viewer: Viewer) -> list[SavedQuery]:
    """The saved queries ``viewer`` may see, by name."""
    records = await read(runtime, LIST_SAVED_QUERIES, **viewer.params())
    return [SavedQuery.from_record(r["query"]) for r in records]


async def get_saved_query(runtime: Runtime, viewer: Viewer, name: str) -> SavedQuery:
    """The saved query ``name`` if ``viewer`` may see it; NotFound otherwise."""
    records = await read(runtime, GET_SAVED_QUERY, name=name, **viewer.params())
    if not records:
        raise NotFound(f"No saved query {name!r} that you may run.")
    return SavedQuery.from_record(records[0]["query"])


async def is_approved_document(runtime: Runtime, document_hash: str) -> bool:
    """True when some saved query's current, approved text has ``document_hash``."""
    return bool(await read(runtime, APPROVED_QUERY_BY_HASH, hash=document_hash))


async def save_query(runtime: Runtime, viewer: Viewer, name: str, description: str,
                     document: str, *, check: Check) -> SavedQuery:
    """Check and store (or replace one's own) saved query; ``check`` runs in a worker thread
    (validating a document is not linear in its size)."""
    if not NAME.match(name):
        raise BadInput("A saved query's name starts with a letter and holds up to 64 letters, "
                       "digits, '_' or '-'.")
    if not description.strip() or len(description) > MAX_DESCRIPTION:
        raise BadInput(f"A saved query needs a description of 1 to {MAX_DESCRIPTION} characters.")
    checked = await asyncio.to_thread(check, document)
    records = await write(runtime, SAVE_QUERY, name=name, description=description.strip(),
                          document=document, document_hash=checked.hash,
                          variables=json.dumps(checked.variables), user=viewer.user,
                          regions=sorted(viewer.regions), admin=viewer.admin,
                          now=datetime.now(UTC))
    if not records:
        raise Forbidden(f"The saved query {name!r} is shipped with Fusion or belongs to another "
                        "user; choose another name.")
    return SavedQuery.from_record(records[0]["query"])


async def approve_saved_query(runtime: Runtime, viewer: Viewer, name: str,
                              expected_hash: str | None = None) -> SavedQuery:
    """Approve the current text of ``name`` for operators (who may approve is the caller's
    to enforce: the GraphQL service's Guard admits admins only); BadInput when
    ``expected_hash`` is given and the text changed since the approver read it."""
    records = await write(runtime, APPROVE_SAVED_QUERY, name=name, hash=expected_hash,
                          user=viewer.user, now=datetime.now(UTC))
    if not records:
        raise NotFound(f"No saved query {name!r}.")
    if not records[0]["matched"]:
        raise BadInput(f"The saved query {name!r} changed since you read it (documentHash is "
                       "now different); read it again before approving.")
    return SavedQuery.from_record(records[0]["query"])


async def revoke_saved_query_approval(runtime: Runtime, viewer: Viewer, name: str
                                      ) -> SavedQuery:
    """Withdraw the approval of ``name``: operators can no longer list or run it."""
    records = await write(runtime, REVOKE_SAVED_QUERY_APPROVAL, name=name, user=viewer.user,
                          now=datetime.now(UTC))
    if not records:
        raise NotFound(f"No saved query {name!r}.")
    return SavedQuery.from_record(records[0]["query"])
