"""bench._service.serving, how the benchmarks run `fusion serve` and the path floor: the
process is handed over only once /readyz answers 200, is stopped when the block ends, and a
process that dies first is reported with its log."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from bench._service import serving

# A server whose /readyz answers 503 for its first two requests, then 200; anything else 404.
SERVER = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    asked = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/readyz":
                self.send_response(404)
            else:
                asked[0] += 1
                self.send_response(200 if asked[0] > 2 else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    print("serving", flush=True)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A terminated child that was reaped is gone; one not yet reaped would be a zombie.
    return not Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_the_process_is_served_once_ready_and_stopped_after(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with serving(lambda port: [sys.executable, "-c", SERVER, str(port)], dict(os.environ),
                 log, ready_timeout=30) as (url, pid):
        assert url.startswith("http://127.0.0.1:")
        # Handed over only after /readyz said 200 (the third time it was asked).
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        assert _alive(pid)
    assert not _alive(pid)
    assert "serving" in log.read_text()


def test_a_process_that_exits_before_it_is_ready_is_reported_with_its_log(tmp_path: Path
                                                                           ) -> None:
    log = tmp_path / "server.log"
    command = [sys.executable, "-c", "import sys; print('no Neo4j here'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match=r"(?s)the floor exited 3.*no Neo4j here"):
        with serving(lambda port: command, dict(os.environ), log, ready_timeout=30,
                     name="the floor"):
            pytest.fail("a process that exited was handed over")


def test_a_process_never_ready_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    never = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(RuntimeError, match="was not ready in 2 s"):
        with serving(lambda port: never, dict(os.environ), tmp_path / "log", ready_timeout=2):
            pytest.fail("a process that never answered was handed over")
