"""The GraphQL service for benchmarks that time it from their own process: a free loopback port
and ``create_app`` under uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time

START_TIMEOUT = 300.0


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadedService:
    """``create_app(settings)`` served on a free loopback port while the ``with`` block runs."""

    def __init__(self, settings) -> None:
        import uvicorn

        from fusion.api.app import create_app

        self.app = create_app(settings)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the GraphQL service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
