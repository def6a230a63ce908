"""`fusion generate`: write a synthetic multi-region scenario and its truth file."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fusion.scenario.generate import ScenarioError, expected_rows, generate_scenario
from fusion.scenario.regions import SOURCES


def _total_rows(regions: int, scale: float) -> int:
    return sum(expected_rows(source, scale) for source in SOURCES) * regions


def generate(
    out_dir: Path = typer.Argument(
        ..., help="Directory to write into (created; must be empty or absent unless --force).",
        file_okay=False),
    regions: int = typer.Option(
        3, "--regions", "-n", help="Number of regions (3-10); region dialects cycle through "
        "canonical CSV, GBK CSV with profiles, and Parquet/NDJSON."),
    scale: float = typer.Option(
        1.0, "--scale", "-s", help="Size: 1 = a few thousand people, ~100k sightings, ~10k "
        "calls; 100 = ~10M sightings, ~1M calls. Fractions (e.g. 0.05) give tiny fixtures."),
    seed: int = typer.Option(1, "--seed", "-k", help="Random seed; same seed, same bytes."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty directory."),
) -> None:
    """Generate files of all five sources, with planted gangs, co-travel and a fraud chain.

    Writes OUT_DIR/<region>/<source>.<ext> (plus mapping profiles for the GBK region) and
    OUT_DIR/truth.json with what is planted and the expected accounting of every load.
    """
    err = Console(stderr=True)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        err.print(f"[bold red]error[/]: {out_dir} is not empty (use --force to write anyway)",
                  soft_wrap=True)
        raise typer.Exit(2)
    show = err.is_terminal
    began = time.monotonic()
    columns = (TextColumn("Generating"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
               TimeElapsedColumn())
    with Progress(*columns, console=err, disable=not show, transient=True) as bar:
        task = bar.add_task("rows", total=_total_rows(regions, scale))
        try:
            truth = generate_scenario(out_dir, regions, scale, seed,
                                      progress=lambda n: bar.advance(task, n))
        except ScenarioError as exc:
            err.print(f"[bold red]error[/]: {exc}", soft_wrap=True)
            raise typer.Exit(2) from None
    rows = sum(entry["read"] for entry in truth["load_order"])
    print(f"Wrote {len(truth['load_order'])} files, {rows} rows, to {out_dir} "
          f"in {time.monotonic() - began:.1f} s (truth: {out_dir / 'truth.json'})",
          file=sys.stdout)
