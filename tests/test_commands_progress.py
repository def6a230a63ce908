"""The commands' one progress bar: each phase shown with its count, the load's with rows/s."""

from __future__ import annotations

import io

from rich.console import Console

from fusion.commands.progress import ProgressBar


def _run(bar: ProgressBar, phases: list[tuple[str, int]]) -> None:
    with bar.progress:
        for description, rows in phases:
            bar.phase(description, total=None)
            bar.advance(rows)


def _bar(buffer: io.StringIO, **options) -> ProgressBar:
    return ProgressBar(Console(file=buffer, force_terminal=True, width=120), **options)


def test_each_phase_is_shown_and_closed_at_its_count() -> None:
    buffer = io.StringIO()
    bar = _bar(buffer)
    _run(bar, [("Reading", 1234), ("Writing", 7)])
    text = buffer.getvalue()
    assert "Reading" in text and "Writing" in text and "1,234" in text
    first, second = bar.progress.tasks
    assert (first.total, first.completed) == (1234, 1234)
    assert second.completed == 7
    assert "rows/s" not in text


def test_the_load_bar_counts_rows_and_their_rate() -> None:
    buffer = io.StringIO()
    _run(_bar(buffer, unit=" rows", rate=True), [("Staging calls.csv", 5000)])
    text = buffer.getvalue()
    assert "5,000 rows" in text and "rows/s" in text


def test_advance_before_any_phase_counts_nothing() -> None:
    bar = _bar(io.StringIO())
    bar.advance(10)
    assert bar.progress.tasks == []
