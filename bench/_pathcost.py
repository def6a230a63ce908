"""GraphQL over HTTP vs the same Cypher over Bolt for a 6-hop shortest path on the service's
data: what the service adds to one statement (HTTP, token, scope, validation, resolvers,
audit append, JSON).

Baseline: the statement :func:`fusion.services.paths.relationship_paths` runs
(``queries.paths.paths_statement``, ``SHORTEST 1``, scoped, with node properties) sent with
``driver.execute_query`` and the parameters the service passes. Service: the contract's
``RelationshipPaths`` (``maxHops: 6, limit: 1``) POSTed over one keep-alive connection.
Interleaved per pair (alternating which goes first); both must find the same path length.
"""

from __future__ import annotations

import statistics
import time
from importlib.resources import files

import httpx

ROUNDS = 3          # passes over the pairs; the first is a warm-up


def _bolt(driver, database: str, a, b, scope: list[str]) -> int:
    from queries.model import DEFAULT_PATH_TYPES
    from queries.paths import paths_statement

    statement = paths_statement(a.kind, b.kind, 6, 1, True, properties=True)
    records, _, _ = driver.execute_query(statement, from_key=a.key, to_key=b.key,
                                         types=list(DEFAULT_PATH_TYPES), scope=scope, limit=1,
                                         database_=database, routing_="r")
    return records[0]["length"] if records else 0


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


def measure(url: str, token: str, driver, database: str, pairs: list[tuple],
            regions: list[str]) -> dict[str, list[float]]:
    """Milliseconds per query of the measured passes, ``bolt`` and ``graphql``."""
    document = files("queries").joinpath("saved", "RelationshipPaths.graphql").read_text("utf-8")
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "BENCH path overhead"}
    timings: dict[str, list[float]] = {"bolt": [], "graphql": []}
    scope = sorted(regions)
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        ask = {"bolt": lambda a, b: _bolt(driver, database, a, b, scope),
               "graphql": lambda a, b: _graphql(http, document, a, b)}
        for rnd in range(ROUNDS):
            for k, (a, b) in enumerate(pairs):
                lengths = {}
                for name in ("bolt", "graphql")[:: 1 if k % 2 else -1]:
                    began = time.perf_counter()
                    lengths[name] = ask[name](a, b)
                    if rnd:
                        timings[name].append((time.perf_counter() - began) * 1000)
                if lengths["bolt"] != lengths["graphql"]:
                    raise RuntimeError(f"{a} -> {b}: Bolt found {lengths['bolt']} hops, "
                                       f"GraphQL {lengths['graphql']}")
    return timings


def section(timings: dict[str, list[float]], pairs: int) -> tuple[list[str], float]:
    """Markdown lines and the p50 ratio GraphQL / Bolt."""
    p50 = {name: statistics.median(t) for name, t in timings.items()}
    ratio = p50["graphql"] / p50["bolt"]
    return ([f"{pairs} pairs of the scenario (gang members, the fraud chain), "
             f"{ROUNDS - 1} measured passes after one warm-up, interleaved.", "",
             "| query | p50 ms |", "|---|---:|",
             f"| Cypher over Bolt (the service's statement) | {p50['bolt']:.1f} |",
             f"| GraphQL over HTTP (RelationshipPaths) | {p50['graphql']:.1f} |",
             f"| **GraphQL / Bolt** | {ratio:.2f}x |"], ratio)
