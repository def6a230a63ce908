"""`fusion load KIND FILE... --region R [--profile P.yaml] [--json]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from fusion.commands.progress import ProgressBar
from fusion.config import load_settings
from fusion.db import connect, ensure_schema
from loaders.ingest import LoadSummary, load_files
from loaders.sources import SOURCES


def _spoken(names: list[str]) -> str:
    """``a, b or c``: how the help lists choices."""
    return " or ".join(x for x in (", ".join(names[:-1]), names[-1]) if x)


_KINDS = _spoken(list(SOURCES))  # every source kind the loaders declare


def load(
    kind: str = typer.Argument(..., help=f"Source: {_KINDS}."),
    files: list[Path] = typer.Argument(..., help="CSV, Parquet or NDJSON files (.gz allowed)."),
    region: str = typer.Option(..., "--region", help="Region that supplied the records "
                               "(a per-row `region` column wins)."),
    profile: Path | None = typer.Option(None, "--profile", help="Mapping profile (YAML)."),
    json_output: bool = typer.Option(False, "--json", help="Print the accounting as JSON."),
) -> None:
    """Load source files into the graph and the event store; print the accounting."""
    settings = load_settings()
    err = Console(stderr=True)
    show_bar = not json_output and sys.stderr.isatty()
    with connect(settings) as driver:
        ensure_schema(driver, settings.neo4j_database)
        if show_bar:
            bar = ProgressBar(err, unit=" rows", rate=True)
            with bar.progress:
                summary = load_files(driver, settings.neo4j_database, settings.home, kind, files,
                                     region, profile, progress=bar)
        else:
            summary = load_files(driver, settings.neo4j_database, settings.home, kind, files,
                                 region, profile)
    if json_output:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        print_summary(Console(), summary)


def print_summary(console: Console, summary: LoadSummary) -> None:
    """The accounting as a table, one row per file and a total."""
    table = Table(title=f"{summary.kind} for {summary.region}")
    for col in ("file", "status", "read", "loaded", "quarantined", "duplicates"):
        table.add_column(col, justify="right" if col not in ("file", "status") else "left")
    for x in summary.loads:
        a = x.accounting
        table.add_row(x.file.name, x.status, f"{a.read:,}", f"{a.loaded:,}",
                      f"{a.quarantined:,}", f"{a.duplicates:,}")
    t = summary.total
    if len(summary.loads) > 1:
        table.add_row("total", "", f"{t.read:,}", f"{t.loaded:,}", f"{t.quarantined:,}",
                      f"{t.duplicates:,}")
    console.print(table)
    for x in summary.loads:
        if x.quarantine_file:
            reasons = ", ".join(f"{k} {v}" for k, v in
                                sorted(x.accounting.quarantined_by_reason.items()))
            console.print(f"quarantine: {x.quarantine_file} ({reasons})", highlight=False)
