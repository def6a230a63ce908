"""The `fusion` command line (typer). Each command is a thin shell over a library function."""

from __future__ import annotations

import json
import os
import sys
import time

import click
import typer
from rich.console import Console

from fusion.commands.alerts import alerts_app
from fusion.commands.analyze import analyze_app
from fusion.commands.audit import audit_app
from fusion.commands.demo import demo
from fusion.commands.generate import generate
from fusion.commands.load import load
from fusion.commands.progress import phase_reporter
from fusion.commands.serve import serve
from fusion.commands.token import token_app
from fusion.commands.watch import watch_app
from fusion.config import Settings, load_settings
from fusion.db import connect, ensure_schema
from fusion.errors import FusionError
from fusion.managed import ManagedNeo4j
from loaders.private import PRIVATE_UMASK

app = typer.Typer(
    help="Fusion: multi-region intelligence-fusion graph analysis over Neo4j.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The managed local Neo4j (the embedded default).", no_args_is_help=True)
app.add_typer(db_app, name="db")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _settings() -> Settings:
    return load_settings()


def _external_notice(settings: Settings) -> bool:
    if settings.external:
        out.print(
            f"FUSION_NEO4J_URI is set: Fusion uses the external Neo4j at {settings.neo4j_uri}; "
            "the managed local Neo4j is not used."
        )
        return True
    return False


@db_app.command("start")
def db_start() -> None:
    """Install (first time only) and start the managed Neo4j; wait until Bolt answers."""
    settings = _settings()
    if _external_notice(settings):
        return
    server = ManagedNeo4j(settings)
    began = time.monotonic()
    with err.status("Starting the managed Neo4j…") as status:
        st, started = server.start(on_progress=phase_reporter(err, status))
    took = time.monotonic() - began
    verb = f"started in {took:.1f} s" if started else "already running"
    out.print(f"Neo4j {st.version} {verb}: pid {st.pid}, bolt {st.uri}, "
              f"http 127.0.0.1:{st.http_port}, data {st.data_path}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the managed Neo4j gracefully and wait for it to exit."""
    settings = _settings()
    if _external_notice(settings):
        return
    with err.status("Stopping the managed Neo4j…"):
        was_running = ManagedNeo4j(settings).stop()
    out.print("Neo4j stopped." if was_running else "Neo4j was not running.")


@db_app.command("status")
def db_status(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Print state, pid, ports, version and data path of the managed Neo4j."""
    settings = _settings()
    if settings.external:
        info = {"state": "external", "uri": settings.neo4j_uri}
        if as_json:
            print(json.dumps(info))
        else:
            _external_notice(settings)
        return
    st = ManagedNeo4j(settings).status()
    info = {"state": st.state, "pid": st.pid, "bolt_port": st.bolt_port,
            "http_port": st.http_port, "version": st.version, "data_path": str(st.data_path),
            "uri": st.uri}
    if as_json:
        print(json.dumps(info))
        return
    for k, v in info.items():
        out.print(f"{k:>10}: {v if v is not None else '-'}")


@app.command("init")
def init() -> None:
    """Create the graph's constraints and indexes (idempotent)."""
    settings = _settings()
    with connect(settings) as driver:
        created = ensure_schema(driver, settings.neo4j_database)
    out.print(f"Schema ready ({len(created)} created now"
              + (f": {', '.join(created)})" if created else ")"))


def _register_commands() -> None:
    """Commands that live in their own modules (fusion.commands)."""
    app.command("generate")(generate)
    app.command("load")(load)
    app.add_typer(token_app, name="token")
    app.add_typer(audit_app, name="audit")
    app.add_typer(analyze_app, name="analyze")
    app.command("serve")(serve)
    app.command("demo")(demo)
    app.add_typer(watch_app, name="watch")
    app.add_typer(alerts_app, name="alerts")


_register_commands()


def main() -> None:
    """Entry point: run the app, turning Fusion's errors into a message and an exit status."""
    os.umask(PRIVATE_UMASK)  # what any command writes under FUSION_HOME is the user's alone
    try:
        code = app(standalone_mode=False)  # typer.Exit comes back as a return value here
        if isinstance(code, int) and code:
            sys.exit(code)
    except FusionError as exc:
        err.print(f"[bold red]error[/] ({exc.code}): {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("Aborted.")
        sys.exit(130)
    except Exception as exc:  # click's usage errors
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
