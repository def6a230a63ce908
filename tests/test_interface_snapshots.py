"""The public interfaces a refactoring must not move: the served GraphQL schema and every
command's ``--help`` text, held against snapshots in ``tests/snapshots/``.

A deliberate interface change regenerates them: ``FUSION_UPDATE_SNAPSHOTS=1 pytest
tests/test_interface_snapshots.py`` (and the diff goes in the commit for review).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fusion.api.schema import build_schema
from fusion.cli import app
from fusion.config import Settings

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("FUSION_UPDATE_SNAPSHOTS") == "1"


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}; run with FUSION_UPDATE_SNAPSHOTS=1 once"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot"


def _commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of a typer app, groups included."""
    paths = [prefix]
    click_group = typer.main.get_command(group)
    for name, command in sorted(getattr(click_group, "commands", {}).items()):
        if getattr(command, "commands", None):
            paths += [(*prefix, name, *rest) for rest in _sub(command)]
        else:
            paths.append((*prefix, name))
    return paths


def _sub(group) -> list[tuple[str, ...]]:
    out = [()]
    for name, command in sorted(group.commands.items()):
        if getattr(command, "commands", None):
            out += [(name, *rest) for rest in _sub(command)]
        else:
            out.append((name,))
    return out


def test_served_schema_matches_snapshot(tmp_path: Path) -> None:
    schema = build_schema(Settings(home=tmp_path, neo4j_uri=None))
    _check("schema.graphql", schema.as_str() + "\n")


@pytest.mark.parametrize("command", _commands(app), ids=lambda c: " ".join(c) or "fusion")
def test_help_text_matches_snapshot(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "100",
                                                               "TERM": "dumb"},
                                terminal_width=100)
    assert result.exit_code == 0, result.output
    _check(f"help/{'_'.join(command) or 'fusion'}.txt", result.output)
