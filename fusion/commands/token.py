"""`fusion token issue --user U --role ROLE --region R [--region R2 ...] [--ttl 8h]`."""

from __future__ import annotations

import typer
from rich.console import Console

from fusion.auth.access import Role, parse_role
from fusion.auth.tokens import issue_token, load_secret, parse_ttl
from fusion.config import load_settings
from fusion.errors import FusionError

token_app = typer.Typer(help="Bearer tokens for the GraphQL service.", no_args_is_help=True)

_ROLES = ", ".join(r.value for r in Role)


@token_app.command("issue")
def issue(
    user: str = typer.Option(..., "--user", help="Who the token is for (its subject)."),
    role: str = typer.Option(..., "--role", help=f"One of: {_ROLES}."),
    regions: list[str] = typer.Option(..., "--region", help="A home region (repeat for more)."),
    ttl: str = typer.Option("8h", "--ttl", help="Time to live, e.g. 30m, 8h, 7d, 1h30m."),
) -> None:
    """Print a signed bearer token (only the token, on stdout)."""
    try:
        settings = load_settings()
        token = issue_token(load_secret(settings), user, parse_role(role), regions,
                            parse_ttl(ttl))
    except FusionError as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error[/] ({exc.code}): {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    print(token)
