"""The workbench in a real browser: Debian's chromium driven by Playwright against the running
service on the fixture scenario. Each test is one step of an analyst's (or operator's) work;
expected values come from the truth file, the graph (networkx over Neo4j's rows) or the API's
own answers, never from the page. Screenshots of every step are saved under
$FUSION_TEST_ARTIFACTS (default: a pytest temporary directory)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import networkx as nx
import pytest

from tests.api_support import ALL_REGIONS, SECRET
from tests.graph_oracle import ALL_ELEMENTS, visible_graph

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

CHROMIUM = "/usr/bin/chromium"
ZONE = "Asia/Shanghai"
PATH_TYPES = {"INVOLVED_IN", "USES", "OWNS", "LIVES_AT", "OCCURRED_AT", "CALLED", "SENT",
              "RECEIVED", "FROM_ADDRESS", "TO_ADDRESS", "CO_TRAVELED"}


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Where the screenshots go."""
    where = os.environ.get("FUSION_TEST_ARTIFACTS")
    path = Path(where) / "workbench" if where else tmp_path_factory.mktemp("workbench")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Bench:
    """One browser tab on the workbench, with the console messages it logged."""

    def __init__(self, context, api, artifacts: Path):
        self.page = context.new_page()
        self.api, self.artifacts = api, artifacts
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def open(self, token: str, purpose: str | None = "case A3301-2024-013") -> Bench:
        self.page.goto(f"{self.api.url}/#token={token}")
        self.page.wait_for_selector("[data-testid=who]")
        if purpose is not None:
            self.page.fill("[data-testid=purpose]", purpose)
            self.page.dispatch_event("[data-testid=purpose]", "change")
        return self

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"))

    def add(self, key: str, kind: str | None = None) -> None:
        """Search for key and add the hit with that key to the chart."""
        self.page.fill("[data-testid=search-text]", key)
        if kind:
            self.page.check(f"[data-testid=kind-{kind}]")
        self.page.click("form.search button[type=submit]")
        hit = f"[data-testid=search-results] li[data-key='{key}'] [data-testid=add-to-chart]"
        self.page.click(hit)
        self.until(f"fusionWorkbench.chart.cy.getElementById({_js(kind, key)})"
                                    ".nonempty()" if kind else "fusionWorkbench.chart.size > 0")
        if kind:
            self.page.uncheck(f"[data-testid=kind-{kind}]")

    def until(self, expression: str, timeout: float = 30.0) -> None:
        """Wait until a JavaScript expression is true (polled from here: the page's CSP
        forbids the eval that Playwright's wait_for_function needs)."""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(expression):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            self.page.wait_for_timeout(50)

    def select(self, *ids: str) -> None:
        self.page.evaluate("ids => { const cy = fusionWorkbench.chart.cy; cy.elements().unselect();"
                           " ids.forEach(id => cy.getElementById(id).select()); }", list(ids))

    def chart_nodes(self) -> dict[str, dict]:
        return self.page.evaluate("Object.fromEntries(fusionWorkbench.chart.cy.nodes()"
                                  ".map(n => [n.id(), n.data()]))")

    def status(self) -> str:
        return self.page.inner_text("[data-testid=chart-status]")


def _js(kind: str | None, key: str) -> str:
    return repr(f"{kind}:{key}")


@pytest.fixture
def bench(browser, api, artifacts):
    """A fresh tab (own sessionStorage) on the workbench; fails on any CSP violation."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    tab = Bench(context, api, artifacts)
    yield tab
    context.close()
    violations = [m for m in tab.console if "Content Security Policy" in m or "pageerror" in m]
    assert not violations, violations


def test_token_link_signs_in_and_the_session_survives_a_reload(bench, api):
    bench.open(api.token(user="ana"))
    assert "#token=" not in bench.page.url
    assert bench.page.inner_text("[data-testid=who]") == "ana · analyst"
    bench.shot("01-signed-in")
    bench.page.reload()
    bench.page.wait_for_selector("[data-testid=who]")
    assert bench.page.input_value("[data-testid=purpose]") == "case A3301-2024-013"
    scopes = bench.page.eval_on_selector_all("[data-testid=scope] option",
                                             "os => os.map(o => o.value)")
    assert scopes == ["home", *(f"region:{r}" for r in ALL_REGIONS)]


def test_search_a_planted_gang_member_and_expand_it(bench, api):
    member = api.truth["gangs"][0]["members"][0]
    bench.open(api.token())
    bench.add(member, "PERSON")
    card = bench.page.inner_text("[data-testid=card-counts]")
    entity = api.gql("query($k: String!) { entity(ref: {kind: PERSON, key: $k}) { ... on Person "
                     "{ phones { key } cases { key } } } }", {"k": member})["entity"]
    assert f"{len(entity['phones'])} phones" in card and f"{len(entity['cases'])} cases" in card
    bench.select(f"PERSON:{member}")
    bench.page.click("[data-testid=expand]")
    bench.until("document.querySelector('[data-testid=chart-status]')"
                                 ".innerText.includes('relationship')")
    hood = api.gql("query($k: String!) { neighborhood(ref: {kind: PERSON, key: $k}, limit: 100)"
                   " { nodes { kind key } rels { type } } }", {"k": member})["neighborhood"]
    assert set(bench.chart_nodes()) == {f"{n['kind']}:{n['key']}" for n in hood["nodes"]}
    bench.shot("02-search-expand")


def test_gangs_colour_the_planted_gangs_members_in_one_colour(bench, api):
    planted = api.truth["gangs"][0]["members"]
    bench.open(api.token())
    bench.add(planted[0], "PERSON")
    bench.page.click("[data-testid=gangs]")
    bench.page.wait_for_selector("[data-testid=gang-list]", timeout=120_000)
    nodes = bench.chart_nodes()
    colours = {nodes[f"PERSON:{m}"].get("gangColor") for m in planted}
    assert len(colours) == 1 and None not in colours
    colour = colours.pop()
    coloured = {k for k, d in nodes.items() if d.get("kind") and d.get("gangColor") == colour}
    assert coloured == {f"PERSON:{m}" for m in planted}
    boxes = {nodes[f"PERSON:{m}"].get("parent") for m in planted}
    assert len(boxes) == 1 and nodes[boxes.pop()]["gangColor"] == colour
    bench.shot("03-gangs")


def test_the_fraud_victim_and_the_boss_are_joined_by_the_shortest_path(bench, api, cypher):
    chain = api.truth["fraud_chain"]
    G = visible_graph(cypher(ALL_ELEMENTS), set(ALL_REGIONS), PATH_TYPES)
    a, b = ("PERSON", chain["victim"]), ("PERSON", chain["gang_member"])
    expected = nx.shortest_path_length(G, a, b)
    bench.open(api.token())
    bench.add(chain["victim"], "PERSON")
    bench.add(chain["gang_member"], "PERSON")
    bench.select(f"PERSON:{a[1]}", f"PERSON:{b[1]}")
    bench.page.click("[data-testid=paths]")
    bench.page.wait_for_selector("[data-testid=path-list]")
    lengths = bench.page.eval_on_selector_all("[data-testid=path-list] [data-length]",
                                              "xs => xs.map(x => Number(x.dataset.length))")
    assert expected == 4 and lengths[0] == expected and lengths == sorted(lengths)
    on_path = bench.page.evaluate("fusionWorkbench.chart.cy.nodes('.path').map(n => n.id())")
    assert f"PERSON:{a[1]}" in on_path and f"PERSON:{b[1]}" in on_path
    bench.shot("04-shortest-path")


def test_time_respecting_paths_between_two_people_go_through_their_phones(bench, api):
    chain = api.truth["fraud_chain"]
    bench.open(api.token())
    bench.add(chain["victim"], "PERSON")
    bench.add(chain["gang_member"], "PERSON")
    bench.select(f"PERSON:{chain['victim']}", f"PERSON:{chain['gang_member']}")
    bench.page.click("[data-testid=time-paths]")
    bench.page.wait_for_selector("[data-testid=time-path-list]", timeout=60_000)
    expected = api.gql("query($a: EntityRef!, $b: EntityRef!) { timePaths(from: $a, to: $b,"
                       " limit: 3) { hops { at } } }",
                       {"a": {"kind": "PHONE", "key": chain["victim_phone"]},
                        "b": {"kind": "PHONE", "key": chain["gang_member_phone"]}})["timePaths"]
    shown = bench.page.inner_text("[data-testid=time-path-list] ol")
    for hop in expected[0]["hops"]:
        assert _local(hop["at"]) in shown
    bench.shot("05-time-path")


def test_the_timeline_shows_the_victims_events_in_local_time(bench, api):
    victim = api.truth["fraud_chain"]["victim"]
    bench.open(api.token())
    bench.add(victim, "PERSON")
    bench.select(f"PERSON:{victim}")
    bench.page.click("[data-testid=timeline]")
    bench.page.wait_for_selector("[data-testid=timeline-list] tr.tl-row")
    events = api.gql("query($k: String!) { timeline(ref: {kind: PERSON, key: $k}, limit: 500)"
                     " { at } }", {"k": victim})["timeline"]
    shown = bench.page.eval_on_selector_all("[data-testid=timeline-list] tr.tl-row td:first-child",
                                            "tds => tds.map(t => t.innerText)")
    assert shown == [_local(e["at"]) for e in events]
    assert "Asia/Shanghai" in bench.page.inner_text("[data-testid=timeline-list] th")
    bench.shot("06-timeline")


def test_co_travel_shows_the_meetings_of_a_selected_pair_and_maps_them(bench, api):
    pair = api.truth["planted_qualifying_pairs"][0]
    a, b = pair["a"], pair["b"]
    bench.open(api.token())
    bench.add(a["key"], a["kind"])
    bench.select(f"{a['kind']}:{a['key']}")
    bench.page.click("[data-testid=cotravel]")
    bench.page.wait_for_selector("[data-testid=cotravel-list]", timeout=60_000)
    edge = f"CO_TRAVEL:{a['kind']}:{a['key']}->{b['kind']}:{b['key']}"
    bench.select(edge)
    bench.page.wait_for_selector("[data-testid=evidence] table tr")
    rows = bench.page.eval_on_selector_all("[data-testid=evidence] tbody tr", "rs => rs.length")
    assert rows == pair["meetings"]
    bench.page.click("[data-testid=tab-map]")
    legend = bench.page.inner_text(".map-legend")
    assert f"{pair['meetings']} meeting(s) at {pair['distinct_sensors']} sensor(s)" in legend
    bench.shot("07-cotravel-map")


def test_an_operator_runs_a_saved_query_from_its_form(bench, api):
    victim = api.truth["fraud_chain"]["victim"]
    bench.open(api.token(role="operator", user="olga"))
    assert bench.page.is_hidden("[data-testid=expand]")
    bench.page.select_option("[data-testid=saved-select]", "Entity")
    bench.page.select_option("[data-testid=entity-kind-ref]", "PERSON")
    bench.page.fill("[data-testid=entity-key-ref]", victim)
    bench.shot("08-operator-form")
    bench.page.click("[data-testid=saved-run]")
    bench.page.wait_for_selector("[data-testid=result-entity]")
    label = api.gql("query($k: String!) { entity(ref: {kind: PERSON, key: $k}) { label } }",
                    {"k": victim})["entity"]["label"]
    assert label in bench.page.inner_text("[data-testid=result-entity]")
    bench.page.click("[data-testid=result-to-chart]")
    bench.until("fusionWorkbench.chart.size === 1")
    bench.shot("08-operator-saved-query")


def test_a_graphml_export_is_a_file_networkx_reads(bench, api, tmp_path):
    victim = api.truth["fraud_chain"]["victim"]
    bench.open(api.token())
    bench.add(victim, "PERSON")
    bench.select(f"PERSON:{victim}")
    bench.page.click("[data-testid=expand]")
    bench.until("fusionWorkbench.chart.cy.edges().length > 0")
    nodes = set(bench.chart_nodes())
    edges = bench.page.evaluate("fusionWorkbench.chart.cy.edges().length")
    for fmt in ("graphml", "csv"):
        bench.page.select_option("[data-testid=export-format]", fmt)
        with bench.page.expect_download() as download:
            bench.page.click("[data-testid=export]")
        target = tmp_path / download.value.suggested_filename
        download.value.save_as(target)
        if fmt == "graphml":
            G = nx.read_graphml(target)
            assert set(G.nodes) == nodes and G.number_of_edges() == edges
            assert G.nodes[f"PERSON:{victim}"]["key"] == victim
        else:
            raw = target.read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf")
            rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
            assert len(rows) == edges
            assert nx.from_edgelist((r["source"], r["target"]) for r in rows).number_of_nodes() \
                == len(nodes)
    shutil.copy(target, bench.artifacts / target.name)


def test_a_saved_workspace_reopens_after_a_reload(bench, api):
    chain = api.truth["fraud_chain"]
    bench.open(api.token(user="wu"))
    bench.add(chain["victim"], "PERSON")
    bench.add(chain["gang_member"], "PERSON")
    before = bench.chart_nodes()
    listed = "[data-testid=workspaces] [data-name='fraud chain (browser test)']"
    bench.page.fill("[data-testid=workspace-name]", "fraud chain (browser test)")
    bench.page.click("[data-testid=save-workspace]")
    bench.page.wait_for_selector(listed)
    bench.page.reload()
    bench.page.wait_for_selector(listed)
    assert bench.chart_nodes() == {}
    bench.page.click("[data-name='fraud chain (browser test)'] [data-testid=open-workspace]")
    bench.until("fusionWorkbench.chart.size === 2")
    assert set(bench.chart_nodes()) == set(before)
    assert "saved by wu" in bench.page.inner_text("[data-testid=workspaces]")
    bench.shot("09-workspace-reopened")


def test_an_expired_token_shows_its_error_in_place(bench, api):
    from fusion.auth import issue_token

    expired = issue_token(SECRET.encode(), "old", "analyst", ["330100"], timedelta(hours=1),
                          now=datetime.now(UTC) - timedelta(hours=2))
    bench.page.goto(f"{api.url}/#token={expired}")
    error = bench.page.wait_for_selector("[data-testid=signin-status] .error")
    assert error.get_attribute("data-code") == "UNAUTHENTICATED"
    assert "expired" in error.inner_text()
    bench.shot("10-expired-token")


def test_a_missing_purpose_shows_its_error_in_place(bench, api):
    bench.open(api.token(), purpose=None)
    bench.page.fill("[data-testid=search-text]", api.truth["fraud_chain"]["victim"])
    bench.page.click("form.search button[type=submit]")
    error = bench.page.wait_for_selector(".search ~ .status .error")
    assert error.get_attribute("data-code") == "PURPOSE_REQUIRED"
    bench.shot("11-missing-purpose")


def test_the_alerts_tab_lists_an_alert_and_confirms_it_with_a_reason(bench, api, driver):
    from queries.alerts import MERGE_ALERTS

    plate = api.truth["gangs"][0]["plates"][0]
    props = {"id": "wb-alert-1", "owner": "wb-alerts", "source": "WATCHLIST",
             "source_id": "wl-1", "source_name": "gang plates",
             "summary": f"vehicle {plate} on watchlist 'gang plates' appears in 1 new record",
             "subjects": [f"VEHICLE:{plate}"], "evidence": "[]", "load_id": None,
             "regions": list(ALL_REGIONS), "purpose": "case 1", "joint_operation": None,
             "created_at": datetime.now(UTC), "state": "NEW", "webhook": None}
    driver.execute_query("MATCH (a:Alert {id: 'wb-alert-1'}) DETACH DELETE a",
                         database_=api.settings.neo4j_database)
    driver.execute_query(MERGE_ALERTS, rows=[{"id": props["id"], "props": props}], batch="wb",
                         database_=api.settings.neo4j_database)
    bench.open(api.token(user="wb-alerts"))
    bench.page.click("[data-testid=tab-alerts]")
    row = bench.page.wait_for_selector("[data-testid=alert-list] tr[data-alert='wb-alert-1']")
    assert plate in row.inner_text() and "NEW" in row.inner_text()
    bench.page.click("[data-testid=alert-confirmed]")  # no reason yet: nothing sent
    assert "Say why" in bench.page.inner_text("[data-testid=alerts-status]")
    bench.page.fill("[data-testid=alert-reason]", "stopped at checkpoint")
    bench.page.click("[data-testid=alert-confirmed]")
    bench.page.wait_for_selector("tr[data-alert='wb-alert-1'] >> text=wb-alerts: stopped at "
                                 "checkpoint")
    bench.shot("12-alerts-tab")
    records, _, _ = driver.execute_query(
        "MATCH (a:Alert {id: 'wb-alert-1'}) RETURN a.state AS s, a.triaged_by AS by",
        database_=api.settings.neo4j_database)
    assert (records[0]["s"], records[0]["by"]) == ("CONFIRMED", "wb-alerts")


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")


# -- the GraphiQL console, from the same tryout -------------------------------------------------

def test_console_keeps_its_token_and_schema_over_a_reload_and_runs_a_pasted_query(
        browser, api, artifacts):
    token = api.token("analyst")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{api.url}/graphql#token={token}")
        page.wait_for_selector(".graphiql-container")
        assert "token=" not in page.url                       # out of history and bookmarks
        page.reload()
        page.wait_for_selector(".graphiql-container")
        stored = page.evaluate("() => sessionStorage.getItem('fusion.token')")
        assert stored == token                                # the reload kept the token
        page.get_by_role("button", name="Show Documentation Explorer").click()
        page.wait_for_selector("text=Query", timeout=30_000)  # introspection answered
        assert page.locator("text=Error fetching schema").count() == 0
        # Paste a document with another operation name than the one GraphiQL last ran.
        editor = page.locator(".graphiql-query-editor .CodeMirror").first
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text("query Mine { __typename }")
        page.keyboard.press("Control+Enter")
        result = page.locator(".result-window")
        result.get_by_text('"__typename": "Query"').wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts / "console-after-reload.png"))
    finally:
        context.close()
