"""`fusion alerts list`: the alerts watchlists and standing queries raised (docs/alerts.md)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from fusion.commands.watch import service_calls
from fusion.services.alerts import list_alerts

alerts_app = typer.Typer(help="Alerts raised by watchlists and standing queries.",
                         no_args_is_help=True)


@alerts_app.command("list")
def list_(
    owner: str | None = typer.Option(None, "--owner", help="Only this user's (default: all)."),
    state: str | None = typer.Option(None, "--state", help="NEW, CONFIRMED or DISMISSED."),
    limit: int = typer.Option(100, "--limit", min=1, help="Most alerts, newest first."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (with the evidence)."),
) -> None:
    """List alerts, newest first."""
    with service_calls() as call:
        found = call(list_alerts, owner, state.upper() if state else None, limit)
    if json_output:
        print(json.dumps([a.payload() | {"triagedBy": a.triaged_by,
                                         "triageReason": a.triage_reason} for a in found],
                         ensure_ascii=False))
        return
    table = Table(title="alerts")
    for col in ("created", "owner", "state", "source", "summary", "load"):
        table.add_column(col)
    for a in found:
        table.add_row(a.created_at.strftime("%Y-%m-%d %H:%M:%S"), a.owner, a.state,
                      a.source_name, a.summary, a.load_id or "scheduled")
    Console(soft_wrap=True).print(table)
