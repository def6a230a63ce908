"""Gangs benchmark: projection + Leiden on 100k people / 1M links, against networkx's Louvain.

Synthesizes a person-link frame with planted groups (most links inside a group, with more
evidence) and noise links between random people, then times:

- projection (links frame -> integer weighted graph) and Leiden at the defaults (constant
  Potts model, resolution 1), our fast path;
- the whole :func:`algorithms.gangs.gangs_from_links` (adds key-player ranking per gang);
- networkx's pure-Python ``louvain_communities`` on the same weighted graph, in its own process
  with a time cap (reported as a lower bound when it does not finish);

and reports NMI against the planted groups, and on networkx's LFR benchmark graph. Usage::

    python -m bench --only gangs [--scale 1]          # Markdown section
    python -m bench.gangs [--people 100000] [--links 1000000] [--nx-timeout 600]   # JSON
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from typing import Any

import networkx as nx
import numpy as np
import polars as pl

from algorithms.community import communities, normalized_mutual_information
from algorithms.gangs import LINK_KINDS, detect_gangs, gangs_from_links
from algorithms.links import PersonGraph, project

KIND_SHARE = (0.15, 0.55, 0.15, 0.15)  # case, call, parcel, cotravel


def synthesize_links(n_people: int = 100_000, n_links: int = 1_000_000, inside: float = 0.8,
                     seed: int = 11) -> tuple[pl.DataFrame, np.ndarray]:
    """Links frame (a, b, kind, count) and each person's planted group.

    Groups have 5-60 members; a share ``inside`` of the links joins two members of one group
    (counts geometric with mean 4), the rest join random people (mean 1.5).
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 61, n_people // 5)
    group = np.repeat(np.arange(len(sizes)), sizes)[:n_people]
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(group.max() + 1))
    n_in = int(n_links * inside)
    a_in = rng.integers(0, n_people, n_in)
    g = group[a_in]
    size = np.bincount(group)[g]
    b_in = order[starts[g] + rng.integers(0, size)]
    a_out, b_out = rng.integers(0, n_people, (2, n_links - n_in))
    count = np.concatenate([rng.geometric(1 / 4, n_in), rng.geometric(1 / 1.5, n_links - n_in)])
    kind = rng.choice(len(LINK_KINDS), n_links, p=KIND_SHARE)
    key = np.char.add("P", np.char.zfill(np.arange(n_people).astype(str), 7))
    frame = pl.DataFrame({
        "a": key[np.concatenate([a_in, a_out])], "b": key[np.concatenate([b_in, b_out])],
        "kind": np.array(LINK_KINDS)[kind], "count": count,
    })
    return frame, group


def time_fast_path(links: pl.DataFrame, repeats: int) -> dict[str, Any]:
    """Projection + Leiden, and the full gang detection with ranking, median seconds."""
    projection, leiden, full = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        table = project(links)
        projected = time.perf_counter()
        groups = communities(len(table.keys), table.edges, table.weight, "leiden", 1.0, 42)
        projection.append(projected - start)
        leiden.append(time.perf_counter() - projected)
        start = time.perf_counter()
        gangs = gangs_from_links(links)
        full.append(time.perf_counter() - start)
    return {
        "projection_s": _median(projection), "leiden_s": _median(leiden),
        "projection_plus_leiden_s": _median([p + q for p, q in zip(projection, leiden,
                                                                   strict=True)]),
        "gangs_from_links_with_ranking_s": _median(full),
        "people_linked": len(table.keys), "weighted_pairs": len(table.weight),
        "communities": len(groups), "gangs_min_size_3": len(gangs),
        "largest_gang": max(g.size for g in gangs),
    }, groups, table


def _nx_louvain(edges: list, conn: Any) -> None:
    """networkx Louvain on the given weighted edges; sends seconds (graph build excluded)."""
    G = nx.Graph()
    G.add_weighted_edges_from(edges)
    start = time.perf_counter()
    nx.community.louvain_communities(G, weight="weight", seed=42)
    conn.send(time.perf_counter() - start)


def time_networkx_louvain(table: PersonGraph, timeout_s: float) -> dict[str, Any]:
    """networkx's Louvain in its own process, stopped after ``timeout_s``."""
    edges = [(int(i), int(j), float(w)) for (i, j), w in zip(table.edges, table.weight,
                                                             strict=True)]
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_nx_louvain, args=(edges, send))
    process.start()
    send.close()
    finished = receive.poll(timeout_s)
    seconds = receive.recv() if finished else None
    if not finished:
        process.terminate()
    process.join()
    if seconds is None:
        return {"networkx_louvain_s": None, "networkx_louvain_lower_bound_s": timeout_s}
    return {"networkx_louvain_s": round(seconds, 3)}


# (name, algorithm, objective, resolution): the LFR graph's edges all weigh 1, so the constant
# Potts model's resolution is an edge density there (see tests/test_algorithms_gangs.py).
LFR_RUNS = (("leiden_cpm_0.05", "leiden", None, 0.05),
            ("leiden_modularity", "leiden", "modularity", 1.0),
            ("louvain", "louvain", None, 1.0))


def lfr_nmi() -> dict[str, float]:
    """NMI on networkx's LFR graph (n=1000, mu=0.3) against its planted communities."""
    G = nx.LFR_benchmark_graph(1000, 3, 1.5, 0.3, average_degree=15, min_community=20,
                               max_community=100, seed=2)
    G = nx.relabel_nodes(G, {v: f"P{v:04d}" for v in G})
    planted = [min(G.nodes[v]["community"]) for v in G]
    out = {}
    for name, algorithm, objective, resolution in LFR_RUNS:
        found = detect_gangs(G, algorithm=algorithm, min_size=1, objective=objective,
                             resolution=resolution)
        labels = {m.key: g.id for g in found for m in g.members}
        out[f"lfr_nmi_{name}"] = round(
            normalized_mutual_information(planted, [labels[v] for v in G]), 4)
    return out


def run(scale: float = 1.0) -> str:
    """The benchmark at ``scale`` times 100k people and 1M links, as a Markdown section."""
    report = measure(int(100_000 * scale), int(1_000_000 * scale))
    rows = [
        ("people / links", f"{report['people']:,} / {report['links']:,}"),
        ("weighted pairs", f"{report['weighted_pairs']:,}"),
        ("projection s", report["projection_s"]),
        ("Leiden s (CPM, resolution 1, build included)", report["leiden_s"]),
        ("**projection + Leiden s** (target <= 10)", report["projection_plus_leiden_s"]),
        ("gangs_from_links with key-player ranking s", report["gangs_from_links_with_ranking_s"]),
        ("networkx louvain_communities s", report.get("networkx_louvain_s")
         or f">= {report['networkx_louvain_lower_bound_s']}"),
        ("**speed-up vs networkx Louvain** (target >= 10)",
         f"{report['speedup_vs_networkx_louvain']}x"
         + (" (lower bound)" if report["speedup_is_lower_bound"] else "")),
        ("NMI vs planted groups (Leiden)", report["planted_nmi_leiden"]),
        *((f"LFR mu=0.3 NMI, {name}", report[f"lfr_nmi_{name}"]) for name, *_ in LFR_RUNS),
    ]
    lines = ["## Gangs: projection + Leiden", "",
             "Synthetic person links with planted groups of 5-60; medians of 3 runs; networkx "
             "timed once in its own process on the same weighted graph. 2-core machine shared "
             "with other work: compare the ratio, measured in one run.", "",
             "| measure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def measure(n_people: int = 100_000, n_links: int = 1_000_000, repeats: int = 3,
            nx_timeout_s: float = 600, seed: int = 11) -> dict[str, Any]:
    """Synthesize, time our fast path and networkx's Louvain, report NMI."""
    links, planted = synthesize_links(n_people, n_links, seed=seed)
    fast, groups, table = time_fast_path(links, repeats)
    found = np.empty(len(table.keys), dtype=np.int64)
    for k, members in enumerate(groups):
        found[members] = k
    person = np.array([int(key[1:]) for key in table.keys])
    report: dict[str, Any] = {"people": n_people, "links": n_links, **fast}
    report["planted_nmi_leiden"] = round(
        normalized_mutual_information(planted[person].tolist(), found.tolist()), 4)
    report.update(lfr_nmi())
    report.update(time_networkx_louvain(table, nx_timeout_s))
    nx_seconds = report.get("networkx_louvain_s") or report["networkx_louvain_lower_bound_s"]
    ratio = nx_seconds / fast["projection_plus_leiden_s"]
    report["speedup_vs_networkx_louvain"] = round(ratio, 1)
    report["speedup_is_lower_bound"] = report.get("networkx_louvain_s") is None
    return report


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nx-timeout", type=float, default=600)
    args = parser.parse_args()
    print(json.dumps(measure(args.people, args.links, args.repeats, args.nx_timeout), indent=2))


if __name__ == "__main__":
    main()
