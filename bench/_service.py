"""The GraphQL service run from the benchmark's (or test's) own process: a free loopback port
and an app under uvicorn in a background thread. The API tests use it too."""

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
