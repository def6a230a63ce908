"""bench._lean, the load generator's HTTP client, against a real uvicorn server: it reads what
httpx reads (status, body, JSON), keeps its connection, and never passes off a broken answer
as one."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bench._lean import LeanConnection, LeanError
from bench._service import ThreadedService

PEERS: list[tuple[str, int]] = []


async def echo(request: Request) -> Response:
    PEERS.append((request.client.host, request.client.port))
    body = await request.json()
    return JSONResponse({"got": body, "purpose": request.headers.get("x-purpose")},
                        status_code=int(request.query_params.get("status", "200")))


async def closing(request: Request) -> Response:
    return JSONResponse({"bye": True}, headers={"Connection": "close"})


async def chunked(request: Request) -> Response:
    return StreamingResponse(iter([b'{"a":', b"1}"]), media_type="application/json")


@pytest.fixture(scope="module")
def url():
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]),
                            Route("/closing", closing, methods=["POST"]),
                            Route("/chunked", chunked, methods=["POST"])])
    with ThreadedService(app, start_timeout=30) as service:
        yield service.url


def _both(url: str, path: str, payload: object) -> tuple:
    """(lean answer, httpx answer) of the same POST."""
    async def lean():
        connection = LeanConnection(url, {"X-Purpose": "case 17/2026"}, 10)
        try:
            return await connection.post(path, payload)
        finally:
            await connection.aclose()
    answer = asyncio.run(lean())
    reference = httpx.post(url + path, json=payload, headers={"X-Purpose": "case 17/2026"})
    return answer, reference


def test_lean_reads_what_httpx_reads(url):
    payload = {"query": "{ x }", "variables": {"name": "王五", "n": [1, 2.5, None]}}
    answer, reference = _both(url, "/echo", payload)
    assert answer.status_code == reference.status_code == 200
    assert answer.json() == reference.json() == {"got": payload, "purpose": "case 17/2026"}
    assert answer.text == reference.text


def test_lean_reports_the_status_of_a_refusal(url):
    answer, reference = _both(url, "/echo?status=503", {"a": 1})
    assert answer.status_code == reference.status_code == 503
    assert json.loads(answer.content) == reference.json()


def test_lean_keeps_one_connection_for_many_requests(url):
    async def three():
        connection = LeanConnection(url, {}, 10)
        try:
            return [await connection.post("/echo", {"i": i}) for i in range(3)]
        finally:
            await connection.aclose()
    PEERS.clear()
    answers = asyncio.run(three())
    assert [a.json()["got"] for a in answers] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert len(PEERS) == 3 and len(set(PEERS)) == 1


def test_lean_reopens_after_the_server_closes(url):
    async def twice():
        connection = LeanConnection(url, {}, 10)
        try:
            return [await connection.post("/closing", {}), await connection.post("/echo", {})]
        finally:
            await connection.aclose()
    first, second = asyncio.run(twice())
    assert first.json() == {"bye": True} and second.json()["got"] == {}


def test_lean_refuses_an_answer_without_content_length(url):
    async def one():
        connection = LeanConnection(url, {}, 10)
        try:
            await connection.post("/chunked", {})
        finally:
            await connection.aclose()
    with pytest.raises(LeanError, match="without Content-Length"):
        asyncio.run(one())


def test_lean_reports_a_refused_connection():
    from bench._service import free_port

    async def one():
        await LeanConnection(f"http://127.0.0.1:{free_port()}", {}, 5).post("/x", {})
    with pytest.raises(LeanError):
        asyncio.run(one())


def test_lean_accepts_only_http_urls_and_ascii_headers():
    with pytest.raises(LeanError, match="only http"):
        LeanConnection("https://example.org", {}, 5)
    with pytest.raises(LeanError, match="ASCII"):
        LeanConnection("http://127.0.0.1:1", {"X-Purpose": "案件"}, 5)
