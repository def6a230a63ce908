"""The floor under GraphQL / Bolt: the same path statement served over HTTP with nothing of
GraphQL around it, with and without the request's audit record.

A bare Starlette app under uvicorn (httptools, uvloop: as ``fusion serve`` runs), in a
process of its own, with two routes taking ``{"from": {kind, key}, "to": …, "scope": […]}``:

* ``POST /statement`` runs :func:`fusion.services.paths.relationship_paths` (the service's
  statement, runner and mapping; ``maxHops`` 6, ``limit`` 1, node properties) and answers the
  paths as JSON (orjson): the client's HTTP, uvicorn, the statement, JSON. No token, purpose,
  scope resolution, GraphQL execution, audit or metrics.
* ``POST /audited`` does the same and, before answering, appends the request's record to an
  audit log of its own (:class:`fusion.auth.audit.AuditLog`, the service's writer: chained,
  written and fdatasync'ed in its thread, on the same file system as FUSION_HOME) — the
  least a request costs while every answer is audited before it leaves.

bench._pathcost sends both beside Bolt and GraphQL, so the report shows how much of the
GraphQL side's ratio is left once HTTP and the durable audit record are paid for.

Run as ``python -m bench._pathfloor PORT AUDIT_DIR`` with the service's FUSION_ environment.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from bench._service import serving

READY_TIMEOUT = 60.0
DOCUMENT = "floor: relationship_paths(maxHops 6, limit 1)"   # hashed into the records


def create_app(audit_dir: Path):
    """The floor's Starlette app (Neo4j and the audit log opened in its lifespan)."""
    import neo4j
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from fusion.auth.audit import AuditLog
    from fusion.config import load_settings
    from fusion.db import target
    from fusion.services.models import EntityRef
    from fusion.services.paths import relationship_paths
    from fusion.services.runtime import Runtime

    settings = load_settings()
    held: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        t = target(settings)
        driver = neo4j.AsyncGraphDatabase.driver(t.uri, auth=(t.user, t.password))
        await driver.verify_connectivity()
        held["runtime"] = Runtime(driver, settings.neo4j_database, settings.home)
        held["audit"] = AuditLog(audit_dir / "audit.log")
        try:
            yield
        finally:
            await held["audit"].aclose()
            await driver.close()

    async def answer(request: Request) -> Response:
        asked = orjson.loads(await request.body())
        ends = [EntityRef(asked[side]["kind"], asked[side]["key"]) for side in ("from", "to")]
        scope = frozenset(asked["scope"])
        paths = await relationship_paths(held["runtime"], *ends, max_hops=6, limit=1,
                                         scope=scope, properties=True)
        body = {"paths": [{"length": p.length,
                           "nodes": [{"kind": n.kind, "key": n.key, "props": n.props}
                                     for n in p.nodes],
                           "rels": [{"type": r.type, "properties": r.properties}
                                    for r in p.rels]} for p in paths]}
        if request.url.path == "/audited":
            await held["audit"].append(
                user="bench", role="analyst", operation_name="RelationshipPaths",
                document=DOCUMENT, variables={"from": asked["from"], "to": asked["to"]},
                purpose=request.headers.get("x-purpose"), scope=scope, outcome="allowed",
                result_count=len(paths))
        return Response(orjson.dumps(body, default=str), media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b"ok")

    return Starlette(routes=[Route("/statement", answer, methods=["POST"]),
                             Route("/audited", answer, methods=["POST"]),
                             Route("/readyz", ready)], lifespan=lifespan)


@contextlib.contextmanager
def served(env: dict[str, str], audit_dir: Path, log: Path) -> Iterator[str]:
    """The floor app on a free loopback port (its base URL) while the block runs."""
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "bench._pathfloor", str(port), str(audit_dir)]

    with serving(command, env, log, READY_TIMEOUT, "the path floor server") as (url, _pid):
        yield url


def main() -> None:
    import asyncio

    import uvicorn
    import uvloop

    port, audit_dir = int(sys.argv[1]), Path(sys.argv[2])
    config = uvicorn.Config(create_app(audit_dir), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on", proxy_headers=False,
                            server_header=False, access_log=False)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
