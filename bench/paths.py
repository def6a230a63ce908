"""Relationship paths: 6-hop shortest paths on a graph of over a million nodes, scoped and not.

Synthesizes a three-region graph in the contract's model (people, their phones, vehicles and
addresses, calls between phones, cases with several people involved; a tenth of the calls
cross regions and widen the callee's ``regions``), writes it into its own managed Neo4j
(temporary FUSION_HOME, ports 17752/17452) with batched, columnar ``UNWIND ... CREATE``, and
picks pairs exactly 6 hops apart both in the whole graph and inside the scope (igraph BFS), so both
queries do the same work. Each pair is then queried through
:func:`fusion.services.paths.relationship_paths`, unscoped and scoped, interleaved, after a
warm-up; latency is measured at the client (driver round trip included). On the same pairs,
scoped, the issue's GraphQL / Bolt comparison (#17; bench._pathcost): the statement the service
runs sent through the service's own runner over Bolt (the baseline), the contract's
``RelationshipPaths`` operation POSTed to ``fusion serve`` in its own process (an analyst token
of the scope region), and the floor under them (bench._pathfloor: the statement over bare
HTTP, without and with the request's audit record), interleaved: p50/p95 of each and the
ratios, the service's own overhead. Person and phone keys are
canonical ID and phone numbers, so the API's key normalization keeps them as stored. Usage::

    python -m bench --only paths [--scale 1]
"""

from __future__ import annotations

import functools
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import igraph as ig
import numpy as np

from bench import _pathcost as pathcost
from bench import _pathfloor as pathfloor
from bench._service import serve_command, server_env, serving

BOLT, HTTP = 17752, 17452
REGIONS = ("R1", "R2", "R3")
BATCH = 20_000
# Nodes per kind at scale 1 (1.05M in all) and relationships per person or phone.
SHARE = {"PERSON": 300_000, "PHONE": 400_000, "VEHICLE": 150_000, "CASE": 50_000,
         "ADDRESS": 150_000}
LABEL = {"PERSON": "Person", "PHONE": "Phone", "VEHICLE": "Vehicle", "CASE": "Case",
         "ADDRESS": "Address"}
CALLS_PER_PHONE = 1.5
CROSS_REGION_CALLS = 0.1
SECRET = "bench-paths-secret-" + "s" * 32
READY_TIMEOUT = 300.0


# ---------------------------------------------------------------------------------------------
# Synthetic graph


class Graph:
    """Nodes (kind, region) with integer ids, and typed edges with their regions."""

    def __init__(self, scale: float, seed: int = 5):
        self.rng = np.random.default_rng(seed)
        counts = {k: max(30, int(n * scale)) for k, n in SHARE.items()}
        self.kind = np.concatenate([np.full(n, i) for i, n in enumerate(counts.values())])
        self.kinds = list(counts)
        self.offset = dict(zip(self.kinds, np.r_[0, np.cumsum(list(counts.values()))[:-1]],
                               strict=True))
        self.count = counts
        self.home = self.rng.integers(0, len(REGIONS), len(self.kind))
        self.edges: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
        self._people_and_things()
        self._calls_and_cases()
        self.extra = self._widened()

    def ids(self, kind: str, local: np.ndarray) -> np.ndarray:
        return self.offset[kind] + local

    def _attach(self, rel: str, a_kind: str, b_kind: str, per_b: bool = True) -> None:
        """Each node of ``b_kind`` (or ``a_kind``) tied to a random node of the other kind in
        its home region."""
        src_kind, dst_kind = (b_kind, a_kind) if per_b else (a_kind, b_kind)
        src = self.ids(src_kind, np.arange(self.count[src_kind]))
        dst = self._same_region(dst_kind, self.home[src])
        a, b = (dst, src) if per_b else (src, dst)
        self.edges.append((rel, a, b, self.home[src]))

    def _same_region(self, kind: str, regions: np.ndarray) -> np.ndarray:
        """A random node of ``kind`` in each given region."""
        ids = self.ids(kind, np.arange(self.count[kind]))
        out = np.empty(len(regions), dtype=np.int64)
        for r in range(len(REGIONS)):
            pool, want = ids[self.home[ids] == r], regions == r
            out[want] = self.rng.choice(pool, int(want.sum()))
        return out

    def _people_and_things(self) -> None:
        self._attach("USES", "PERSON", "PHONE")
        self._attach("OWNS", "PERSON", "VEHICLE")
        self._attach("LIVES_AT", "PERSON", "ADDRESS", per_b=False)

    def _calls_and_cases(self) -> None:
        phones = self.ids("PHONE", np.arange(self.count["PHONE"]))
        caller = self.rng.choice(phones, int(len(phones) * CALLS_PER_PHONE))
        cross = self.rng.random(len(caller)) < CROSS_REGION_CALLS
        target_region = np.where(cross, (self.home[caller] + self.rng.integers(1, 3,
                                                                                 len(caller)))
                                 % len(REGIONS), self.home[caller])
        callee = self._same_region("PHONE", target_region)
        keep = caller != callee
        self.edges.append(("CALLED", caller[keep], callee[keep], self.home[caller][keep]))
        cases = self.ids("CASE", np.arange(self.count["CASE"]))
        for _ in range(3):  # three people involved in each case, from its region
            people = self._same_region("PERSON", self.home[cases])
            self.edges.append(("INVOLVED_IN", people, cases, self.home[cases]))

    def _widened(self) -> dict[int, set[int]]:
        """Regions beyond its home that a node gets from the records touching it."""
        extra: dict[int, set[int]] = {}
        for _rel, a, b, region in self.edges:
            for ends in (a, b):
                for node, r in zip(*_differing(ends, region, self.home), strict=True):
                    extra.setdefault(int(node), set()).add(int(r))
        return extra

    def node_regions(self, node: int) -> list[str]:
        return sorted(REGIONS[r] for r in {int(self.home[node]), *self.extra.get(node, ())})

    def key(self, node: int) -> str:
        """The node's canonical key (what the API's key normalization returns for it)."""
        kind = self.kinds[self.kind[node]]
        local = int(node - self.offset[kind])
        if kind == "PERSON":
            return _id_number(local)
        if kind == "PHONE":
            return f"+86138{local:08d}"
        return f"{kind[:2]}{local:08d}"

    def ref(self, node: int) -> dict[str, str]:
        """The node as a GraphQL ``EntityRef``."""
        return {"kind": self.kinds[self.kind[node]], "key": self.key(node)}

    def visible(self, region: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Node mask and per-edge-set masks of what a scope of one region sees."""
        nodes = self.home == region
        for node, regions in self.extra.items():
            nodes[node] |= region in regions
        return nodes, [r == region for _rel, _a, _b, r in self.edges]


@functools.cache
def _id_number(local: int) -> str:
    """A valid 18-digit resident ID number (GB 11643 check digit) for person ``local``."""
    from loaders.normalize import id_check_digit

    body = f"11010519{local:09d}"
    return body + id_check_digit(body)


def _differing(ends: np.ndarray, region: np.ndarray, home: np.ndarray):
    mask = home[ends] != region
    return ends[mask], region[mask]


# ---------------------------------------------------------------------------------------------
# Loading and picking pairs


def load(driver, g: Graph) -> int:
    """Create every node and relationship in batches; the number of nodes.

    Parameters are columnar (one list per property, ``UNWIND range(...)``): a list of maps per
    row costs several times more to pack and unpack.
    """
    for k, kind in enumerate(g.kinds):
        nodes = np.flatnonzero(g.kind == k).tolist()
        statement = (f"UNWIND range(0, size($k) - 1) AS i "
                     f"CREATE (:{LABEL[kind]} {{key: $k[i], regions: $r[i]}})")
        _batched(driver, statement, {"k": [g.key(n) for n in nodes],
                                     "r": [g.node_regions(n) for n in nodes]})
    for rel, a, b, region in g.edges:
        a_kind, b_kind = g.kinds[g.kind[a[0]]], g.kinds[g.kind[b[0]]]
        statement = (f"UNWIND range(0, size($a) - 1) AS i "
                     f"MATCH (a:{LABEL[a_kind]} {{key: $a[i]}}) "
                     f"MATCH (b:{LABEL[b_kind]} {{key: $b[i]}}) "
                     f"CREATE (a)-[:{rel} {{regions: [$r[i]]}}]->(b)")
        _batched(driver, statement, {"a": [g.key(x) for x in a.tolist()],
                                     "b": [g.key(y) for y in b.tolist()],
                                     "r": [REGIONS[r] for r in region.tolist()]})
    return len(g.kind)


def _batched(driver, statement: str, columns: dict[str, list]) -> None:
    n = len(next(iter(columns.values())))
    for start in range(0, n, BATCH):
        driver.execute_query(statement, {c: v[start:start + BATCH] for c, v in columns.items()},
                             database_="neo4j")


def pick_pairs(g: Graph, region: int, n_pairs: int, hops: int = 6) -> list[tuple[int, int]]:
    """Pairs ``hops`` apart both in the whole graph and inside ``region``'s visible part."""
    edges = np.concatenate([np.column_stack([a, b]) for _r, a, b, _g in g.edges])
    whole = ig.Graph(n=len(g.kind), edges=edges)
    nodes, masks = g.visible(region)
    seen = np.concatenate(masks) & nodes[edges[:, 0]] & nodes[edges[:, 1]]
    scoped = ig.Graph(n=len(g.kind), edges=edges[seen])
    sources = g.rng.permutation(np.flatnonzero(nodes))
    pairs: list[tuple[int, int]] = []
    for s in sources.tolist():
        candidates = np.asarray(scoped.neighborhood(s, order=hops, mindist=hops))
        if len(candidates) == 0:
            continue
        picked = g.rng.choice(candidates, min(5, len(candidates)), replace=False)
        overall = np.asarray(whole.distances(source=[s], target=picked.tolist())[0])
        pairs += [(s, int(t)) for t, d in zip(picked.tolist(), overall, strict=True)
                  if d == hops]
        if len(pairs) >= n_pairs:
            return pairs[:n_pairs]
    return pairs


# ---------------------------------------------------------------------------------------------
# Measuring


def time_queries(call, g: Graph, pairs: list[tuple[int, int]], scope: frozenset[str],
                 passes: int = 2) -> list[dict[str, list[float]]]:
    """Milliseconds per query, unscoped and scoped, alternating which goes first, per pass
    over all pairs (the first pass plans and JIT-compiles the statements); ``call`` runs a
    service call (:func:`fusion.services.blocking.blocking_calls`)."""
    from fusion.services.paths import EntityRef, relationship_paths

    def ref(node: int) -> EntityRef:
        return EntityRef(g.kinds[g.kind[node]], g.key(node))

    out = []
    for _ in range(passes):
        timings: dict[str, list[float]] = {"unscoped": [], "scoped": []}
        for k, (s, t) in enumerate(pairs):
            order = [("unscoped", None), ("scoped", scope)][:: 1 if k % 2 else -1]
            for name, sc in order:
                start = time.perf_counter()
                found = call(relationship_paths, ref(s), ref(t), max_hops=6, limit=1,
                             scope=sc)
                timings[name].append((time.perf_counter() - start) * 1000)
                if not found or found[0].length != 6:
                    raise RuntimeError(f"{ref(s)} -> {ref(t)} is not 6 hops apart ({name})")
        out.append(timings)
    return out


def db_hits(driver, g: Graph, pairs: list[tuple[int, int]], scope: frozenset[str]) -> dict:
    """Median database hits of the profiled statement, unscoped and scoped."""
    from queries.model import DEFAULT_PATH_TYPES
    from queries.paths import paths_statement

    out = {}
    for name, sc in (("unscoped", None), ("scoped", scope)):
        hits = []
        for s, t in pairs:
            statement = "PROFILE " + paths_statement(g.kinds[g.kind[s]], g.kinds[g.kind[t]], 6, 1,
                                                     sc is not None)
            summary = driver.execute_query(statement, from_key=g.key(s), to_key=g.key(t),
                                           types=list(DEFAULT_PATH_TYPES),
                                           scope=sorted(sc or ()), limit=1,
                                           database_="neo4j").summary
            hits.append(_total_hits(summary.profile))
        out[name] = int(statistics.median(hits))
    return out


# ---------------------------------------------------------------------------------------------
# The same paths through the service (GraphQL over HTTP) and as plain Cypher over Bolt


def measure_service(settings, g: Graph, pairs: list[tuple[int, int]], scope: frozenset[str]
                    ) -> tuple[list[str], float]:
    """GraphQL over HTTP vs Cypher over Bolt on ``pairs`` (bench._pathcost, with the floor
    of bench._pathfloor), ``fusion serve`` running on this benchmark's Neo4j; the report's
    lines and the p50 ratio."""
    from fusion.auth import issue_token
    from fusion.services.models import EntityRef

    refs = [(EntityRef(**g.ref(s)), EntityRef(**g.ref(t))) for s, t in pairs]
    token = issue_token(SECRET.encode(), "bench-analyst", "analyst", sorted(scope),
                        timedelta(hours=4))
    env = server_env(settings, SECRET)
    scratch = settings.home / "bench-paths"
    scratch.mkdir(exist_ok=True)
    with (serving(serve_command, env, scratch / "serve.log", READY_TIMEOUT) as (url, _pid),
          pathfloor.served(env, scratch / "floor-audit", scratch / "floor.log") as floor):
        timings = pathcost.measure(url, token, settings, refs, sorted(scope), floor, length=6)
    return pathcost.section(timings, f"The same {len(pairs)} pairs, exactly 6 hops apart, "
                                     f"scoped to {{{REGIONS[0]}}} (an analyst token of "
                                     f"{REGIONS[0]})")


def _total_hits(plan: dict) -> int:
    return int(plan.get("dbHits", 0)) + sum(_total_hits(c) for c in plan.get("children", []))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(scale: float = 1.0, n_pairs: int = 150) -> str:
    """Build the graph in its own Neo4j, time the queries, return a Markdown section."""
    from fusion.config import Settings
    from fusion.managed import ManagedNeo4j

    g = Graph(scale)
    with tempfile.TemporaryDirectory(prefix="fusion-bench-paths-") as tmp:
        settings = Settings(home=Path(tmp) / "home", db_bolt_port=BOLT, db_http_port=HTTP,
                            db_heap="2g", db_pagecache="2g", neo4j_uri=None, secret=SECRET)
        server = ManagedNeo4j(settings)
        try:
            server.start()
            results = _measure(settings, g, n_pairs)
        finally:
            server.stop()
    return _report(g, *results)


def _measure(settings, g: Graph, n_pairs: int) -> tuple:
    """Load the graph, pick the pairs and time every variant on them."""
    from fusion.db import connect, ensure_schema
    from fusion.services.blocking import blocking_calls

    scope = frozenset({REGIONS[0]})
    with connect(settings) as driver, blocking_calls(settings) as call:
        ensure_schema(driver, "neo4j")
        started = time.perf_counter()
        n_nodes = load(driver, g)
        load_s = time.perf_counter() - started
        print(f"# paths: {n_nodes:,} nodes loaded in {load_s:.0f} s", file=sys.stderr,
              flush=True)
        pairs = pick_pairs(g, 0, n_pairs)
        cold, warm = time_queries(call, g, pairs, scope)
        hits = db_hits(driver, g, pairs[:20], scope)
        service = measure_service(settings, g, pairs, scope)
    return n_nodes, load_s, len(pairs), cold, warm, hits, service


def _p(timings: dict, name: str) -> tuple[float, float]:
    return statistics.median(timings[name]), _percentile(timings[name], 0.95)


def _report(g: Graph, n_nodes: int, load_s: float, n_pairs: int, cold: dict, warm: dict,
            hits: dict, service: dict) -> str:
    n_rels = sum(len(a) for _r, a, _b, _g in g.edges)
    ratio50, ratio95 = (_p(warm, "scoped")[i] / _p(warm, "unscoped")[i] for i in (0, 1))
    rows = [(f"unscoped{label}", _p(t, "unscoped"), hits["unscoped"] if not label else "")
            for label, t in (("", warm), (", first pass", cold))]
    rows += [(f"scoped{label}", _p(t, "scoped"), hits["scoped"] if not label else "")
             for label, t in (("", warm), (", first pass", cold))]
    lines = [
        "## Relationship paths: 6-hop shortest paths", "",
        f"{n_nodes:,} nodes and {n_rels:,} relationships in three regions (built in "
        f"{load_s:.0f} s); {n_pairs} pairs exactly 6 hops apart in the whole graph and inside "
        f"scope {{{REGIONS[0]}}}; `relationship_paths(max_hops=6, limit=1)` timed at the "
        "client (driver round trip included), unscoped and scoped interleaved. Two passes over "
        "all pairs: the first plans and JIT-compiles each statement variant (one per pair of "
        "entity kinds, scoped or not); the second is the steady state of a running service. "
        "Managed Neo4j 5.26 (2 GB heap, 2 GB page cache) on a 2-core machine shared with other "
        "work.", "",
        "| query | p50 ms | p95 ms | median db hits |", "|---|---:|---:|---:|",
        *(f"| {name} | {a:.1f} | {b:.1f} | {h:,} |" if h != "" else
          f"| {name} | {a:.1f} | {b:.1f} | |" for name, (a, b), h in rows),
        f"| **scoped / unscoped** (target <= 1.2) | {ratio50:.2f}x | {ratio95:.2f}x | |",
        "", f"Targets: p95 <= 50 ms (scoped p95 {_p(warm, 'scoped')[1]:.1f} ms, unscoped "
        f"{_p(warm, 'unscoped')[1]:.1f} ms).",
    ]
    return "\n".join(lines + _service_lines(service))


def _service_lines(service: tuple[list[str], float]) -> list[str]:
    """The GraphQL-over-HTTP vs Cypher-over-Bolt part of the section."""
    lines, ratio = service
    return ["", "### Through the service: GraphQL over HTTP vs the same Cypher over Bolt", "",
            "The Bolt side sends the statement the service runs "
            "(`queries.paths.paths_statement`, `SHORTEST 1`, scoped, with node properties, the "
            "parameters `relationship_paths` passes) through the service's own runner; the "
            "GraphQL side POSTs the contract's `RelationshipPaths` (`maxHops: 6, limit: 1`) to "
            "`fusion serve` in a process of its own; the floor sides serve the same statement "
            "over bare HTTP (bench._pathfloor). Each answer must be a 6-hop path.", "",
            *lines, "", f"Target: GraphQL / Bolt <= 1.5x at p50: {ratio:.2f}x — "
            f"{'met' if ratio <= 1.5 else '**not met**'}."]
