"""A load that stops at a known point, for the kill-and-resume tests (test_loaders_resume.py).

Run as ``python -m tests.crash_load AFTER_BATCHES HOME BOLT HTTP WORK KIND REGION FILE...``:
it loads the files through the product's own ``load_files`` with an ``after_batch`` hook that,
once the graph writer has committed AFTER_BATCHES batches, prints :data:`CRASH_MARKER` on
stderr and blocks the writer, so the test can ``kill -9`` the process at that point.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from fusion.config import Settings
from fusion.db import connect
from loaders.ingest import load_files

CRASH_MARKER = "FUSION_TEST_CRASH_POINT"


def stop_after(batches: int) -> Callable[[int], None]:
    """An ``after_batch`` hook that announces the crash point and then never returns."""

    def hook(done: int) -> None:
        if done >= batches:
            print(CRASH_MARKER, file=sys.stderr, flush=True)
            threading.Event().wait()  # until killed

    return hook


def main(argv: list[str]) -> None:
    """Parse the arguments and run the load with the hook installed."""
    after, home, bolt, http, work, kind, region, *files = argv
    settings = Settings(home=Path(home), db_bolt_port=int(bolt), db_http_port=int(http),
                        neo4j_uri=None)
    with connect(settings) as driver:
        load_files(driver, settings.neo4j_database, Path(work), kind, [Path(f) for f in files],
                   region, after_batch=stop_after(int(after)))


if __name__ == "__main__":
    main(sys.argv[1:])
