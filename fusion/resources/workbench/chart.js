// The link chart: Cytoscape.js with the fCoSE force-directed layout, an undo stack, and the
// chart's own model (entities by kind:key, relationships by type:from->to) for saving and export.

import { LARGE_EDGES, LARGE_NODES, chartStyle } from "./style.js";
import { localDate } from "./util.js";

const UNDO_DEPTH = 50;

export const LAYOUTS = {
  fcose: { label: "Force-directed", options: { name: "fcose", quality: "default",
    animate: false, nodeRepulsion: 9000, idealEdgeLength: 110, numIter: 2500, packComponents: true,
    nodeDimensionsIncludeLabels: true } },
  breadthfirst: { label: "Hierarchical", options: { name: "breadthfirst", directed: true,
    spacingFactor: 1.1, animate: false } },
  circle: { label: "Circular", options: { name: "circle", animate: false } },
  concentric: { label: "Concentric (by degree)", options: { name: "concentric", animate: false,
    concentric: (n) => n.degree(), levelWidth: () => 2 } },
  grid: { label: "Grid", options: { name: "grid", animate: false } },
};

export function nodeId(kind, key) { return `${kind}:${key}`; }

export class Chart {
  constructor(container, { timeZone }) {
    if (window.cytoscapeFcose && !Chart.registered) {
      window.cytoscape.use(window.cytoscapeFcose);
      Chart.registered = true;
    }
    this.timeZone = timeZone;
    this.layoutName = "fcose";
    this.undoStack = [];
    this.listeners = { change: [] };
    this.cy = window.cytoscape({
      container, style: chartStyle(), wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 4,
      boxSelectionEnabled: true, selectionType: "additive", textureOnViewport: false,
      hideEdgesOnViewport: false,
    });
    this.cy.on("add remove data", () => this.changed());
  }

  on(event, f) { this.listeners[event].push(f); }
  changed() { clearTimeout(this.changeTimer); this.changeTimer = setTimeout(() => this.listeners.change.forEach((f) => f()), 30); }

  get size() { return this.cy.nodes("[kind]").length; }

  // --- elements --------------------------------------------------------------------------------
  addEntities(entities, near = null) {
    this.applyMode(entities.length, 0);  // before adding: styles are computed once
    const added = [];
    const centre = near && this.cy.getElementById(near).nonempty()
      ? this.cy.getElementById(near).position() : null;
    for (const e of entities) {
      const id = nodeId(e.kind, e.key);
      const existing = this.cy.getElementById(id);
      if (existing.nonempty()) {
        existing.data({ label: e.label || existing.data("label"), regions: e.regions || existing.data("regions") });
        existing.removeClass("hidden");
        continue;
      }
      const position = centre
        ? { x: centre.x + (Math.random() - 0.5) * 120, y: centre.y + (Math.random() - 0.5) * 120 }
        : undefined;
      added.push(this.cy.add({ group: "nodes", position, data: {
        id, kind: e.kind, key: e.key, label: e.label || e.key, caption: caption(e),
        regions: e.regions || [] } }));
    }
    return added;
  }

  addRels(rels) {
    this.applyMode(0, rels.length);
    return rels.map((r) => this.addEdge({ type: r.type, source: nodeId(r.from.kind, r.from.key),
      target: nodeId(r.to.kind, r.to.key), props: r.properties || {} })).filter(Boolean);
  }

  // One edge per (type, source, target); adding it again updates its data.
  addEdge({ type, source, target, props = {}, undirected = false, id = null }) {
    if (this.cy.getElementById(source).empty() || this.cy.getElementById(target).empty()) return null;
    const edgeId = id || `${type}:${source}->${target}`;
    const count = Number(props.count || props.meetings || 1);
    const data = { id: edgeId, type, source, target, props, weight: Math.min(count, 20),
      first: props.first_at || props.firstAt || props.at || null,
      last: props.last_at || props.lastAt || props.at || null, undirected: undirected || null };
    data.caption = this.edgeCaption(data);
    const existing = this.cy.getElementById(edgeId);
    if (existing.nonempty()) { existing.data(data); return existing; }
    return this.cy.add({ group: "edges", data });
  }

  edgeCaption(d) {
    const count = d.props.count || d.props.meetings;
    const head = `${d.type}${count > 1 ? ` ×${count}` : ""}`;
    if (!d.first) return head;
    const first = localDate(d.first, this.timeZone());
    const last = localDate(d.last || d.first, this.timeZone());
    return `${head}\n${first === last ? first : `${first} – ${last}`}`;
  }

  refreshCaptions() {
    this.cy.edges().forEach((e) => e.data("caption", this.edgeCaption(e.data())));
  }

  entity(id) {
    const n = this.cy.getElementById(id);
    return n.nonempty() ? { kind: n.data("kind"), key: n.data("key") } : null;
  }

  selectedNodes() { return this.cy.nodes("[kind]:selected").filter((n) => !n.hasClass("hidden")); }

  // --- editing with undo ------------------------------------------------------------------------
  snapshot() {
    return { elements: this.cy.elements().jsons(), layout: this.layoutName };
  }

  remember() {
    this.undoStack.push(this.snapshot());
    if (this.undoStack.length > UNDO_DEPTH) this.undoStack.shift();
  }

  undo() {
    const last = this.undoStack.pop();
    if (!last) return false;
    this.restore(last);
    return true;
  }

  restore(snapshot) {
    this.cy.batch(() => {
      this.cy.elements().remove();
      this.cy.add(snapshot.elements);
      this.cy.nodes().forEach((n) => {
        const saved = snapshot.elements.find((x) => x.data.id === n.id());
        if (saved && saved.locked) n.lock();
      });
    });
    this.layoutName = snapshot.layout || this.layoutName;
  }

  hideSelected() { this.remember(); this.cy.elements(":selected").addClass("hidden").unselect(); }
  showHidden() { this.remember(); this.cy.elements(".hidden").removeClass("hidden"); }
  togglePinSelected() {
    this.remember();
    this.selectedNodes().forEach((n) => (n.locked() ? n.unlock() : n.lock()));
    this.changed();
  }
  removeSelected() {
    this.remember();
    this.cy.elements(":selected").remove();
    this.dropEmptyGangBoxes();
  }
  clearAll() { this.remember(); this.cy.elements().remove(); }

  // --- layout -----------------------------------------------------------------------------------
  // Runs the named layout over the visible elements; resolves when it has stopped.
  layout(name = this.layoutName, { incremental = false, fit = true } = {}) {
    this.layoutName = name;
    const visible = this.cy.elements().filter((e) => !e.hasClass("hidden"));
    if (visible.empty()) return Promise.resolve();
    this.applyMode();
    const options = { ...LAYOUTS[name].options, fit, padding: 30 };
    if (name === "fcose") {
      // fCoSE's force phase grows quadratically: large charts get its spectral draft only.
      const large = visible.nodes().length > LARGE_NODES;
      options.randomize = !incremental || large;
      options.quality = large ? "draft" : "default";
      if (large) options.samplingType = false;
      const pinned = visible.nodes(":locked");
      if (pinned.nonempty()) {
        options.fixedNodeConstraint = pinned.map((n) => ({ nodeId: n.id(), position: { ...n.position() } }));
      }
    }
    const layout = visible.layout(options);
    const done = new Promise((resolve) => layout.one("layoutstop", resolve));
    layout.run();
    return done.then(() => { if (fit) this.limitZoom(); });
  }

  fit() { this.cy.fit(this.cy.elements(":visible"), 30); this.limitZoom(); }

  // A chart of one or two entities is not blown up to fill the window.
  limitZoom(most = 1.5) {
    if (this.cy.zoom() > most) {
      this.cy.zoom(most);
      this.cy.center(this.cy.elements(":visible"));
    }
  }

  // The light style for large charts, the full one otherwise.
  applyMode(moreNodes = 0, moreEdges = 0) {
    const large = this.cy.nodes().length + moreNodes > LARGE_NODES ||
      this.cy.edges().length + moreEdges > LARGE_EDGES;
    if (large !== this.large) {
      this.large = large;
      this.cy.style(chartStyle(large));
    }
  }

  // --- gangs ------------------------------------------------------------------------------------
  // Members of one gang share a box (a compound node) labelled with the gang's figures; each
  // member is filled with the gang's colour and sized by its key-player score.
  setGangs(gangs) {
    const cy = this.cy;
    cy.batch(() => {
      cy.nodes("[kind]").forEach((n) => { if (n.parent().nonempty()) n.move({ parent: null }); });
      cy.nodes(".gangbox").remove();
      cy.nodes("[kind]").removeData("gang gangColor size gangCaption");
      for (const g of gangs) {
        const members = g.members.map((m) => [m, cy.getElementById(nodeId("PERSON", m.person.key))])
          .filter(([, n]) => n.nonempty());
        if (!members.length) continue;
        const top = Math.max(...g.members.map((m) => m.score), 1e-9);
        const box = this.gangBox(g.id, g.color, `${g.id} · ${g.size} members · cohesion ${g.cohesion.toFixed(2)}`);
        for (const [m, n] of members) {
          n.data({ gang: g.id, gangColor: g.color, gangCaption: box.data("caption"),
            size: Math.round(30 + 30 * (m.score / top)) });
          n.move({ parent: box.id() });
        }
      }
    });
  }

  gangBox(id, color, caption) {
    const boxId = `GANG:${id}`;
    const existing = this.cy.getElementById(boxId);
    if (existing.nonempty()) return existing;
    return this.cy.add({ group: "nodes", classes: "gangbox", data: { id: boxId, gangColor: color, caption } });
  }

  dropEmptyGangBoxes() {
    this.cy.nodes(".gangbox").filter((b) => b.children().empty()).remove();
  }

  // --- overlays ---------------------------------------------------------------------------------
  markPath(elements) {
    this.cy.elements(".path").removeClass("path");
    elements.forEach((id) => this.cy.getElementById(id).addClass("path"));
  }

  // Time brush: dim what the range [from, to] (Dates) does not touch; null clears it.
  dimOutside(range, eventEntityIds) {
    this.cy.batch(() => {
      this.cy.elements().removeClass("dimmed");
      if (!range) return;
      const [from, to] = range;
      this.cy.edges().forEach((e) => {
        const first = e.data("first") ? new Date(e.data("first")) : null;
        const last = e.data("last") ? new Date(e.data("last")) : first;
        if (!first || last < from || first > to) e.addClass("dimmed");
      });
      this.cy.nodes().forEach((n) => {
        const touched = eventEntityIds.has(n.id()) || n.connectedEdges(":visible").some((e) => !e.hasClass("dimmed"));
        if (!touched) n.addClass("dimmed");
      });
    });
  }

  // --- saving -----------------------------------------------------------------------------------
  toWorkspace() {
    const nodes = this.cy.nodes("[kind]").map((n) => ({ kind: n.data("kind"), key: n.data("key"),
      label: n.data("label"), regions: n.data("regions"), x: Math.round(n.position("x")),
      y: Math.round(n.position("y")), hidden: n.hasClass("hidden") || undefined,
      pinned: n.locked() || undefined, gang: n.data("gang"), gangColor: n.data("gangColor"),
      gangCaption: n.data("gangCaption"), size: n.data("size") }));
    const edges = this.cy.edges().map((e) => ({ id: e.id(), type: e.data("type"),
      source: e.data("source"), target: e.data("target"), props: e.data("props"),
      undirected: e.data("undirected") || undefined, hidden: e.hasClass("hidden") || undefined }));
    return { version: 1, layout: this.layoutName, nodes, edges };
  }

  fromWorkspace(chart) {
    this.remember();
    this.cy.batch(() => {
      this.cy.elements().remove();
      for (const n of chart.nodes) {
        const node = this.cy.add({ group: "nodes", position: { x: n.x || 0, y: n.y || 0 }, data: {
          id: nodeId(n.kind, n.key), kind: n.kind, key: n.key, label: n.label || n.key,
          caption: caption(n), regions: n.regions || [], gang: n.gang, gangColor: n.gangColor,
          size: n.size } });
        if (n.hidden) node.addClass("hidden");
        if (n.pinned) node.lock();
        if (n.gang) {
          node.data("gangCaption", n.gangCaption);
          node.move({ parent: this.gangBox(n.gang, n.gangColor, n.gangCaption || n.gang).id() });
        }
      }
      for (const e of chart.edges || []) {
        const edge = this.addEdge(e);
        if (edge && e.hidden) edge.addClass("hidden");
      }
    });
    this.layoutName = chart.layout || this.layoutName;
    this.applyMode();
    this.fit();
  }
}

function caption(e) {
  const label = e.label || e.key;
  return label === e.key ? label : `${label}\n${e.key}`;
}
