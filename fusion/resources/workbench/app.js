// The analyst's workbench: wires the session, the panels, the link chart, the timeline, the map
// and the saved-query forms to the public GraphQL API. Every action is one or more named GraphQL
// requests carrying the token, the purpose and the chosen scope, so each is audited.

import { AlertsPanel } from "./alerts.js";
import { Api, ApiError, Q } from "./api.js";
import { Chart, LAYOUTS, nodeId } from "./chart.js";
import { exportChart } from "./exporting.js";
import { SavedQueryForms, graphOf, resultTables } from "./forms.js";
import { MapView } from "./map.js";
import { EntityCard, SearchPanel, busy, showError } from "./panels.js";
import { Session } from "./session.js";
import { GANG_COLORS } from "./style.js";
import { Timeline } from "./timeline.js";
import { clear, el, localTime, plural, validTimeZone } from "./util.js";

const root = document.getElementById("app");
const config = JSON.parse(document.getElementById("fusion-config").textContent);
const session = new Session({ timeZone: root.dataset.timezone || "Asia/Shanghai", tileUrl: root.dataset.tileUrl || "" });
const api = new Api(root.dataset.endpoint, session);
const EXPAND_LIMIT = 100;
const TIMELINE_MAX = 5;

class Workbench {
  constructor() {
    this.timings = {};
    api.onUnauthenticated = (err) => this.signIn(err);
  }

  start() {
    if (!session.token) this.signIn();
    else this.enter();
  }

  // --- session ----------------------------------------------------------------------------------
  signIn(err = null) {
    session.signOut();
    const token = el("textarea", { rows: 4, "data-testid": "token-input",
      placeholder: "Paste the token from `fusion token issue` or the link `fusion demo` prints." });
    const status = el("div", { class: "status", "data-testid": "signin-status" });
    const go = () => {
      if (!token.value.trim()) { showError(status, new ApiError("UNAUTHENTICATED", "Paste a token first.")); return; }
      session.token = token.value;
      this.enter();
    };
    clear(root, el("div", { class: "signin" }, el("h1", { text: "Fusion workbench" }),
      el("p", { text: "Sign in with your token. It is kept in this browser tab only (it survives a reload, not the tab)." }),
      token, el("div", { class: "row" }, el("button", { type: "button", class: "primary", text: "Sign in",
        "data-testid": "signin", onclick: go })), status,
      el("p", { class: "muted" }, "Writing GraphQL yourself? The console is at ", el("a", { href: "/graphql", text: "/graphql" }), ".")));
    if (err) showError(status, err);
  }

  async enter() {
    const claims = session.claims;
    if (!claims) { this.signIn(new ApiError("UNAUTHENTICATED", "That is not a Fusion token.")); return; }
    busy(root, "Signing in…");
    try {
      if (claims.role === "operator") {
        session.viewer = { user: claims.sub, role: "operator", regions: claims.regions || [], jointOperations: [] };
      } else if (claims.role === "auditor") {
        session.viewer = { user: claims.sub, role: "auditor", regions: claims.regions || [], jointOperations: [] };
      } else {
        session.viewer = (await api.request(Q.viewer, {}, { purpose: false })).viewer;
      }
    } catch (err) {
      if (err.code !== "UNAUTHENTICATED") { this.signIn(err); }
      return;
    }
    this.build();
  }

  topbar() {
    const v = session.viewer;
    this.purpose = el("input", { type: "text", value: session.purpose, "data-testid": "purpose",
      placeholder: "Case number or reason (required)", "aria-label": "Purpose",
      oninput: () => { session.purpose = this.purpose.value; this.purpose.classList.toggle("missing", !session.purpose); },
      onchange: () => { if (this.workspaces.isConnected) this.renderWorkspaces(); } });
    this.purpose.classList.toggle("missing", !session.purpose);
    const options = [el("option", { value: "home", text: `Home regions (${v.regions.join(", ")})` }),
      ...(v.regions.length > 1 ? v.regions.map((r) => el("option", { value: `region:${r}`, text: `Region ${r}` })) : []),
      ...v.jointOperations.map((j) => el("option", { value: `joint:${j.id}`,
        text: `Joint operation ${j.name} (${j.regions.join(", ")})` }))];
    this.scope = el("select", { "data-testid": "scope", "aria-label": "Scope",
      onchange: () => { session.scopeChoice = this.scope.value; } }, options);
    if (options.some((o) => o.value === session.scopeChoice)) this.scope.value = session.scopeChoice;
    else session.scopeChoice = "home";
    return el("header", { class: "topbar" },
      el("span", { class: "brand", text: "Fusion workbench" }),
      el("span", { class: "who", "data-testid": "who", text: `${v.user} · ${v.role}` }),
      el("label", { class: "purpose" }, "Purpose ", this.purpose),
      el("label", {}, "Scope ", this.scope),
      el("span", { class: "spacer" }),
      el("button", { type: "button", text: "Settings", onclick: () => this.settingsBox.classList.toggle("hidden") }),
      // The console fills its Authorization header from #token= (same tab, same token).
      el("a", { href: `/graphql#token=${encodeURIComponent(session.token)}`, class: "button",
        text: "GraphQL console" }),
      el("button", { type: "button", text: "Sign out", onclick: () => this.signIn() }));
  }

  settingsPanel() {
    const s = session.settings;
    const zone = el("input", { type: "text", value: s.timeZone, "data-testid": "setting-timezone" });
    const tiles = el("input", { type: "url", value: s.tileUrl, placeholder: "https://tiles.example/{z}/{x}/{y}.png" });
    const status = el("div", { class: "status" });
    const save = () => {
      if (!validTimeZone(zone.value.trim())) { showError(status, new ApiError("BAD_INPUT", `Unknown time zone ${zone.value}.`)); return; }
      session.settings = { timeZone: zone.value.trim(), tileUrl: tiles.value.trim() };
      clear(status, el("span", { class: "muted", text: "Saved." }));
      this.chart.refreshCaptions();
      this.timeline.draw();
      this.map.draw();
    };
    this.settingsBox = el("div", { class: "settings hidden" },
      el("label", {}, "Time zone of the data (the API answers in UTC) ", zone),
      el("label", {}, "Map tile URL (only if your site has a tile server the page may load from) ", tiles),
      el("button", { type: "button", class: "primary", text: "Save settings", onclick: save }), status);
    return this.settingsBox;
  }

  // --- layout -----------------------------------------------------------------------------------
  build() {
    const role = session.viewer.role;
    root.className = `role-${role}`;
    const chartBox = el("div", { class: "chart", "data-testid": "chart" });
    this.chartStatus = el("div", { class: "status chart-status", "data-testid": "chart-status" });
    this.foot = el("div", { class: "chart-foot muted", "data-testid": "chart-foot" });
    const left = el("aside", { class: "left" });
    const right = el("aside", { class: "right" });
    this.details = el("div", { class: "details", "data-testid": "details" },
      el("p", { class: "muted", text: "Select a node or a relationship to see its evidence." }));
    this.analysis = el("div", { class: "analysis", "data-testid": "analysis" });
    this.workspaces = el("div", { class: "workspaces", "data-testid": "workspaces" });
    right.append(el("h3", { text: "Selection" }), this.details, el("h3", { text: "Analysis" }), this.analysis);
    const tabs = this.tabs();
    clear(root, this.topbar(), this.settingsPanel(),
      el("main", { class: "layout" }, left,
        el("section", { class: "centre" }, this.toolbar(), this.chartStatus, chartBox, this.foot), right),
      tabs);
    this.chart = new Chart(chartBox, { timeZone: () => session.timeZone });
    this.chart.on("change", () => this.updateFoot());
    this.chart.cy.on("select unselect", () => { clearTimeout(this.selTimer); this.selTimer = setTimeout(() => this.selectionChanged(), 40); });
    this.chart.cy.on("dbltap", "node", (ev) => this.expand(ev.target.id()));
    this.timeline = new Timeline(this.panes.timeline, { timeZone: () => session.timeZone,
      onBrush: (range, events) => this.brushed(range, events), onPick: (e) => this.pickEvent(e) });
    this.map = new MapView(this.panes.map, { timeZone: () => session.timeZone, tileUrl: () => session.settings.tileUrl });
    this.forms = new SavedQueryForms(this.panes.saved, { api, config, session, showError,
      chartSelection: () => this.chart.selectedNodes().map((n) => ({ kind: n.data("kind"), key: n.data("key") })),
      onResult: (name, data) => this.savedResult(name, data) });
    if (role === "operator") {
      left.append(el("h3", { text: "Saved queries" }), el("p", { class: "muted",
        text: "Operators run the approved saved queries: pick one below, fill in its form, run it." }));
      this.showTab("saved");
    } else if (role === "auditor") {
      left.append(el("p", { text: "Auditors read the audit log (auditLog) in the GraphQL console." }));
    } else {
      this.search = new SearchPanel(left, { api, session, onPick: (e) => this.card.show(e), onAdd: (e) => this.addEntity(e) });
      this.card = new EntityCard(left, { api, session, onAdd: (e) => this.addEntity(e), onTimeline: (es) => this.showTimeline(es) });
      right.append(el("h3", { text: "Workspaces" }), this.workspaces);
      this.renderWorkspaces();
    }
    if (role !== "auditor") this.forms.load();
    this.updateFoot();
    window.fusionWorkbench = this;
  }

  toolbar() {
    const button = (text, title, f, testid) => el("button", { type: "button", title, text,
      "data-testid": testid, onclick: () => this.act(f) });
    this.relType = el("select", { "data-testid": "expand-type", title: "Relationship type to expand" },
      el("option", { value: "", text: "all types" }), config.enums.RelType.map((t) => el("option", { value: t, text: t })));
    this.layoutSelect = el("select", { "data-testid": "layout", onchange: () => this.act(() => this.chart.layout(this.layoutSelect.value)) },
      Object.entries(LAYOUTS).map(([name, l]) => el("option", { value: name, text: l.label })));
    this.exportFormat = el("select", { "data-testid": "export-format" },
      ["graphml", "gexf", "csv", "png"].map((f) => el("option", { value: f, text: f.toUpperCase() })));
    this.workspaceName = el("input", { type: "text", placeholder: "workspace name", "data-testid": "workspace-name" });
    const analyst = el("span", { class: "group analyst-only" },
      button("Expand", "Add the selected entities' neighbours (double-click a node does the same)", () => this.expandSelected(), "expand"),
      this.relType,
      button("Shortest paths", "Shortest paths between the two selected entities", () => this.paths(), "paths"),
      button("Time paths", "Paths whose events happen in time order between the two selected entities", () => this.timePaths(), "time-paths"),
      button("Gangs", "Find gangs in scope; colour their members", () => this.gangs(), "gangs"),
      button("Co-travel", "Co-travellers of the selected vehicle or phone (none selected: the strongest pairs in scope)", () => this.coTravel(), "cotravel"),
      button("Timeline", "Timeline of the selected entities", () => this.showTimeline(this.selectedRefs()), "timeline"));
    const edit = el("span", { class: "group" },
      button("Hide", "Hide the selection", () => this.chart.hideSelected(), "hide"),
      button("Show hidden", "Show hidden elements again", () => this.chart.showHidden(), "show-hidden"),
      button("Pin", "Pin or unpin the selected nodes where they are", () => this.chart.togglePinSelected(), "pin"),
      button("Remove", "Remove the selection from the chart", () => this.chart.removeSelected(), "remove"),
      button("Undo", "Undo the last change to the chart", () => { if (!this.chart.undo()) this.note("Nothing to undo."); }, "undo"));
    const view = el("span", { class: "group" }, this.layoutSelect,
      button("Fit", "Fit the chart to the window", () => this.chart.fit(), "fit"),
      this.exportFormat, button("Download", "Download the visible chart", () => exportChart(this.chart.cy, this.exportFormat.value), "export"));
    const keep = el("span", { class: "group analyst-only" }, this.workspaceName,
      button("Save workspace", "Save the chart on the server under this name, in the current scope", () => this.saveWorkspace(), "save-workspace"));
    return el("div", { class: "toolbar" }, analyst, edit, view, keep);
  }

  tabs() {
    this.panes = { timeline: el("div", { class: "pane" }), map: el("div", { class: "pane" }),
      saved: el("div", { class: "pane" }), results: el("div", { class: "pane", "data-testid": "results" }) };
    const labels = { timeline: "Timeline", map: "Map", saved: "Saved queries", results: "Results" };
    if (!["operator", "auditor"].includes(session.viewer.role)) {
      this.panes.alerts = el("div", { class: "pane", "data-testid": "alerts" });
      labels.alerts = "Alerts";
      this.alerts = new AlertsPanel(this.panes.alerts, api, session);
    }
    this.tabButtons = Object.fromEntries(Object.keys(this.panes).map((name) => [name,
      el("button", { type: "button", role: "tab", "data-testid": `tab-${name}`, text: labels[name], onclick: () => this.showTab(name) })]));
    const box = el("section", { class: "bottom" }, el("div", { class: "tabs", role: "tablist" }, Object.values(this.tabButtons)),
      Object.values(this.panes));
    queueMicrotask(() => this.showTab(session.viewer.role === "operator" ? "saved" : "timeline"));
    return box;
  }

  showTab(name) {
    for (const [n, pane] of Object.entries(this.panes)) {
      pane.classList.toggle("hidden", n !== name);
      this.tabButtons[n].classList.toggle("active", n === name);
    }
    if (name === "map" && this.map) this.map.fit();
    if (name === "timeline" && this.timeline) this.timeline.draw();
    if (name === "alerts" && this.alerts) this.alerts.refresh();
  }

  // --- helpers ----------------------------------------------------------------------------------
  async act(f) {
    clear(this.chartStatus);
    try {
      await f();
    } catch (err) {
      showError(this.chartStatus, err);
      if (err.code === "PURPOSE_REQUIRED") this.purpose.focus();
    }
  }

  note(text) { clear(this.chartStatus, el("span", { class: "note", text })); }

  selectedRefs() {
    return this.chart.selectedNodes().map((n) => ({ kind: n.data("kind"), key: n.data("key"), label: n.data("label") }));
  }

  twoSelected() {
    const sel = this.chart.selectedNodes();
    if (sel.length !== 2) throw new ApiError("BAD_INPUT", `Select exactly two entities (shift-click); ${sel.length} selected.`);
    return sel.map((n) => ({ kind: n.data("kind"), key: n.data("key") }));
  }

  updateFoot() {
    const cy = this.chart.cy;
    const nodes = cy.nodes("[kind]");
    clear(this.foot, `${plural(nodes.length, "entity")} · ${plural(cy.edges().length, "relationship")} · ` +
      `${cy.nodes(":selected").length} selected · ${cy.elements(".hidden").length} hidden · scope: ${session.scopeLabel}`);
  }

  async addEntity(e) {
    this.chart.remember();
    const added = this.chart.addEntities([e]);
    if (added.length) await this.chart.layout(undefined, { incremental: this.chart.size > 1 });
    this.chart.cy.nodes(":selected").unselect();
    this.chart.cy.getElementById(nodeId(e.kind, e.key)).select();
  }

  // --- analyses -----------------------------------------------------------------------------------
  async expandSelected() {
    const sel = this.chart.selectedNodes();
    if (!sel.length) throw new ApiError("BAD_INPUT", "Select an entity to expand.");
    for (const n of sel) await this.expand(n.id());
  }

  async expand(id) {
    const ref = this.chart.entity(id);
    const relTypes = this.relType.value ? [this.relType.value] : null;
    this.note(`Expanding ${ref.key}…`);
    const data = await api.request(Q.neighborhood, { ref, relTypes, limit: EXPAND_LIMIT, scope: session.scope });
    const started = performance.now();
    const hood = data.neighborhood;
    this.chart.remember();
    const added = this.chart.addEntities(hood.nodes, id);
    this.chart.addRels(hood.rels);
    await this.chart.layout(undefined, { incremental: true, fit: false });
    this.chart.cy.animate({ fit: { eles: this.chart.cy.getElementById(id).closedNeighborhood(), padding: 40 } }, { duration: 0 });
    this.timings.expandMs = performance.now() - started;
    this.note(`${ref.key}: ${plural(added.length, "new entity")}, ${plural(hood.rels.length, "relationship")}` +
      `${hood.truncated ? ` (cut at ${EXPAND_LIMIT}: there is more)` : ""}.`);
  }

  async paths() {
    const [a, b] = this.twoSelected();
    this.note("Finding shortest paths…");
    const data = await api.request(Q.paths, { from: a, to: b, scope: session.scope });
    const paths = data.relationshipPaths;
    if (!paths.length) { this.note("No path within 6 hops in this scope."); return; }
    this.chart.remember();
    const ids = [];
    for (const p of paths) {
      this.chart.addEntities(p.nodes);
      this.chart.addRels(p.rels).forEach((e) => ids.push(e.id()));
      p.nodes.forEach((n) => ids.push(nodeId(n.kind, n.key)));
    }
    this.chart.markPath(ids);
    await this.chart.layout(undefined, { incremental: true });
    this.note(`${plural(paths.length, "path")}; the shortest has ${plural(paths[0].length, "hop")}.`);
    clear(this.analysis, el("div", { "data-testid": "path-list" }, paths.map((p, i) =>
      el("div", { class: "path-item", "data-length": p.length }, el("strong", { text: `Path ${i + 1}: ${p.length} hops` }),
        el("div", { text: pathText(p) })))));
  }

  // Time-respecting paths run between the entities events join (phones, vehicles, parcels): a
  // person's end is tried through each of their phones and vehicles.
  async timePaths() {
    const [a, b] = this.twoSelected();
    this.note("Finding time-respecting paths…");
    const [fromEnds, toEnds] = await Promise.all([this.eventEnds(a), this.eventEnds(b)]);
    const pairs = fromEnds.flatMap((f) => toEnds.map((t) => [f, t])).filter(([f, t]) => f.key !== t.key).slice(0, 12);
    if (!pairs.length) throw new ApiError("BAD_INPUT", "Neither end has phones or vehicles whose events could form a path.");
    const answers = await Promise.all(pairs.map(([f, t]) =>
      api.request(Q.timePaths, { from: { kind: f.kind, key: f.key }, to: { kind: t.kind, key: t.key }, scope: session.scope })
        .then((d) => d.timePaths.map((p) => ({ ...p, via: [f, t] })))));
    const found = answers.flat().sort((p, q) => p.length - q.length || p.arrival.localeCompare(q.arrival)).slice(0, 3);
    if (!found.length) { this.note("No time-respecting path within 4 events in this scope."); return; }
    this.chart.remember();
    const ids = [];
    for (const p of found) {
      this.chart.addEntities(p.nodes);
      for (const [end, device] of [[a, p.via[0]], [b, p.via[1]]]) {
        if (end.kind === "PERSON") {
          this.chart.addEntities([device]);
          const e = this.chart.addEdge({ type: device.kind === "PHONE" ? "USES" : "OWNS", source: nodeId(end.kind, end.key), target: nodeId(device.kind, device.key) });
          if (e) ids.push(e.id(), nodeId(end.kind, end.key));
        }
      }
      for (const h of p.hops) {
        const e = this.chart.addEdge({ type: h.type, source: nodeId(h.from.kind, h.from.key), target: nodeId(h.to.kind, h.to.key),
          props: { at: h.at, count: 1 }, id: `${h.type}@${h.at}:${nodeId(h.from.kind, h.from.key)}->${nodeId(h.to.kind, h.to.key)}` });
        if (e) ids.push(e.id());
      }
      p.nodes.forEach((n) => ids.push(nodeId(n.kind, n.key)));
    }
    this.chart.markPath(ids);
    await this.chart.layout(undefined, { incremental: true });
    const zone = session.timeZone;
    this.note(`${plural(found.length, "time-respecting path")}; the first arrives ${localTime(found[0].arrival, zone)}.`);
    clear(this.analysis, el("div", { "data-testid": "time-path-list" }, found.map((p, i) =>
      el("div", { class: "path-item" }, el("strong", { text: `Route ${i + 1}: ${p.length} events, arrives ${localTime(p.arrival, zone)}` }),
        el("ol", {}, p.hops.map((h) => el("li", { text: `${localTime(h.at, zone)} ${h.type} ${h.from.key} → ${h.to.key}` })))))));
  }

  async eventEnds(ref) {
    if (ref.kind !== "PERSON") return [ref];
    const data = await api.request(Q.ends, { ref, scope: session.scope });
    return [...(data.entity.phones || []), ...(data.entity.vehicles || [])];
  }

  async gangs() {
    this.note("Finding gangs in scope…");
    const gangs = (await api.request(Q.gangs, { scope: session.scope })).gangs;
    const onChart = new Set(this.chart.cy.nodes('[kind = "PERSON"]').map((n) => n.data("key")));
    const touching = gangs.filter((g) => g.members.some((m) => onChart.has(m.person.key)));
    const shown = touching.length ? touching : gangs;
    this.chart.remember();
    gangs.forEach((g, i) => { g.color = GANG_COLORS[i % GANG_COLORS.length]; });
    for (const g of shown) this.chart.addEntities(g.members.map((m) => m.person));
    this.chart.setGangs(gangs);
    await this.chart.layout(undefined, { incremental: touching.length > 0 });
    this.note(`${plural(gangs.length, "gang")} in scope; ${plural(shown.length, "gang")} on the chart, members filled with their gang's colour, boxed, and sized by key-player rank.`);
    clear(this.analysis, el("div", { "data-testid": "gang-list" }, gangs.map((g) => el("div", { class: "gang-item", "data-gang": g.id },
      el("span", { class: "swatch", dataset: { color: g.color } }),
      el("strong", { text: `${g.id}: ${g.size} members` }), ` cohesion ${g.cohesion.toFixed(2)} · regions ${g.regions.join(", ")}`,
      el("div", { class: "muted", text: g.links.map((l) => `${l.count} ${l.type.toLowerCase()}`).join(" · ") }),
      el("div", { text: `key players: ${g.members.slice(0, 3).map((m) => `${m.rank}. ${m.person.label || m.person.key}`).join(", ")}` }),
      el("button", { type: "button", text: "+ chart", onclick: () => this.act(async () => {
        this.chart.remember();
        this.chart.addEntities(g.members.map((m) => m.person));
        this.chart.setGangs(gangs);
        await this.chart.layout(undefined, { incremental: true });
      }) })))));
    this.paintSwatches();
  }

  paintSwatches() {
    // Colours come from data attributes through the stylesheet's palette classes (no inline styles).
    this.analysis.querySelectorAll(".swatch").forEach((s) => {
      s.classList.add(`c${GANG_COLORS.indexOf(s.dataset.color)}`);
    });
  }

  async coTravel() {
    const subject = this.chart.selectedNodes().filter((n) => ["VEHICLE", "PHONE"].includes(n.data("kind")));
    const ref = subject.length ? { kind: subject[0].data("kind"), key: subject[0].data("key") } : null;
    this.note(ref ? `Co-travellers of ${ref.key}…` : "The strongest co-travel pairs in scope…");
    const [pairs, groups] = await Promise.all([
      api.request(Q.coTravel, { subject: ref, scope: session.scope }).then((d) => d.coTravel),
      ref ? Promise.resolve(null) : api.request(Q.coTravelGroups, { scope: session.scope }).then((d) => d.coTravelGroups)]);
    this.chart.remember();
    for (const p of pairs) {
      this.chart.addEntities([p.a, p.b]);
      this.chart.addEdge({ type: "CO_TRAVEL", source: nodeId(p.a.kind, p.a.key), target: nodeId(p.b.kind, p.b.key), undirected: true,
        props: { meetings: p.meetings, distinctSensors: p.distinctSensors, first_at: p.firstAt, last_at: p.lastAt } });
    }
    await this.chart.layout(undefined, { incremental: this.chart.size > pairs.length });
    this.note(`${plural(pairs.length, "co-travel pair")}${groups ? `, ${plural(groups.length, "group")}` : ""}. Select a dashed edge for its meetings.`);
    const zone = session.timeZone;
    clear(this.analysis, el("div", { "data-testid": "cotravel-list" },
      pairs.slice(0, 30).map((p) => el("div", { class: "path-item" }, `${p.a.label || p.a.key} ⇄ ${p.b.label || p.b.key}: `,
        `${p.meetings} meetings at ${p.distinctSensors} sensors, ${localTime(p.firstAt, zone, false)} – ${localTime(p.lastAt, zone, false)}`)),
      groups ? groups.map((g) => el("div", { class: "path-item" }, el("strong", { text: `Group of ${g.size}: ` }),
        g.members.map((m) => m.label || m.key).join(", "), ` (${g.meetings} meetings) `,
        el("button", { type: "button", text: "+ chart", onclick: () => this.act(async () => {
          this.chart.remember();
          this.chart.addEntities(g.members);
          await this.chart.layout(undefined, { incremental: true });
        }) }))) : null));
  }

  // --- selection and evidence ---------------------------------------------------------------------
  async selectionChanged() {
    this.updateFoot();
    const sel = this.chart.cy.elements(":selected");
    if (sel.length !== 1) return;
    const x = sel[0];
    try {
      if (x.isNode() && !x.data("kind")) {
        clear(this.details, el("p", { text: x.data("caption") }),
          el("p", { class: "muted", text: `${plural(x.children().length, "member")} on the chart.` }));
      } else if (x.isNode()) {
        if (x.data("kind") && this.card) await this.card.show({ kind: x.data("kind"), key: x.data("key") });
        this.details.replaceChildren(el("p", { text: `${x.data("kind")} ${x.data("label")}` }),
          el("p", { class: "muted", text: "Its card is on the left; Timeline shows its events." }));
      } else {
        await this.evidence(x);
      }
    } catch (err) {
      showError(this.details, err);
    }
  }

  async evidence(edge) {
    const d = edge.data();
    const zone = session.timeZone;
    const props = Object.entries(d.props || {}).map(([k, v]) => el("tr", {}, el("th", { text: k }),
      el("td", { text: /_at$|At$|^at$/.test(k) ? localTime(v, zone) : Array.isArray(v) ? v.join(", ") : String(v) })));
    const head = [el("p", {}, el("strong", { text: d.type }), ` ${edge.source().data("label")} → ${edge.target().data("label")}`),
      el("table", { class: "props" }, props)];
    const body = el("div", { "data-testid": "evidence" });
    clear(this.details, head, body);
    const a = this.chart.entity(d.source), b = this.chart.entity(d.target);
    if (d.type === "CO_TRAVEL") {
      busy(body, "Reading the meetings…");
      const data = await api.request(Q.evidence, { subject: a, scope: session.scope });
      const pair = data.coTravel.find((p) => p.b.kind === b.kind && p.b.key === b.key);
      const meetings = pair ? pair.evidence : [];
      clear(body, el("h4", { text: `${meetings.length} meetings` }), el("table", { class: "grid" },
        el("thead", {}, el("tr", {}, el("th", { text: "Sensor" }), el("th", { text: `${a.key} (local)` }), el("th", { text: `${b.key} (local)` }))),
        el("tbody", {}, meetings.map((m) => el("tr", {}, el("td", { text: m.sensor.label || m.sensor.key }),
          el("td", { text: localTime(m.aAt, zone) }), el("td", { text: localTime(m.bAt, zone) }))))));
      this.map.show(`Meetings of ${a.key} and ${b.key}`, meetings.map((m) => ({ lat: m.sensor.lat, lon: m.sensor.lon,
        sensor: m.sensor.key, region: (m.sensor.regions || [])[0] || "", kind: "meeting", at: m.aAt })));
      return;
    }
    const source = ["SENT", "RECEIVED"].includes(d.type) ? b : a;
    const other = source === a ? b : a;
    if (!["CALLED", "SENT", "RECEIVED", "SEEN_AT"].includes(d.type)) return;
    busy(body, "Reading the events…");
    const events = (await api.request(Q.timeline, { ref: source, scope: session.scope })).timeline
      .filter((e) => e.entities.some((x) => x.kind === other.kind && x.key === other.key));
    clear(body, el("h4", { text: plural(events.length, "event") }), el("table", { class: "grid" },
      el("tbody", {}, events.map((e) => el("tr", {}, el("td", { class: "nowrap", text: localTime(e.at, zone) }),
        el("td", { text: e.summary }))))));
    if (d.type === "SEEN_AT") this.map.show(`Sightings of ${source.key} at ${other.key}`, this.sightings(events));
  }

  sightings(events) {
    return events.filter((e) => e.type === "SIGHTING" && e.details && Number.isFinite(e.details.lat)).map((e) => ({
      lat: e.details.lat, lon: e.details.lon, kind: "sighting", at: e.at, region: (e.regions || [])[0] || "",
      sensor: (e.entities.find((x) => x.kind === "SENSOR") || {}).key || `${e.details.lat},${e.details.lon}` }));
  }

  // --- timeline and map ---------------------------------------------------------------------------
  async showTimeline(refs) {
    if (!refs.length) throw new ApiError("BAD_INPUT", "Select one or more entities first.");
    const chosen = refs.slice(0, TIMELINE_MAX);
    this.showTab("timeline");
    const lists = await Promise.all(chosen.map((r) =>
      api.request(Q.timeline, { ref: { kind: r.kind, key: r.key }, scope: session.scope }).then((d) => d.timeline)));
    const seen = new Set();
    const events = lists.flat().filter((e) => {
      const id = `${e.at}|${e.type}|${e.summary}`;
      return seen.has(id) ? false : (seen.add(id), true);
    });
    const title = chosen.map((r) => r.label || r.key).join(", ") + (refs.length > TIMELINE_MAX ? ` (first ${TIMELINE_MAX} of the selection)` : "");
    this.timeline.show(`Timeline of ${title}: ${plural(events.length, "event")}`, events);
    this.map.show(`Sightings of ${title}`, this.sightings(events));
  }

  brushed(range, events) {
    const ids = new Set(events.flatMap((e) => e.entities.map((x) => nodeId(x.kind, x.key))));
    this.chart.dimOutside(range, ids);
    this.map.show(range ? "Sightings in the brushed range" : "Sightings", this.sightings(events));
  }

  pickEvent(e) {
    const cy = this.chart.cy;
    cy.elements(":selected").unselect();
    e.entities.forEach((x) => cy.getElementById(nodeId(x.kind, x.key)).select());
    clear(this.details, el("p", {}, el("strong", { text: e.type }), ` ${localTime(e.at, session.timeZone)}`),
      el("p", { text: e.summary }), el("table", { class: "props" }, Object.entries(e.details || {}).map(([k, v]) =>
        el("tr", {}, el("th", { text: k }), el("td", { text: /_at$/.test(k) ? localTime(v, session.timeZone) : String(v) })))));
  }

  // --- saved queries ------------------------------------------------------------------------------
  savedResult(name, data) {
    const graph = graphOf(data);
    const show = async () => {
      this.chart.remember();
      this.chart.addEntities(graph.entities);
      this.chart.addRels(graph.rels);
      for (const p of graph.pairs) {
        this.chart.addEdge({ type: "CO_TRAVEL", source: nodeId(p.a.kind, p.a.key), target: nodeId(p.b.kind, p.b.key), undirected: true,
          props: { meetings: p.meetings, distinctSensors: p.distinctSensors, first_at: p.firstAt, last_at: p.lastAt } });
      }
      await this.chart.layout(undefined, { incremental: false });
    };
    clear(this.panes.results, el("div", { class: "tl-bar" }, el("strong", { text: `${name}` }),
      graph.entities.length ? el("button", { type: "button", class: "primary", "data-testid": "result-to-chart",
        text: `Show ${plural(graph.entities.length, "entity")} in the chart`, onclick: () => this.act(show) }) : null),
    resultTables(data, session.timeZone));
    this.showTab("results");
  }

  // --- workspaces ---------------------------------------------------------------------------------
  async saveWorkspace() {
    const name = this.workspaceName.value.trim();
    if (!name) throw new ApiError("BAD_INPUT", "Name the workspace first.");
    if (!this.chart.size) throw new ApiError("BAD_INPUT", "The chart is empty.");
    const saved = (await api.request(Q.saveWorkspace, { name, chart: this.chart.toWorkspace(), scope: session.scope })).saveWorkspace;
    this.note(`Saved workspace “${saved.name}” (${plural(saved.nodes, "entity")}) at ${localTime(saved.updatedAt, session.timeZone)}.`);
    await this.renderWorkspaces();
  }

  async renderWorkspaces() {
    if (!session.purpose) {
      clear(this.workspaces, el("p", { class: "muted", text: "State a purpose to list the workspaces of this scope." }));
      return;
    }
    try {
      const list = (await api.request(Q.workspaces, { scope: session.scope })).workspaces;
      const zone = session.timeZone;
      clear(this.workspaces, list.length ? list.map((w) => el("div", { class: "ws-item", "data-name": w.name },
        el("strong", { text: w.name }), ` · ${plural(w.nodes, "entity")}`,
        el("div", { class: "muted", text: `saved by ${w.updatedBy} ${localTime(w.updatedAt, zone)} · regions ${w.regions.join(", ")}` }),
        el("button", { type: "button", text: "Open", "data-testid": "open-workspace", onclick: () => this.act(() => this.openWorkspace(w.id)) }),
        el("button", { type: "button", text: "Delete", onclick: () => this.act(async () => {
          await api.request(Q.deleteWorkspace, { id: w.id, scope: session.scope });
          await this.renderWorkspaces();
        }) }))) : el("p", { class: "muted", text: "No saved workspaces in this scope." }));
    } catch (err) {
      showError(this.workspaces, err);
    }
  }

  async openWorkspace(id) {
    const w = (await api.request(Q.workspace, { id, scope: session.scope })).workspace;
    this.chart.fromWorkspace(w.chart);
    this.layoutSelect.value = this.chart.layoutName;
    this.workspaceName.value = w.name;
    this.note(`Opened “${w.name}”, saved by ${w.updatedBy} ${localTime(w.updatedAt, session.timeZone)}.`);
  }
}

// "A –USES→ B ←CALLED– C": each step with its relationship type and direction.
function pathText(p) {
  const name = (n) => n.label || n.key;
  return p.nodes.map((n, i) => {
    const r = p.rels[i];
    if (!r) return name(n);
    const forward = r.from.kind === n.kind && r.from.key === n.key;
    return `${name(n)} ${forward ? `–${r.type}→` : `←${r.type}–`} `;
  }).join("");
}

session.listeners.push(() => {
  const wb = window.fusionWorkbench;
  if (wb && wb.chart) { wb.updateFoot(); if (wb.workspaces) wb.renderWorkspaces(); }
});

new Workbench().start();
