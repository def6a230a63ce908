"""`fusion demo` and `fusion db start` as a user sees them: progress per phase, the token once,
and a word about the managed Neo4j that outlives an interrupted demo."""

from __future__ import annotations

import io
import os

import pytest
from rich.console import Console
from typer.testing import CliRunner

from fusion.cli import app
from fusion.commands import demo as demo_command
from fusion.commands.progress import phase_reporter

runner = CliRunner()


def test_progress_prints_each_phase_once_off_a_terminal():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False)
    with console.status("Starting…") as status:
        report = phase_reporter(console, status)
        for line in ("Checking the Neo4j installation…",
                     "Resolving Neo4j's jars with Maven (first start only): neo4j-5.26.30.jar",
                     "Resolving Neo4j's jars with Maven (first start only): netty-4.1.jar",
                     "Starting the Neo4j JVM…"):
            report(line)
    assert buffer.getvalue().splitlines() == [
        "Checking the Neo4j installation…", "Resolving Neo4j's jars with Maven (first start "
        "only)", "Starting the Neo4j JVM…"]


def test_progress_updates_the_status_line_on_a_terminal():
    console = Console(file=io.StringIO(), force_terminal=True)
    with console.status("Starting…") as status:
        phase_reporter(console, status)("Waiting for Neo4j to answer on bolt://x (Bolt)…")
        assert str(status.renderable.text) == "Waiting for Neo4j to answer on bolt://x (Bolt)…"


def test_the_demo_prints_its_token_once(capsys):
    prepared = demo_command.Demo(scenario=None, regions=("330100", "440300"))
    token = "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"
    demo_command._announcement(prepared, token, "127.0.0.1", 8123, serve=False)()
    printed = capsys.readouterr().out
    assert printed.count(token) == 1
    assert f"http://127.0.0.1:8123/#token={token}" in printed        # the workbench
    assert "http://127.0.0.1:8123/graphql " in printed                 # the console, no token


@pytest.mark.neo4j
def test_interrupted_demo_says_neo4j_still_runs_and_how_to_stop_it(neo4j_settings, driver,
                                                                   monkeypatch):
    from fusion.managed import ManagedNeo4j

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # the user's Ctrl-C while the scenario loads

    monkeypatch.setattr(demo_command, "prepare", interrupted)
    for key in [k for k in os.environ if k.startswith("FUSION_")]:
        monkeypatch.delenv(key)
    env = {"FUSION_HOME": str(neo4j_settings.home),
           "FUSION_DB_BOLT_PORT": str(neo4j_settings.db_bolt_port),
           "FUSION_DB_HTTP_PORT": str(neo4j_settings.db_http_port)}
    result = runner.invoke(app, ["demo", "--no-serve"], env=env)
    assert result.exit_code == 130, result.output
    pid = ManagedNeo4j(neo4j_settings).running_pid()
    assert pid is not None
    assert f"still running (pid {pid}" in result.stderr
    assert "`fusion db stop`" in result.stderr
