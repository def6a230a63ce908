"""GraphQL over HTTP vs the same Cypher over Bolt for a 6-hop shortest path on the service's
data: what the service adds to one statement.

Bolt (the baseline): the statement :func:`fusion.services.paths.relationship_paths` runs
(``queries.paths.paths_statement``, ``SHORTEST 1``, scoped, with node properties) with the
parameters the service passes, sent the way the service sends it — through the service's own
runner (:func:`fusion.services.cypher.read`: one auto-commit read transaction on the async
driver with the query timeout, every record pulled into a list) on a uvloop event loop, as
``fusion serve`` runs. Only the statement, the driver and the round trip to Neo4j.

GraphQL: the contract's ``RelationshipPaths`` (``maxHops: 6, limit: 1``) POSTed over one
keep-alive connection and its JSON read back: the client's HTTP, uvicorn, the token,
the purpose, the document cache, scope resolution, the same statement, the mapping to GraphQL
types, JSON encoding, the request's audit record written and fdatasync'ed before the answer
leaves, and its metrics.

Two clients send the GraphQL side: the load generator's lean keep-alive client
(:mod:`bench._lean`, on the same uvloop loop as the Bolt side; the ratio the target names) and
httpx (reported beside it: what a heavier client adds at its own end).

With ``floor_url`` (:mod:`bench._pathfloor`), two more sides give the floor under the ratio:
the same statement over HTTP with no GraphQL, token, scope or metrics around it, bare and with
the request's audit record written and fdatasync'ed before the answer (the lean client).

Interleaved per pair (rotating which goes first); all must find the same path length.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from importlib.resources import files

import httpx
import numpy as np

from bench._lean import LeanConnection

ROUNDS = 3          # passes over the pairs; the first is a warm-up
BOLT_SIDE = ("Cypher over Bolt: the service's runner (one auto-commit read, async driver, "
             "uvloop, records pulled)")
GRAPHQL_SIDE = ("GraphQL over HTTP: RelationshipPaths POSTed by the lean client (HTTP both ends, "
                "token, scope, execution, JSON, audit record fdatasync'ed, metrics)")
HTTPX_SIDE = "the same, POSTed by httpx"
FLOOR_SIDE = ("floor: the same statement over HTTP, no GraphQL (HTTP both ends, the service's "
              "statement and mapping, JSON)")
AUDITED_SIDE = "floor + the request's audit record written and fdatasync'ed before the answer"


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

    def run(self, coroutine):
        """Run ``coroutine`` on this side's event loop (the lean client shares it)."""
        return self._runner.run(coroutine)

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


def _payload(document: str, a, b) -> dict:
    variables = {"from": {"kind": a.kind, "key": a.key}, "to": {"kind": b.kind, "key": b.key},
                 "maxHops": 6, "limit": 1}
    return {"query": document, "variables": variables, "operationName": "RelationshipPaths"}


def _graphql(http: httpx.Client, document: str, a, b) -> int:
    return _length_of(http.post("/graphql", json=_payload(document, a, b)))


def _lean(bolt: _Bolt, connection: LeanConnection, document: str, a, b) -> int:
    return _length_of(bolt.run(connection.post("/graphql", _payload(document, a, b))))


def _floor(bolt: _Bolt, connection: LeanConnection, path: str, scope: list[str], a, b) -> int:
    asked = {"from": {"kind": a.kind, "key": a.key}, "to": {"kind": b.kind, "key": b.key},
             "scope": scope}
    response = bolt.run(connection.post(path, asked))
    if response.status_code != 200:
        raise RuntimeError(f"the path floor failed: {response.text[:300]}")
    paths = response.json()["paths"]
    return paths[0]["length"] if paths else 0


def _length_of(response) -> int:
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"RelationshipPaths failed: {response.text[:300]}")
    paths = body["data"]["relationshipPaths"]
    return paths[0]["length"] if paths else 0


def measure(url: str, token: str, settings, pairs: list[tuple], regions: list[str],
            floor_url: str | None = None, length: int | None = None) -> dict[str, list[float]]:
    """Milliseconds per query of the measured passes: ``bolt``, ``graphql`` (lean client),
    ``httpx`` and, with ``floor_url``, ``floor`` and ``audited``. With ``length``, every
    side must find a path of exactly that many hops."""
    from fusion.db import target

    document = files("queries").joinpath("saved", "RelationshipPaths.graphql").read_text("utf-8")
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "BENCH path overhead"}
    timings: dict[str, list[float]] = {"bolt": [], "graphql": [], "httpx": []}
    scope = sorted(regions)
    t = target(settings)
    bolt = _Bolt(t.uri, (t.user, t.password), settings.neo4j_database, settings.home)
    lean = LeanConnection(url, headers, timeout=120)
    floor = None if floor_url is None else LeanConnection(floor_url, headers, timeout=120)
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            ask = {"bolt": lambda a, b: bolt.length(a, b, scope),
                   "graphql": lambda a, b: _lean(bolt, lean, document, a, b),
                   "httpx": lambda a, b: _graphql(http, document, a, b)}
            if floor is not None:
                timings.update(floor=[], audited=[])
                ask.update(
                    floor=lambda a, b: _floor(bolt, floor, "/statement", scope, a, b),
                    audited=lambda a, b: _floor(bolt, floor, "/audited", scope, a, b))
            for rnd in range(ROUNDS):
                for k, (a, b) in enumerate(pairs):
                    _interleaved(ask, timings if rnd else None, a, b, k % len(ask), length)
    finally:
        bolt.run(lean.aclose())
        if floor is not None:
            bolt.run(floor.aclose())
        bolt.close()
    return timings


def _interleaved(ask: dict, timings: dict[str, list[float]] | None, a, b, first: int,
                 length: int | None = None) -> None:
    """Every side for one pair, starting with side number ``first`` (recorded when
    ``timings`` is given); all must find the same length (``length``, when given)."""
    names = list(ask)
    lengths = {}
    for name in names[first:] + names[:first]:
        began = time.perf_counter()
        lengths[name] = ask[name](a, b)
        if timings is not None:
            timings[name].append((time.perf_counter() - began) * 1000)
    if len(set(lengths.values())) != 1 or length not in (None, *lengths.values()):
        raise RuntimeError(f"{a} -> {b}: path lengths {lengths}, expected "
                           f"{'one length' if length is None else length}")


def section(timings: dict[str, list[float]], pairs: str) -> tuple[list[str], float]:
    """Markdown lines (``pairs`` says which pairs were asked) and the p50 ratio GraphQL /
    Bolt."""
    p50 = {name: statistics.median(t) for name, t in timings.items()}
    p95 = {name: float(np.percentile(t, 95)) for name, t in timings.items()}
    ratio = p50["graphql"] / p50["bolt"]
    lines = [f"{pairs}; {ROUNDS - 1} measured passes after one warm-up, every side interleaved "
             "pair by pair, one request at a time.", "",
             "| query | p50 ms | / Bolt | p95 ms |", "|---|---:|---:|---:|"]
    sides = [("bolt", BOLT_SIDE), ("floor", FLOOR_SIDE), ("audited", AUDITED_SIDE),
             ("graphql", GRAPHQL_SIDE), ("httpx", HTTPX_SIDE)]
    lines += [f"| {label} | {p50[name]:.2f} | {p50[name] / p50['bolt']:.2f}x | "
              f"{p95[name]:.2f} |" for name, label in sides if name in p50]
    lines.append(f"| **GraphQL / Bolt** (lean client) | | **{ratio:.2f}x** | |")
    return lines, ratio
