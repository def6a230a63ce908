"""`fusion serve [--host H] [--port P]`: the GraphQL service under uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import typer

from fusion.config import Settings, load_settings
from fusion.errors import BadInput


def check_port_free(host: str, port: int) -> None:
    """BadInput when something already listens on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            raise BadInput(f"Cannot listen on {host}:{port}: {err.strerror}.") from None


def run_server(settings: Settings, host: str, port: int, log_level: str = "info",
               announce: Callable[[], None] | None = None) -> None:
    """Serve until interrupted; ``announce`` runs once the server accepts connections."""
    import uvicorn  # the server (0.5 s) and the API (1.5 s) load only when serving:

    from fusion.api.app import create_app  # `fusion --help` stays fast

    check_port_free(host, port)
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

    asyncio.run(main())


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    log_level: str = typer.Option("info", "--log-level",
                                  help="uvicorn log level (debug, info, warning, error)."),
) -> None:
    """Serve the GraphQL API: POST /graphql, the console at GET /graphql, /healthz, /readyz,
    /metrics."""
    settings = load_settings()

    def announce() -> None:
        typer.echo(f"Fusion GraphQL service on http://{host}:{port}/graphql "
                   f"(console: open it in a browser)", err=True)

    run_server(settings, host, port, log_level, announce)
