"""`fusion serve [--host H] [--port P] [--workers N]`: the GraphQL service under uvicorn.

One process by default, on uvloop with httptools when installed (``uvicorn[standard]``).
With ``--workers N`` uvicorn binds the socket once and starts N worker processes that accept
from it; each builds its own app (driver, caches) and appends to the one audit log, whose
records then name the worker (its process id) and stay one hash chain in the order they were
written (:mod:`fusion.auth.audit`). Their metrics go to one directory under FUSION_HOME/run,
so /metrics answers for all of them (:mod:`fusion.api.metrics`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import typer

from fusion.config import Settings, load_settings
from fusion.errors import BadInput

MAX_WORKERS = 64
WORKER_APP = "fusion.api.app:worker_app"


def check_port_free(host: str, port: int) -> None:
    """BadInput when something already listens on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            raise BadInput(f"Cannot listen on {host}:{port}: {err.strerror}.") from None


def check_workers(workers: int) -> None:
    """BadInput unless 1 <= ``workers`` <= MAX_WORKERS."""
    if not 1 <= workers <= MAX_WORKERS:
        raise BadInput(f"--workers must be between 1 and {MAX_WORKERS}; {workers} was given.")


def run_server(settings: Settings, host: str, port: int, log_level: str = "info",
               announce: Callable[[], None] | None = None, workers: int = 1) -> None:
    """Serve until interrupted; ``announce`` runs once the server accepts connections."""
    check_workers(workers)
    check_port_free(host, port)
    if workers > 1:
        _run_workers(settings, host, port, log_level, announce, workers)
        return
    import uvicorn  # the server (0.5 s) and the API (1.5 s) load only when serving:

    from fusion.api.app import create_app  # `fusion --help` stays fast

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port,
                                           log_level=log_level, lifespan="on",
                                           proxy_headers=False, server_header=False))

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started and announce is not None:
            announce()
        await serving

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (uvicorn[standard]), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _run_workers(settings: Settings, host: str, port: int, log_level: str,
                 announce: Callable[[], None] | None, workers: int) -> None:
    """uvicorn's supervisor: one listening socket, ``workers`` processes serving from it.

    Each worker reads the settings from the environment this process was started with, and
    counts its metrics into one directory of this run that /metrics sums over (removed at
    the end)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from fusion.api.metrics import METRICS_DIR_VARIABLE

    config = uvicorn.Config(WORKER_APP, factory=True, host=host, port=port, workers=workers,
                            log_level=log_level, lifespan="on", proxy_headers=False,
                            server_header=False)
    sock = config.bind_socket()
    shared = metrics_dir(settings.home)
    os.environ[METRICS_DIR_VARIABLE] = str(shared)   # before any worker imports prometheus
    try:
        if announce is not None:
            announce()  # connections queue on the bound socket until a worker accepts them
        Multiprocess(config, sockets=[sock]).run()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def metrics_dir(home: Path) -> Path:
    """A new, empty directory for the metrics of this run's workers (FUSION_HOME/run)."""
    shared = home / "run" / f"metrics-{os.getpid()}"
    shutil.rmtree(shared, ignore_errors=True)   # a previous run with the same pid
    shared.mkdir(parents=True, mode=0o700)
    return shared


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    workers: int = typer.Option(
        1, "--workers", help="Worker processes sharing the port (each with its own Neo4j "
        "connections; all append to the one audit log)."),
    log_level: str = typer.Option("info", "--log-level",
                                  help="uvicorn log level (debug, info, warning, error)."),
) -> None:
    """Serve the GraphQL API: POST /graphql, the console at GET /graphql, /healthz, /readyz,
    /metrics."""
    settings = load_settings()
    check_workers(workers)

    def announce() -> None:
        more = f" with {workers} worker processes" if workers > 1 else ""
        typer.echo(f"Fusion GraphQL service on http://{host}:{port}/graphql{more} "
                   f"(console: open it in a browser)", err=True)

    run_server(settings, host, port, log_level, announce, workers)
