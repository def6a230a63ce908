"""What long work reports while it runs: the Progress protocol every loader, analysis and
command shares, :class:`NoProgress` for callers that show nothing (``--json``, no terminal,
the service), and :class:`Bar`, the one rich progress bar the commands show on a terminal."""

from __future__ import annotations

from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text


class Progress(Protocol):
    """What long work reports while it runs (a progress bar, or nothing)."""

    def phase(self, description: str, total: int | None) -> None: ...
    def advance(self, rows: int) -> None: ...


class NoProgress:
    """Progress that shows nothing."""

    def phase(self, description: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


class _RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


class Bar:
    """Progress as rich bars, one per phase (rows, rows/s, elapsed); use ``with bar.progress``.

    A new phase closes the one before at the rows it reached, so it reads as done.
    """

    def __init__(self, console: Console):
        self.progress = RichProgress(SpinnerColumn(), TextColumn("{task.description}"),
                                     BarColumn(), TextColumn("{task.completed:,} rows"),
                                     _RateColumn(), TimeElapsedColumn(), console=console)
        self.task = None

    def phase(self, description: str, total: int | None) -> None:
        if self.task is not None:
            done = self.progress.tasks[-1].completed
            self.progress.update(self.task, total=done, completed=done)
        self.task = self.progress.add_task(description, total=total)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)
