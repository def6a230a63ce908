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
import json
import random
import time
from pathlib import Path

import httpx
import numpy as np

from bench._service import served_demo

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


def run(scale: float = 1.0) -> str:
    """Build the demo in a temporary FUSION_HOME, serve it, and measure."""
    with served_demo("fusion-bench-latency-", BOLT, HTTP, "2g", "1g", 0.2 * scale,
                     ready_timeout=300) as demo:
        timings = measure(demo.url, demo.token, demo.truth)
    return section(timings, f"Demo data (scale {0.2 * scale:g}, seed 1, "
                   f"{len(demo.truth['regions'])} regions).")


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
