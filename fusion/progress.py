"""What long work reports while it runs: the Progress protocol every loader, analysis and
command shares, and :class:`NoProgress` for callers that show nothing (``--json``, no
terminal, the service). The one rich bar the commands show is
:class:`fusion.commands.progress.ProgressBar`."""

from __future__ import annotations

from typing import Protocol


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
