"""A lean HTTP/1.1 client for the load generator: one keep-alive connection per simulated
client, requests written as bytes, answers read by Content-Length.

The load generator shares the machine's 2 cores with the service and Neo4j, so every core-ms
it spends is taken from what it measures. httpx's AsyncClient costs about 0.3 ms of CPU per
request (URL and header models, the connection pool, its state machines); this client
writes one preformatted request and parses one status line and a few headers, so the
figures say more about the service and less about the client. It speaks only what the bench
needs: POST with a JSON body to a loopback ``http://host:port`` service that answers with
Content-Length (Starlette's JSON and plain responses do). Anything else is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from urllib.parse import urlsplit


class LeanError(Exception):
    """The connection failed or the answer was not what this client reads."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: its status and body."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> object:
        """The body parsed as JSON."""
        return json.loads(self.content)


class LeanConnection:
    """One keep-alive connection to ``base_url`` sending the same headers on every POST."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise LeanError(f"only http://host:port URLs are supported, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        lines = [f"Host: {parts.netloc}", "Content-Type: application/json",
                 *(f"{k}: {v}" for k, v in headers.items())]
        try:
            self._head = "\r\n".join(lines).encode("ascii")
        except UnicodeEncodeError:
            raise LeanError("header names and values must be ASCII") from None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: object) -> Answer:
        """POST ``payload`` as JSON to ``path``; the answer (LeanError if there is none)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        request = (f"POST {path} HTTP/1.1\r\n".encode() + self._head
                   + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        try:
            return await asyncio.wait_for(self._exchange(request), self.timeout)
        except LeanError:
            await self.aclose()
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ValueError) as exc:
            await self.aclose()
            raise LeanError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, request: bytes) -> Answer:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, length, close = _head_of(head)
        content = await self._reader.readexactly(length)
        if close:
            await self.aclose()
        return Answer(status, content)

    async def aclose(self) -> None:
        """Close the connection (the next POST opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _head_of(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server closes, from a response head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "content-length" not in fields:
        raise LeanError(f"HTTP {status} without Content-Length "
                        f"(transfer-encoding {fields.get('transfer-encoding')!r})")
    return status, int(fields["content-length"]), fields.get("connection", "").lower() == "close"
