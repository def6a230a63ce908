// Downloads of the chart as analysts' tools read it: GraphML (yEd, Gephi, networkx), GEXF
// (Gephi), CSV (Excel: UTF-8 with a BOM so a Chinese Windows opens it right) and PNG.

import { csvField, download } from "./util.js";

const NODE_ATTRS = ["kind", "key", "label", "regions", "gang"];
const EDGE_ATTRS = ["type", "count", "first_at", "last_at", "regions"];

function xml(text) {
  return String(text ?? "").replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;",
    '"': "&quot;", "'": "&apos;" })[c]).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "");
}

function nodeValues(n) {
  return { kind: n.data("kind"), key: n.data("key"), label: n.data("label"),
    regions: (n.data("regions") || []).join(";"), gang: n.data("gang") || "" };
}

function edgeValues(e) {
  const p = e.data("props") || {};
  return { type: e.data("type"), count: p.count ?? p.meetings ?? "", first_at: e.data("first") || "",
    last_at: e.data("last") || "", regions: (p.regions || []).join(";") };
}

function visible(cy) {
  const nodes = cy.nodes("[kind]").filter((n) => !n.hasClass("hidden"));
  const edges = cy.edges().filter((e) => !e.hasClass("hidden") && !e.source().hasClass("hidden") &&
    !e.target().hasClass("hidden"));
  return { nodes, edges };
}

export function graphml(cy) {
  const { nodes, edges } = visible(cy);
  const keys = [...NODE_ATTRS.map((a) => `  <key id="n_${a}" for="node" attr.name="${a}" attr.type="string"/>`),
    ...EDGE_ATTRS.map((a) => `  <key id="e_${a}" for="edge" attr.name="${a}" attr.type="string"/>`)];
  const data = (prefix, values) => Object.entries(values)
    .map(([k, v]) => `<data key="${prefix}_${k}">${xml(v)}</data>`).join("");
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">', ...keys,
    '  <graph id="fusion-chart" edgedefault="directed">',
    ...nodes.map((n) => `    <node id="${xml(n.id())}">${data("n", nodeValues(n))}</node>`),
    ...edges.map((e) => `    <edge id="${xml(e.id())}" source="${xml(e.data("source"))}" ` +
      `target="${xml(e.data("target"))}">${data("e", edgeValues(e))}</edge>`),
    "  </graph>", "</graphml>", ""];
  return lines.join("\n");
}

export function gexf(cy) {
  const { nodes, edges } = visible(cy);
  const attrs = (cls, names) => `    <attributes class="${cls}">\n` + names.map((a, i) =>
    `      <attribute id="${i}" title="${a}" type="string"/>`).join("\n") + "\n    </attributes>";
  const values = (names, v) => "<attvalues>" + names.map((a, i) =>
    `<attvalue for="${i}" value="${xml(v[a])}"/>`).join("") + "</attvalues>";
  return ['<?xml version="1.0" encoding="UTF-8"?>',
    '<gexf xmlns="http://gexf.net/1.3" version="1.3">',
    '  <graph defaultedgetype="directed">', attrs("node", NODE_ATTRS), attrs("edge", EDGE_ATTRS),
    "    <nodes>",
    ...nodes.map((n) => `      <node id="${xml(n.id())}" label="${xml(n.data("label"))}">` +
      `${values(NODE_ATTRS, nodeValues(n))}</node>`),
    "    </nodes>", "    <edges>",
    ...edges.map((e) => `      <edge id="${xml(e.id())}" source="${xml(e.data("source"))}" ` +
      `target="${xml(e.data("target"))}" label="${xml(e.data("type"))}">` +
      `${values(EDGE_ATTRS, edgeValues(e))}</edge>`),
    "    </edges>", "  </graph>", "</gexf>", ""].join("\n");
}

// One table: a row per relationship with both ends' attributes, then a row per entity that has
// no relationship on the chart (empty target columns).
export function csv(cy) {
  const { nodes, edges } = visible(cy);
  const header = ["source", ...NODE_ATTRS.map((a) => `source_${a}`), "target",
    ...NODE_ATTRS.map((a) => `target_${a}`), ...EDGE_ATTRS];
  const rows = [header];
  const ends = (n) => [n.id(), ...NODE_ATTRS.map((a) => nodeValues(n)[a])];
  edges.forEach((e) => rows.push([...ends(e.source()), ...ends(e.target()),
    ...EDGE_ATTRS.map((a) => edgeValues(e)[a])]));
  nodes.filter((n) => n.connectedEdges().filter((e) => edges.contains(e)).empty())
    .forEach((n) => rows.push([...ends(n), ...Array(header.length - 1 - NODE_ATTRS.length).fill("")]));
  return "\uFEFF" + rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

export function exportChart(cy, format, name = "fusion-chart") {
  if (format === "graphml") download(graphml(cy), `${name}.graphml`, "application/graphml+xml");
  else if (format === "gexf") download(gexf(cy), `${name}.gexf`, "application/gexf+xml");
  else if (format === "csv") download(csv(cy), `${name}.csv`, "text/csv;charset=utf-8");
  else if (format === "png") download(cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff" }), `${name}.png`, "image/png");
  else throw new Error(`unknown export format ${format}`);
}
