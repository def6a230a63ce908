"""`fusion audit verify`: check the audit log's hash chain and name the first bad record."""

from __future__ import annotations

import typer

from fusion.auth.audit import audit_path, verify_audit_log
from fusion.config import load_settings

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    anchor: str | None = typer.Option(
        None, "--anchor", help="A record hash noted earlier (e.g. a previous verify's head): "
        "also fail unless the chain still contains it, which detects records cut from the end."),
) -> None:
    """Check every record's hash and link; exit 1 and name the first bad record if broken."""
    path = audit_path(load_settings().home)
    result = verify_audit_log(path, anchor=anchor)
    print(f"{path}: {result}")
    if not result.ok:
        raise typer.Exit(1)
