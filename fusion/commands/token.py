"""`fusion token issue|revoke|list-revoked`: bearer tokens for the GraphQL service.

`issue` prints the token alone on stdout (for scripts) and its id and expiry on stderr (or all
of it with --json); `revoke` records the id in Neo4j, which every running service re-reads
within FUSION_TOKEN_REVOCATION_REFRESH seconds.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from fusion.auth.revocation import revoke_token, revoked_tokens
from fusion.auth.roles import Role, parse_role
from fusion.auth.tokens import issue_claims, load_secret, parse_ttl
from fusion.config import load_settings
from fusion.db import connect
from fusion.errors import FusionError

token_app = typer.Typer(help="Bearer tokens for the GraphQL service.", no_args_is_help=True)

_ROLES = ", ".join(r.value for r in Role)
err = Console(stderr=True, soft_wrap=True)


def _reporting_errors(action: Callable[[], None]) -> None:
    """Run ``action``; a FusionError becomes a message on stderr and the error's exit status."""
    try:
        action()
    except FusionError as exc:
        err.print(f"[bold red]error[/] ({exc.code}): {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


@token_app.command("issue")
def issue(
    user: str = typer.Option(..., "--user", help="Who the token is for (its subject)."),
    role: str = typer.Option(..., "--role", help=f"One of: {_ROLES}."),
    regions: list[str] = typer.Option(..., "--region", help="A home region (repeat for more)."),
    ttl: str = typer.Option("8h", "--ttl", help="Time to live, e.g. 30m, 8h, 1h30m; at most "
                            "FUSION_TOKEN_MAX_TTL (12h by default)."),
    as_json: bool = typer.Option(False, "--json", help="Print token, jti, role, regions and "
                                 "expiry as one JSON object."),
) -> None:
    """Print a signed bearer token on stdout (its id, for `fusion token revoke`, on stderr)."""
    def run() -> None:
        settings = load_settings()
        token, claims = issue_claims(load_secret(settings), user, parse_role(role), regions,
                                     parse_ttl(ttl))
        expires = datetime.fromtimestamp(claims["exp"], UTC).isoformat()
        if as_json:
            print(json.dumps({"token": token, "jti": claims["jti"], "user": claims["sub"],
                              "role": claims["role"], "regions": claims["regions"],
                              "expires_at": expires}))
            return
        print(token)
        err.print(f"jti {claims['jti']} (expires {expires})", highlight=False)

    _reporting_errors(run)


@token_app.command("revoke")
def revoke(
    jti: str = typer.Argument(..., help="The token's id (jti), as `fusion token issue` "
                              "printed it."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept with the revocation)."),
) -> None:
    """Revoke a token by its id: running services refuse it (401) within
    FUSION_TOKEN_REVOCATION_REFRESH seconds (2 by default)."""
    def run() -> None:
        settings = load_settings()
        with connect(settings) as driver:
            done = revoke_token(driver, settings.neo4j_database, jti, getpass.getuser(), reason)
        print(f"revoked {done.jti} at {done.at.isoformat()} by {done.by}"
              + (f": {done.reason}" if done.reason else ""))
        err.print(f"Running services refuse it within {settings.token_revocation_refresh:g} s "
                  "(FUSION_TOKEN_REVOCATION_REFRESH).", highlight=False)

    _reporting_errors(run)


@token_app.command("list-revoked")
def list_revoked(
    as_json: bool = typer.Option(False, "--json", help="Print the revocations as JSON."),
) -> None:
    """List the revoked tokens: jti, when, by whom, why."""
    def run() -> None:
        settings = load_settings()
        with connect(settings) as driver:
            revocations = revoked_tokens(driver, settings.neo4j_database)
        if as_json:
            print(json.dumps([r.as_dict() for r in revocations]))
            return
        table = Table("jti", "at", "by", "reason", title=f"{len(revocations)} revoked tokens")
        for r in revocations:
            table.add_row(r.jti, r.at.isoformat(timespec="seconds"), r.by, r.reason or "")
        Console(soft_wrap=True).print(table)

    _reporting_errors(run)
