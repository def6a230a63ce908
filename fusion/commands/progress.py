"""Progress of slow commands on stderr: a live status line on a terminal, one line per phase
elsewhere (CI logs, pipes), so a long first start never looks like a hang; and the one progress
bar of the commands whose work reports fusion.progress.Progress (loading, co-travel)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.status import Status
from rich.text import Text


def phase_reporter(console: Console, status: Status) -> Callable[[str], None]:
    """A callback showing progress lines in ``status`` on a terminal; elsewhere it prints each
    new phase once (lines read "phase: detail", the details folded into their phase)."""
    shown: set[str] = set()

    def report(line: str) -> None:
        if console.is_terminal:
            status.update(line)
            return
        phase = line.split(": ", 1)[0]
        if phase not in shown:
            shown.add(phase)
            console.print(phase, highlight=False)

    return report


class _RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


class ProgressBar:
    """fusion.progress.Progress as rich bars on a console, one per phase; ``unit`` follows the
    count, and ``rate`` adds rows per second."""

    def __init__(self, console: Console, unit: str = "", rate: bool = False):
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.completed:,}" + unit)]
        columns += [_RateColumn()] if rate else []
        self.progress = Progress(*columns, TimeElapsedColumn(), console=console)
        self.task = None

    def phase(self, description: str, total: int | None) -> None:
        """Close the running phase at what it counted and start the next."""
        if self.task is not None:
            done = self.progress.tasks[-1].completed
            self.progress.update(self.task, total=done or 1, completed=done or 1)
        self.task = self.progress.add_task(description, total=total)

    def advance(self, rows: int) -> None:
        """Count ``rows`` more in the running phase."""
        if self.task is not None:
            self.progress.advance(self.task, rows)
