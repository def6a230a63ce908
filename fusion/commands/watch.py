"""`fusion watch add/list/remove`: watchlists from the command line (docs/alerts.md).

The operator at the machine acts for an owner (``--owner``), states the purpose and the
regions the watch sees; entries are ``KIND:KEY`` (plate, phone, person or parcel, any raw
form) on the command line or one a line in ``--from-file``. A malformed entry refuses the
whole list with the normalizer's reason; nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from fusion.config import load_settings
from fusion.db import connect
from fusion.errors import BadInput
from fusion.services import watchlists as service
from fusion.services.blocking import Call, blocking_calls

watch_app = typer.Typer(help="Watchlists: plates, phones, persons and parcels to alert on.",
                        no_args_is_help=True)

# What an entry's kind may be called on the command line -> the vocabulary's kind.
KIND_WORDS = {"plate": "VEHICLE", "vehicle": "VEHICLE", "phone": "PHONE", "person": "PERSON",
              "id": "PERSON", "id_no": "PERSON", "parcel": "PARCEL", "waybill": "PARCEL"}


@contextmanager
def service_calls() -> Iterator[Call]:
    """Service calls against the configured Neo4j (connection errors as the other commands')."""
    settings = load_settings()
    connect(settings).close()
    with blocking_calls(settings) as call:
        yield call


def parse_entry(text: str) -> tuple[str, str]:
    """``KIND:KEY`` as (vocabulary kind, raw key); BadInput naming the accepted kinds."""
    word, sep, key = text.partition(":")
    kind = KIND_WORDS.get(word.strip().lower())
    if not sep or not key.strip() or kind is None:
        raise BadInput(f"name an entry as KIND:KEY with KIND one of {', '.join(KIND_WORDS)} "
                       f"(e.g. plate:浙A12345), not {text!r}")
    return kind, key.strip()


def read_entries(path: Path) -> list[str]:
    """Entries of a file: one ``KIND:KEY`` a line (blank lines and # comments skipped)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as err:
        raise BadInput(f"cannot read {path}: {err.strerror}") from None
    return [x.strip() for x in lines if x.strip() and not x.strip().startswith("#")]


@watch_app.command("add")
def add(
    name: str = typer.Argument(..., help="The watchlist's name (unique among the owner's)."),
    entries: list[str] = typer.Argument(None, help="KIND:KEY entries, e.g. plate:浙A12345 "
                                        "phone:13812345678 person:<ID number> parcel:<waybill>."),
    owner: str = typer.Option(..., "--owner", help="The user it belongs to (gets its alerts)."),
    purpose: str = typer.Option(..., "--purpose", help="Why (case number or reason)."),
    region: list[str] = typer.Option(..., "--region", help="A region it sees (repeat)."),
    joint_operation: str | None = typer.Option(None, "--joint-operation",
                                               help="A joint operation scoping it instead."),
    webhook: str | None = typer.Option(None, "--webhook", help="POST its alerts here, signed."),
    from_file: Path | None = typer.Option(None, "--from-file", help="More entries, one a line."),
) -> None:
    """Add a watchlist; print its id."""
    texts = [*(entries or []), *(read_entries(from_file) if from_file else [])]
    parsed = [parse_entry(t) for t in texts]
    who = service.Owner(owner, purpose, tuple(region), joint_operation)
    with service_calls() as call:
        created = call(service.add_watchlist, who, name, parsed, webhook)
    Console().print(f"watchlist {created.id} ({created.name}): {len(created.entries)} entries, "
                    f"regions {', '.join(created.owner.regions)}", highlight=False)


@watch_app.command("list")
def list_(
    owner: str | None = typer.Option(None, "--owner", help="Only this user's (default: all)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the active watchlists."""
    with service_calls() as call:
        found = call(service.list_watchlists, owner)
    if json_output:
        print(json.dumps([_as_dict(w) for w in found], ensure_ascii=False))
        return
    table = Table(title="watchlists")
    for col in ("id", "name", "owner", "entries", "regions", "purpose", "webhook"):
        table.add_column(col)
    for w in found:
        table.add_row(w.id, w.name, w.owner.user, str(len(w.entries)),
                      w.owner.joint_operation or ", ".join(w.owner.regions), w.owner.purpose,
                      w.webhook or "")
    Console().print(table)


@watch_app.command("remove")
def remove(
    watchlist_id: str = typer.Argument(..., help="The watchlist's id (see `fusion watch list`)."),
    owner: str | None = typer.Option(None, "--owner", help="Only if it is this user's."),
) -> None:
    """Stop a watchlist (kept, marked removed, for the record)."""
    with service_calls() as call:
        removed = call(service.remove_watchlist, watchlist_id, owner, "cli")
    Console().print(f"watchlist {removed.id} ({removed.name}) removed", highlight=False)


def _as_dict(w: service.Watchlist) -> dict:
    return {"id": w.id, "name": w.name, "owner": w.owner.user, "purpose": w.owner.purpose,
            "regions": list(w.owner.regions), "joint_operation": w.owner.joint_operation,
            "entries": [f"{k}:{v}" for k, v in w.entries], "webhook": w.webhook,
            "created_at": w.created_at.isoformat()}
