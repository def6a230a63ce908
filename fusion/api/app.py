"""The HTTP service (Starlette): /graphql, the console's assets, /export (streamed lists),
/healthz, /readyz, /metrics.

One async Neo4j driver per process, created in the lifespan together with the audit log, the
signing secret and the metrics registry (:mod:`fusion.api.resources`). At start-up the graph's
schema is ensured and the shipped saved queries are installed; the alert hub
(:mod:`fusion.api.alerthub`) evaluates new loads for the watches while the app runs.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from fusion.api.alerthub import AlertHub
from fusion.api.console import console_routes
from fusion.api.export import export_routes
from fusion.api.metrics import METRICS_DIR_VARIABLE, Metrics
from fusion.api.resources import Resources, neo4j_ready, open_services
from fusion.api.saved import builtin_rows
from fusion.api.schema import build_schema
from fusion.api.view import FusionGraphQL
from fusion.api.workbench import workbench_routes
from fusion.config import Settings, load_settings
from fusion.db import ensure_schema
from fusion.services.saved import install_builtin_queries
from fusion.services.webhooks import policy_of

logger = logging.getLogger("fusion.api")
GRAPHQL_PATH = "/graphql"


def create_app(settings: Settings, worker: str | None = None,
               metrics_dir: Path | None = None) -> Starlette:
    """The ASGI application serving Fusion's GraphQL API with ``settings``; ``worker`` names
    this process in its audit records when several serve one port, and ``metrics_dir`` is
    the directory their metrics share (:mod:`fusion.api.metrics`)."""
    schema = build_schema(settings)
    builtins = builtin_rows(schema._schema, settings.api_max_tokens)  # invalid: fail now
    metrics = Metrics(shared_dir=metrics_dir)
    view = FusionGraphQL(services_of, schema, GRAPHQL_PATH)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(settings, metrics, worker=worker) as services:
            app.state.services = services
            app.state.builtins = builtins
            app.state.prepared = await _prepare(services, builtins)
            hub = AlertHub(services.runtime, policy_of(settings), settings.alerts_poll_s)
            app.state.alert_hub = hub
            if settings.alerts_enabled or worker is not None:
                # One of several workers follows what the others store, for its subscribers.
                hub.start(evaluate=settings.alerts_enabled, follow=worker is not None)
            try:
                yield
            finally:
                await hub.aclose()

    routes = [
        Route(GRAPHQL_PATH, view, methods=["GET", "POST"]),
        WebSocketRoute(GRAPHQL_PATH, view),  # the alertRaised subscription
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *console_routes(),
        *export_routes(),
        *workbench_routes(GRAPHQL_PATH, settings.workbench_timezone,
                          settings.workbench_tile_url),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.metrics = metrics
    return app


def worker_app() -> Starlette:
    """The app of one worker process of `fusion serve --workers N` (uvicorn's factory): the
    settings from the environment, the worker named by its process id, its metrics in the
    directory the supervisor shares among the workers."""
    shared = os.environ.get(METRICS_DIR_VARIABLE)
    return create_app(load_settings(), worker=str(os.getpid()),
                      metrics_dir=Path(shared) if shared else None)


def services_of(request: Request) -> Resources:
    """The services of the app serving ``request``."""
    return request.app.state.services


async def _prepare(services: Resources, builtins: list[dict]) -> bool:
    """Ensure constraints and indexes, install the shipped saved queries; False if Neo4j is down."""
    try:
        await asyncio.to_thread(ensure_schema, services.sync_driver, services.database)
        count = await install_builtin_queries(services.runtime, builtins)
    except Exception:  # Neo4j not up yet: /readyz retries
        logger.warning("Neo4j not ready at start-up; /readyz will retry", exc_info=True)
        return False
    logger.info("%d shipped saved queries installed", count)
    return True


async def healthz(request: Request) -> Response:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Neo4j answers, start-up preparation has completed, and the audit log can be written."""
    state = request.app.state
    problem = await state.services.audit.problem()
    if problem is not None:
        return JSONResponse({"status": "unavailable", "audit": False, "reason": problem},
                            status_code=503)
    if not await neo4j_ready(state.services):
        return JSONResponse({"status": "unavailable", "neo4j": False}, status_code=503)
    if not state.prepared:
        state.prepared = await _prepare(state.services, state.builtins)
    if not state.prepared:
        return JSONResponse({"status": "unavailable", "neo4j": True}, status_code=503)
    return JSONResponse({"status": "ready", "neo4j": True})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition of the app's metrics: for the bearer of FUSION_METRICS_TOKEN when
    it is set, else for loopback clients only."""
    expected = request.app.state.services.settings.metrics_token
    if expected is not None:
        scheme, _, sent = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                sent.strip().encode(), expected.get_secret_value().encode()):
            return JSONResponse({"error": "GET /metrics needs Authorization: Bearer "
                                 "<FUSION_METRICS_TOKEN>."}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
    elif not _loopback(request.client.host if request.client else None):
        return JSONResponse({"error": "GET /metrics answers loopback clients only while "
                             "FUSION_METRICS_TOKEN is unset."}, status_code=403)
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


def _loopback(host: str | None) -> bool:
    """True for a loopback peer address (127.0.0.0/8, ::1, ::ffff:127.x)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
