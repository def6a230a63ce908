"""Latency of single requests (p50/p95, one client) for `entity`, `relationshipPaths` and
`coTravel(subject)` on the demo data, sent as the shipped saved queries over HTTP.

``run(scale)`` builds what ``fusion demo`` builds (managed Neo4j in a temporary FUSION_HOME on
ports 37797/37584, the scenario at scale 0.2 x ``scale`` loaded, CO_TRAVELED materialized),
serves it with ``fusion serve`` in a subprocess, and measures. Against a running service::

    python -m bench.api_latency --url http://127.0.0.1:8000 --token T --truth .../truth.json

Arguments come from truth.json: planted people, phones and plates (Entity, raw key forms
included), pairs of gang members and the fraud chain (RelationshipPaths), co-travel subjects
and other plates (CoTravel). Every response must be an answer without errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np

from bench._service import free_port

BOLT, HTTP = 37797, 37584
# The single-client level of bench.api measures the same operations on the same data.
IN_FULL_RUN = False
ROUNDS, WARMUP = 200, 20
SAVED = Path(__file__).resolve().parents[1] / "queries" / "saved"
OPERATIONS = ("Entity", "RelationshipPaths", "CoTravel")


def _ref(kind: str, key: str) -> dict:
    return {"kind": kind, "key": key}


def arguments(truth: dict) -> dict[str, list[dict]]:
    """Variables for each measured operation."""
    gangs = truth["gangs"]
    people = [k for g in gangs for k in g["members"]]
    phones = [k for g in gangs for k in g["phones"]]
    plates = [k for g in gangs for k in g["plates"]]
    entity = ([{"ref": _ref("PERSON", k)} for k in people]
              + [{"ref": _ref("PHONE", k.removeprefix("+86"))} for k in phones]
              + [{"ref": _ref("VEHICLE", k)} for k in plates])
    chain = truth["fraud_chain"]
    paths = [{"from": _ref("PERSON", a), "to": _ref("PERSON", b)}
             for g in gangs for a, b in zip(g["members"], g["members"][1:], strict=False)]
    paths.append({"from": _ref("PERSON", chain["victim"]),
                  "to": _ref("PERSON", chain["gang_member"])})
    subjects = {(p["a"]["kind"], p["a"]["key"]) for p in truth["cotravel_pairs"]}
    subjects |= {("VEHICLE", k) for k in plates}
    cotravel = [{"subject": _ref(kind, key)} for kind, key in sorted(subjects)]
    return {"Entity": entity, "RelationshipPaths": paths, "CoTravel": cotravel}


def measure(base_url: str, token: str, truth: dict, rounds: int = ROUNDS,
            seed: int = 3) -> dict[str, np.ndarray]:
    """Seconds per request of each operation (after a warm-up), one client, in sequence."""
    rng = random.Random(seed)
    args = arguments(truth)
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "latency benchmark"}
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        for name in OPERATIONS:
            document = (SAVED / f"{name}.graphql").read_text("utf-8")
            timings[name] = []
            for i in range(WARMUP + rounds):
                body = {"query": document, "variables": rng.choice(args[name])}
                began = time.perf_counter()
                response = client.post("/graphql", json=body)
                took = time.perf_counter() - began
                answer = response.json()
                if response.status_code != 200 or answer.get("errors"):
                    raise RuntimeError(f"{name} failed: {response.text[:300]}")
                if i >= WARMUP:
                    timings[name].append(took)
    return {name: np.array(values) for name, values in timings.items()}


def section(timings: dict[str, np.ndarray], where: str) -> str:
    """The Markdown section of a measurement."""
    rows = ["| operation | requests | p50 ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for name, t in timings.items():
        ms = t * 1000
        rows.append(f"| {name} | {len(t)} | {np.percentile(ms, 50):.1f} | "
                    f"{np.percentile(ms, 95):.1f} | {ms.max():.1f} |")
    return ("## bench.api_latency: single-request latency\n\n"
            f"{where} One client, requests in sequence, {WARMUP} warm-up requests per "
            "operation not counted; the shipped saved queries sent as documents over "
            "loopback HTTP (authentication, audit append and all).\n\n" + "\n".join(rows))


def _wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("fusion serve exited")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError("fusion serve did not become ready")


def run(scale: float = 1.0) -> str:
    """Build the demo in a temporary FUSION_HOME, serve it, and measure."""
    from fusion.auth import issue_token, load_secret
    from fusion.commands.demo import prepare
    from fusion.config import Settings
    from fusion.managed import ManagedNeo4j

    with tempfile.TemporaryDirectory(prefix="fusion-bench-latency-") as home:
        env = {"FUSION_HOME": home, "FUSION_DB_BOLT_PORT": str(BOLT),
               "FUSION_DB_HTTP_PORT": str(HTTP), "FUSION_DB_HEAP": "2g",
               "FUSION_DB_PAGECACHE": "1g"}
        settings = Settings(home=Path(home), db_bolt_port=BOLT, db_http_port=HTTP,
                            db_heap="2g", db_pagecache="1g", neo4j_uri=None)
        server = ManagedNeo4j(settings)
        server.start()
        try:
            with contextlib.redirect_stdout(sys.stderr):
                demo = prepare(settings, 0.2 * scale, seed=1)
            truth = json.loads((demo.scenario / "truth.json").read_text("utf-8"))
            token = issue_token(load_secret(settings), "bench", "analyst", demo.regions,
                                timedelta(hours=2))
            port = free_port()
            service = subprocess.Popen(
                [sys.executable, "-m", "fusion.cli", "serve", "--port", str(port),
                 "--log-level", "warning"], env={**os.environ, **env})
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_ready(url, service)
                timings = measure(url, token, truth)
            finally:
                service.terminate()
                service.wait(timeout=30)
        finally:
            server.stop()
    return section(timings, f"Demo data (scale {0.2 * scale:g}, seed 1, "
                   f"{len(truth['regions'])} regions).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text("utf-8"))
    print(section(measure(args.url, args.token, truth, args.rounds),
                  f"Service at {args.url}, data of {args.truth}."))


if __name__ == "__main__":
    main()
