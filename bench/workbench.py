"""The workbench in headless Chromium: first paint on loopback, a 2,000-node / 5,000-edge chart
laid out and interactive, and expanding a node (the page's own work, the query excluded).

``run(scale)`` builds the demo (managed Neo4j in a temporary FUSION_HOME on ports 37831/37832,
the scenario at scale 0.05 x ``scale``), serves it with ``fusion serve`` in a subprocess and
drives Debian's chromium with Playwright. Against a running service::

    python -m bench.workbench --url http://127.0.0.1:8000 --token T --truth .../truth.json

Targets (issue #15): first paint <= 1 s; the large chart laid out and interactive <= 3 s;
expanding a node <= 300 ms plus the query. The large chart is synthetic (seeded, built in the
page through the chart's own API, so no query is involved): 2,000 entities of every kind and
5,000 relationships, a few hubs and many small neighbourhoods like a real case network.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from bench._service import served_demo

BOLT, HTTP = 37831, 37832
CHROMIUM = "/usr/bin/chromium"
PAINTS, LARGE_RUNS, EXPANSIONS = 7, 3, 12
NODES, EDGES = 2000, 5000

# Builds the synthetic chart in the page (seeded LCG; preferential attachment), adds it the way
# an answer is added (entities, then relationships), lays it out with the page's default layout
# and resolves with the times once a frame has been drawn and a pan answered by the next frame.
LARGE_CHART = """async ([nodes, edges]) => {
  const chart = fusionWorkbench.chart, cy = chart.cy;
  cy.elements().remove();
  let seed = 42;
  const rand = () => (seed = (seed * 1664525 + 1013904223) % 4294967296) / 4294967296;
  const kinds = ["PERSON", "PHONE", "VEHICLE", "CASE", "PARCEL", "SENSOR", "ADDRESS"];
  const types = ["USES", "CALLED", "OWNS", "INVOLVED_IN", "SENT", "SEEN_AT", "LIVES_AT"];
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  const entities = Array.from({ length: nodes }, (_, i) => ({ kind: kinds[i % kinds.length],
    key: `K${i}`, label: `entity ${i}`, regions: ["330100"] }));
  const ends = [];
  for (let i = 1; i < nodes; i++) ends.push([i, Math.floor(rand() * i)]);
  while (ends.length < edges) {
    const a = Math.floor(rand() * nodes), b = ends[Math.floor(rand() * ends.length)][1];
    if (a !== b && !ends.some(([x, y]) => x === a && y === b)) ends.push([a, b]);
  }
  const rels = ends.map(([a, b], i) => ({ type: types[i % types.length], from: entities[a],
    to: entities[b], properties: { count: 1 + (i % 9), first_at: "2024-09-20T02:00:00+00:00" } }));
  const t0 = performance.now();
  cy.batch(() => {
    chart.addEntities(entities);
    chart.addRels(rels);
  });
  const t1 = performance.now();
  await chart.layout("fcose");
  const t2 = await frame();
  cy.panBy({ x: 40, y: 25 });
  const t3 = await frame();
  return { nodes: cy.nodes("[kind]").length, edges: cy.edges().length, build: t1 - t0,
           layout: t2 - t1, total: t2 - t0, pan: t3 - t2 };
}"""


def measure(url: str, token: str, truth: dict) -> dict:
    """All figures against the service at url."""
    from playwright.sync_api import sync_playwright

    before = os.getloadavg()[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            return {"paint": [_first_paint(browser, url, token) for _ in range(PAINTS)],
                    "large": [_large_chart(browser, url, token) for _ in range(LARGE_RUNS)],
                    "expand": _expansions(browser, url, token, truth),
                    "load": (before, os.getloadavg()[0])}
        finally:
            browser.close()


def _page(browser, url: str, token: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/#token={token}")
    page.wait_for_selector("[data-testid=who]")
    return context, page


def _first_paint(browser, url: str, token: str) -> dict:
    """First contentful paint and the moment the signed-in workbench is on screen (ms)."""
    context, page = _page(browser, url, token)
    try:
        return page.evaluate("""() => ({
          paint: performance.getEntriesByName("first-contentful-paint")[0].startTime,
          ready: performance.now(),
          loaded: performance.getEntriesByType("navigation")[0].loadEventEnd })""")
    finally:
        context.close()


def _large_chart(browser, url: str, token: str) -> dict:
    context, page = _page(browser, url, token)
    try:
        return page.evaluate(LARGE_CHART, [NODES, EDGES])
    finally:
        context.close()


def _expansions(browser, url: str, token: str, truth: dict) -> list[dict]:
    """Expand planted gang members one after another on one growing chart."""
    people = [k for g in truth["gangs"] for k in g["members"]][:EXPANSIONS]
    context, page = _page(browser, url, token)
    page.fill("[data-testid=purpose]", "benchmark")
    out = []
    try:
        for key in people:
            took = page.evaluate("""async (key) => {
              const wb = fusionWorkbench, id = `PERSON:${key}`;
              wb.chart.addEntities([{ kind: "PERSON", key, label: key }]);
              const t0 = performance.now();
              await wb.expand(id);
              return { page: wb.timings.expandMs, total: performance.now() - t0,
                       nodes: wb.chart.size };
            }""", key)
            out.append(took)
    finally:
        context.close()
    return out


def section(t: dict, data: str) -> str:
    """The Markdown section of the figures."""
    paint = [x["paint"] for x in t["paint"]]
    ready = [x["ready"] for x in t["paint"]]
    large = t["large"]
    page_ms = [x["page"] for x in t["expand"]]
    total_ms = [x["total"] for x in t["expand"]]
    last = large[-1]
    rows = [
        "| measure | median | worst | target |", "|---|---|---|---|",
        f"| first contentful paint (ms) | {_med(paint)} | {max(paint):.0f} | <= 1000 |",
        f"| signed-in workbench on screen (ms) | {_med(ready)} | {max(ready):.0f} | |",
        f"| {last['nodes']:,} nodes / {last['edges']:,} edges: built + fCoSE layout + first "
        f"frame (ms) | {_med([x['total'] for x in large])} | "
        f"{max(x['total'] for x in large):.0f} | <= 3000 |",
        f"| — of which layout (ms) | {_med([x['layout'] for x in large])} | "
        f"{max(x['layout'] for x in large):.0f} | |",
        f"| — then a pan answered by the next frame (ms) | {_med([x['pan'] for x in large])} | "
        f"{max(x['pan'] for x in large):.0f} | |",
        f"| expanding a node, page work without the query (ms) | {_med(page_ms)} | "
        f"{max(page_ms):.0f} | <= 300 |",
        f"| expanding a node, with the query (ms) | {_med(total_ms)} | {max(total_ms):.0f} | |",
    ]
    grown = t["expand"][-1]["nodes"] if t["expand"] else 0
    load = " / ".join(f"{x:.1f}" for x in t["load"])
    return "\n".join([
        "## Workbench in headless Chromium (bench.workbench)", "",
        f"{data} Debian's chromium, headless, 1440x900, loopback. First paint: {PAINTS} fresh "
        f"tabs. Large chart: {LARGE_RUNS} runs. Expansions: {len(page_ms)} planted gang "
        f"members expanded one after another on one chart (it grew to {grown} entities). "
        f"Load average before / after: {load} (the machine's other work slows the browser).",
        "",
        *rows])


def _med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.0f}"


def run(scale: float = 1.0) -> str:
    """Build the demo in a temporary FUSION_HOME, serve it, and measure."""
    with served_demo("fusion-bench-workbench-", BOLT, HTTP, "1g", "512m", 0.05 * scale,
                     ready_timeout=120) as demo:
        timings = measure(demo.url, demo.token, demo.truth)
    return section(timings, f"Demo data (scale {0.05 * scale:g}, seed 1).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text("utf-8"))
    print(section(measure(args.url.rstrip("/"), args.token, truth), f"Service at {args.url}."))


if __name__ == "__main__":
    main()
