"""Progress of slow commands on stderr: a live status line on a terminal, one line per phase
elsewhere (CI logs, pipes), so a long first start never looks like a hang."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.status import Status


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
