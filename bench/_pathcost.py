"""GraphQL over HTTP vs the same Cypher over Bolt for a 6-hop shortest path on the service's
data: what the service adds to one statement.

Bolt (the baseline): the statement :func:`fusion.services.paths.relationship_paths` runs
(``queries.paths.paths_statement``, ``SHORTEST 1``, scoped, with node properties) with the
parameters the service passes, sent the way the service sends it — through the service's own
runner (:func:`fusion.services.cypher.read`: one auto-commit read transaction on the async
driver with the query timeout, every record pulled into a list) on a uvloop event loop, as
``fusion serve`` runs. Only the statement, the driver and the round trip to Neo4j.

GraphQL: the contract's ``RelationshipPaths`` (``maxHops: 6, limit: 1``) POSTed over one
keep-alive connection (httpx) and its JSON read back: the client's HTTP, uvicorn, the token,
the purpose, the document cache, scope resolution, the same statement, the mapping to GraphQL
types, JSON encoding, the request's audit record written and fdatasync'ed before the answer
leaves, and its metrics.

Interleaved per pair (alternating which goes first); both must find the same path length.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from importlib.resources import files

import httpx

ROUNDS = 3          # passes over the pairs; the first is a warm-up
BOLT_SIDE = ("Cypher over Bolt: the service's runner (one auto-commit read, async driver, "
             "uvloop, records pulled)")
GRAPHQL_SIDE = ("GraphQL over HTTP: RelationshipPaths POSTed (HTTP both ends, token, scope, "
                "execution, JSON, audit record fdatasync'ed, metrics)")


def _loop_factory():
    """uvloop's event loop, as `fusion serve` runs (asyncio's when uvloop is missing)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class _Bolt:
    """The service's runner on its own async driver and event loop."""

    def __init__(self, uri: str, auth: tuple[str, str], database: str, home) -> None:
        import neo4j

        from fusion.services.runtime import Runtime

        self._runner = asyncio.Runner(loop_factory=_loop_factory())
        driver = self._runner.run(self._open(neo4j, uri, auth))
        self.runtime = Runtime(driver, database, home)

    @staticmethod
    async def _open(neo4j, uri: str, auth: tuple[str, str]):
        driver = neo4j.AsyncGraphDatabase.driver(uri, auth=auth)
        await driver.verify_connectivity()
        return driver

    def length(self, a, b, scope: list[str]) -> int:
        """The length of the shortest path the statement finds (0: none)."""
        return self._runner.run(self._length(a, b, scope))

    async def _length(self, a, b, scope: list[str]) -> int:
        from fusion.services.cypher import read
        from queries.model import DEFAULT_PATH_TYPES
        from queries.paths import paths_statement

        statement = paths_statement(a.kind, b.kind, 6, 1, True, properties=True)
        records = await read(self.runtime, statement, from_key=a.key, to_key=b.key,
                             types=list(DEFAULT_PATH_TYPES), scope=scope, limit=1)
        return records[0]["length"] if records else 0

    def close(self) -> None:
        self._runner.run(self.runtime.driver.close())
        self._runner.close()


def _graphql(http: httpx.Client, document: str, a, b) -> int:
    variables = {"from": {"kind": a.kind, "key": a.key}, "to": {"kind": b.kind, "key": b.key},
                 "maxHops": 6, "limit": 1}
    response = http.post("/graphql", json={"query": document, "variables": variables,
                                           "operationName": "RelationshipPaths"})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"RelationshipPaths failed: {response.text[:300]}")
    paths = body["data"]["relationshipPaths"]
    return paths[0]["length"] if paths else 0


def measure(url: str, token: str, settings, pairs: list[tuple],
            regions: list[str]) -> dict[str, list[float]]:
    """Milliseconds per query of the measured passes, ``bolt`` and ``graphql``."""
    from fusion.db import target

    document = files("queries").joinpath("saved", "RelationshipPaths.graphql").read_text("utf-8")
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "BENCH path overhead"}
    timings: dict[str, list[float]] = {"bolt": [], "graphql": []}
    scope = sorted(regions)
    t = target(settings)
    bolt = _Bolt(t.uri, (t.user, t.password), settings.neo4j_database, settings.home)
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            ask = {"bolt": lambda a, b: bolt.length(a, b, scope),
                   "graphql": lambda a, b: _graphql(http, document, a, b)}
            for rnd in range(ROUNDS):
                for k, (a, b) in enumerate(pairs):
                    _interleaved(ask, timings if rnd else None, a, b, k % 2 == 1)
    finally:
        bolt.close()
    return timings


def _interleaved(ask: dict, timings: dict[str, list[float]] | None, a, b, bolt_first: bool
                 ) -> None:
    """Both sides for one pair (recorded when ``timings`` is given); the same length."""
    lengths = {}
    for name in ("bolt", "graphql")[:: 1 if bolt_first else -1]:
        began = time.perf_counter()
        lengths[name] = ask[name](a, b)
        if timings is not None:
            timings[name].append((time.perf_counter() - began) * 1000)
    if lengths["bolt"] != lengths["graphql"]:
        raise RuntimeError(f"{a} -> {b}: Bolt found {lengths['bolt']} hops, "
                           f"GraphQL {lengths['graphql']}")


def section(timings: dict[str, list[float]], pairs: int) -> tuple[list[str], float]:
    """Markdown lines and the p50 ratio GraphQL / Bolt."""
    p50 = {name: statistics.median(t) for name, t in timings.items()}
    ratio = p50["graphql"] / p50["bolt"]
    return ([f"{pairs} pairs of the scenario (gang members, the fraud chain), "
             f"{ROUNDS - 1} measured passes after one warm-up, interleaved, one at a time.", "",
             "| query | p50 ms |", "|---|---:|",
             f"| {BOLT_SIDE} | {p50['bolt']:.1f} |",
             f"| {GRAPHQL_SIDE} | {p50['graphql']:.1f} |",
             f"| **GraphQL / Bolt** | {ratio:.2f}x |"], ratio)
