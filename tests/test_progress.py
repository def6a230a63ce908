"""The one progress bar (fusion.progress.Bar): a bar per phase, each closed where it ended."""

from __future__ import annotations

import io

from rich.console import Console

from fusion.progress import Bar


def _bar() -> tuple[Bar, io.StringIO]:
    out = io.StringIO()
    return Bar(Console(file=out, width=120, force_terminal=False)), out


def test_each_phase_closes_at_the_rows_it_reached() -> None:
    bar, _ = _bar()
    bar.advance(5)  # before any phase: nothing to count it against
    bar.phase("Reading calls.csv", None)
    bar.advance(3)
    bar.advance(4)
    bar.phase("Writing graph", 10)
    bar.advance(10)
    bar.phase("Nothing to do", None)
    bar.phase("Last", None)
    rows = [(t.description, t.completed, t.total, t.finished) for t in bar.progress.tasks]
    assert rows[:3] == [("Reading calls.csv", 7, 7, True), ("Writing graph", 10, 10, True),
                        ("Nothing to do", 0, 0, True)]
    assert rows[3] == ("Last", 0, None, False)


def test_bar_shows_rows_and_rate() -> None:
    bar, out = _bar()
    bar.phase("Reading calls.csv", None)
    bar.advance(12_345)
    bar.progress.console.print(bar.progress.get_renderable())
    text = out.getvalue()
    assert "Reading calls.csv" in text and "12,345 rows" in text and "rows/s" in text

