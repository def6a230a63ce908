"""`fusion demo`: the managed Neo4j, the bundled multi-region scenario loaded once, the
co-travel analysis, an analyst token, and the GraphQL service with its console.

Everything slow happens once per FUSION_HOME: the scenario is generated into
``FUSION_HOME/demo/scenario-<seed>-<scale>``, and marker files there record that it was
loaded (``.loaded``) and that CO_TRAVELED was materialized (``.cotravel``).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console

from fusion.auth import Role, issue_token, load_secret
from fusion.commands.progress import phase_reporter
from fusion.commands.serve import check_port_free, run_server
from fusion.config import Settings, load_settings
from fusion.db import connect, ensure_schema
from fusion.managed import ManagedNeo4j
from fusion.scenario.generate import generate_scenario
from fusion.services.materialize import materialize_co_travel
from loaders.ingest import load_files

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
DEMO_USER = "demo-analyst"
DEMO_TTL = timedelta(hours=8)


@dataclass(frozen=True)
class Demo:
    """The prepared demo scenario."""

    scenario: Path
    regions: tuple[str, ...]


def start_database(settings: Settings) -> None:
    """Start the managed Neo4j (installing it the first time) unless an external one is set."""
    if settings.external:
        out.print(f"Using the external Neo4j at {settings.neo4j_uri}.")
        return
    with err.status("Starting the managed Neo4j (the first start installs it)…") as status:
        st, started = ManagedNeo4j(settings).start(on_progress=phase_reporter(err, status))
    out.print(f"Neo4j {st.version} {'started' if started else 'already running'} "
              f"on {st.uri}.")


def still_running_notice(settings: Settings) -> None:
    """Say that the managed Neo4j outlives the demo, and how to stop it."""
    if settings.external:
        return
    pid = ManagedNeo4j(settings).running_pid()
    if pid is not None:
        err.print(f"The managed Neo4j is still running (pid {pid}, "
                  f"bolt://127.0.0.1:{settings.db_bolt_port}); stop it with `fusion db stop`.",
                  highlight=False)


def prepare(settings: Settings, scale: float, seed: int) -> Demo:
    """Generate and load the scenario and materialize co-travel, each only once."""
    scenario = settings.home / "demo" / f"scenario-{seed}-{scale:g}"
    if not (scenario / "truth.json").exists():
        with err.status(f"Generating the demo scenario into {scenario}…"):
            generate_scenario(scenario, scale=scale, seed=seed)
    truth = json.loads((scenario / "truth.json").read_text("utf-8"))
    with connect(settings) as driver:
        ensure_schema(driver, settings.neo4j_database)
        _load_once(settings, driver, scenario, truth)
        _co_travel_once(settings, driver, scenario)
    return Demo(scenario, tuple(r["code"] for r in truth["regions"]))


def _load_once(settings: Settings, driver, scenario: Path, truth: dict) -> None:
    marker = scenario / ".loaded"
    if marker.exists():
        out.print(f"Demo data already loaded from {scenario}.")
        return
    for entry in truth["load_order"]:
        profile = scenario / entry["profile"] if entry["profile"] else None
        with err.status(f"Loading {entry['kind']} of region {entry['region']}…"):
            summary = load_files(driver, settings.neo4j_database, settings.home, entry["kind"],
                                 [scenario / entry["file"]], entry["region"], profile)
        totals = summary.as_dict()
        quarantined = totals["quarantine_files"]
        out.print(f"{entry['file']}: " + ", ".join(
            f"{k} {totals[k]}" for k in ("read", "loaded", "quarantined", "duplicates")
            if k in totals) + (f" (quarantine: {', '.join(quarantined)})" if quarantined else ""),
            highlight=False)
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def _co_travel_once(settings: Settings, driver, scenario: Path) -> None:
    marker = scenario / ".cotravel"
    if marker.exists():
        return
    with err.status("Running the co-travel analysis (CO_TRAVELED)…"):
        run = materialize_co_travel(driver, settings.neo4j_database, settings.home)
    out.print(f"Co-travel: {run.created:,} CO_TRAVELED relationships from "
              f"{run.sightings:,} sightings in {run.seconds:.1f} s.")
    marker.write_text(json.dumps(run.as_dict()))


def demo_token(settings: Settings, regions: tuple[str, ...]) -> str:
    """An analyst token for the demo's regions."""
    return issue_token(load_secret(settings), DEMO_USER, Role.ANALYST, list(regions), DEMO_TTL)


def demo(
    host: str = typer.Option("127.0.0.1", "--host", help="Address the service listens on."),
    port: int = typer.Option(8000, "--port", help="TCP port of the service."),
    scale: float = typer.Option(0.2, help="Size of the bundled scenario (generated once)."),
    seed: int = typer.Option(1, help="Seed of the bundled scenario."),
    serve: bool = typer.Option(True, "--serve/--no-serve",
                               help="Serve after preparing (--no-serve: prepare, print, exit)."),
) -> None:
    """Start Neo4j, load the demo scenario (once), run co-travel, serve, print the workbench
    address with a ready analyst token."""
    settings = load_settings()
    if serve:
        check_port_free(host, port)
    try:
        start_database(settings)
        prepared = prepare(settings, scale, seed)
        token = demo_token(settings, prepared.regions)
        announce = _announcement(prepared, token, host, port, serve)
        if serve:
            run_server(settings, host, port, "warning", announce)
        else:
            announce()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        still_running_notice(settings)
        raise typer.Exit(130) from None
    if serve:  # Ctrl-C stopped the service; Neo4j keeps running for the next demo
        still_running_notice(settings)


def _announcement(prepared: Demo, token: str, host: str, port: int, serve: bool):
    """What to print once the demo is ready: the workbench address carrying the token."""
    shown = "localhost" if host in ("0.0.0.0", "::") else host

    def announce() -> None:
        state = ("Fusion is serving the demo" if serve else
                 f"The demo is ready; serve it with `fusion serve --port {port}`")
        out.print(f"\n{state} ({', '.join(prepared.regions)}).\n"
                  f"Workbench:  http://{shown}:{port}/#token={token}\n"
                  f"Console:    http://{shown}:{port}/graphql (the workbench's "
                  "'GraphQL console' button opens it signed in)\n"
                  f"(The analyst token, valid {DEMO_TTL.total_seconds() / 3600:g} h, is the "
                  "text after #token=; scripts send it as Authorization: Bearer.)\n"
                  "Every data query needs a purpose: the workbench asks for it first, the "
                  "console as the X-Purpose header.\n"
                  "Try the saved queries (savedQueries) or:  { gangs { id size members "
                  "{ person { label } rank } } }" + ("\nStop with Ctrl-C." if serve else ""),
                  highlight=False)
        sys.stdout.flush()

    return announce
