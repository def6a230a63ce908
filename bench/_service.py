"""Services the benchmarks (and the API tests) run: a free loopback port; an app under uvicorn
in a background thread of this process (:class:`ThreadedService`); a server in a process of its
own, ready once its /readyz answers (:func:`serving`: ``fusion serve``, the path floor); the
demo served that way (:func:`served_demo`)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

START_TIMEOUT = 300.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadedService:
    """``app`` (``create_app(settings)``) served on a free loopback port while the ``with``
    block runs."""

    def __init__(self, app, start_timeout: float = START_TIMEOUT) -> None:
        import uvicorn

        self.app = app
        self.start_timeout = start_timeout
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the GraphQL service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


@dataclass(frozen=True)
class ServedDemo:
    """A demo scenario served by ``fusion serve``: its address, an analyst token, its truth."""

    url: str
    token: str
    truth: dict


@contextlib.contextmanager
def served_demo(prefix: str, bolt: int, http: int, heap: str, pagecache: str, scale: float,
                ready_timeout: float) -> Iterator[ServedDemo]:
    """The demo at ``scale`` (seed 1) in a temporary FUSION_HOME on its own managed Neo4j,
    served by ``fusion serve`` in a subprocess; everything stopped afterwards."""
    from fusion.auth import issue_token, load_secret
    from fusion.commands.demo import prepare
    from fusion.config import Settings
    from fusion.managed import ManagedNeo4j

    with tempfile.TemporaryDirectory(prefix=prefix) as home:
        env = {"FUSION_HOME": home, "FUSION_DB_BOLT_PORT": str(bolt),
               "FUSION_DB_HTTP_PORT": str(http), "FUSION_DB_HEAP": heap,
               "FUSION_DB_PAGECACHE": pagecache}
        settings = Settings(home=Path(home), db_bolt_port=bolt, db_http_port=http,
                            db_heap=heap, db_pagecache=pagecache, neo4j_uri=None)
        server = ManagedNeo4j(settings)
        server.start()
        try:
            with contextlib.redirect_stdout(sys.stderr):
                demo = prepare(settings, scale, seed=1)
            truth = json.loads((demo.scenario / "truth.json").read_text("utf-8"))
            token = issue_token(load_secret(settings), "bench", "analyst", demo.regions,
                                timedelta(hours=2))
            with serving(serve_command, {**os.environ, **env}, None,
                         ready_timeout) as (url, _pid):
                yield ServedDemo(url, token, truth)
        finally:
            server.stop()


def server_env(settings, secret: str) -> dict[str, str]:
    """This process's environment for a server on ``settings``' home and managed Neo4j,
    signing with ``secret`` (never an external Neo4j this process may have been pointed at)."""
    env = {k: v for k, v in os.environ.items() if k != "FUSION_NEO4J_URI"}
    env.update(FUSION_HOME=str(settings.home), FUSION_DB_BOLT_PORT=str(settings.db_bolt_port),
               FUSION_DB_HTTP_PORT=str(settings.db_http_port), FUSION_SECRET=secret,
               FUSION_DB_HEAP=settings.db_heap, FUSION_DB_PAGECACHE=settings.db_pagecache)
    return env


def serve_command(port: int, workers: int = 1) -> list[str]:
    """The command line starting ``fusion serve`` on a loopback port."""
    fusion = Path(sys.executable).with_name("fusion")
    return [str(fusion), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
            str(workers), "--log-level", "warning"]


@contextlib.contextmanager
def serving(command: Callable[[int], list[str]], env: dict[str, str], log: Path | None,
            ready_timeout: float, name: str = "fusion serve") -> Iterator[tuple[str, int]]:
    """``command(port)`` run on a free loopback port with ``env`` (its output appended to
    ``log``; None: inherited): (its base URL, its pid) once ``/readyz`` answers 200, until the
    block ends; then terminated (killed if it has not stopped after STOP_TIMEOUT)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as files:
        sink = None if log is None else files.enter_context(log.open("a"))
        process = subprocess.Popen(command(port), env=env, stdout=sink,
                                   stderr=None if sink is None else subprocess.STDOUT)
    try:
        _wait_ready(url, process, ready_timeout, name, log)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen, timeout: float, name: str,
                log: Path | None) -> None:
    """Until ``url``'s /readyz answers 200 (RuntimeError, with the log's tail, if the process
    exits or the time runs out)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited {process.returncode}{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{name} was not ready in {timeout:.0f} s{_tail(log)}")


def _tail(log: Path | None) -> str:
    return "" if log is None else ":\n" + log.read_text(errors="replace")[-3000:]
