// How the chart looks: one colour, shape and icon per entity kind; edge labels with counts.

export const KINDS = {
  PERSON: { color: "#2f6fb0", shape: "ellipse", name: "Person",
    icon: '<circle cx="12" cy="8" r="4"/><path d="M4 21c0-4.4 3.6-7 8-7s8 2.6 8 7z"/>' },
  PHONE: { color: "#2a9d8f", shape: "round-rectangle", name: "Phone",
    icon: '<rect x="7" y="2" width="10" height="20" rx="2"/><rect x="9" y="5" width="6" height="11" fill="#fff"/>' },
  VEHICLE: { color: "#e07a1f", shape: "round-rectangle", name: "Vehicle",
    icon: '<path d="M3 15l2-6h14l2 6v4H3z"/><circle cx="7" cy="19" r="2" fill="#fff"/><circle cx="17" cy="19" r="2" fill="#fff"/>' },
  CASE: { color: "#c0392b", shape: "diamond", name: "Case",
    icon: '<path d="M3 6h7l2 2h9v12H3z"/>' },
  PARCEL: { color: "#8e6c3a", shape: "hexagon", name: "Parcel",
    icon: '<path d="M12 2l9 5v10l-9 5-9-5V7z"/><path d="M3 7l9 5 9-5M12 12v10" stroke="#fff" fill="none"/>' },
  SENSOR: { color: "#6c5ce7", shape: "triangle", name: "Sensor",
    icon: '<rect x="3" y="7" width="14" height="10" rx="2"/><path d="M17 10l4-2v8l-4-2z"/>' },
  ADDRESS: { color: "#5d6d7e", shape: "tag", name: "Address",
    icon: '<path d="M3 11l9-8 9 8v10h-6v-6H9v6H3z"/>' },
};

// Distinct colours for gangs (colour-blind friendly first, then more).
export const GANG_COLORS = ["#d62728", "#9467bd", "#17becf", "#bcbd22", "#e377c2", "#8c564b",
  "#f781bf", "#ff7f0e", "#2ca02c", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39"];

export function iconUrl(kind) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="#fff">${KINDS[kind].icon}</svg>`;
  return `data:image/svg+xml;utf8,${encodeURIComponent(svg)}`;
}

// Above these sizes the chart switches to a lighter style (straight edges without arrows or
// labels, node labels only on selection, no icons): software-rendered canvases stay interactive.
export const LARGE_NODES = 400;
export const LARGE_EDGES = 1000;

const LIGHT = [
  { selector: "node", style: { label: "", "background-image": "none" } },
  { selector: "node:selected", style: { label: "data(caption)", "font-size": 12 } },
  { selector: "edge", style: { "curve-style": "haystack", "target-arrow-shape": "none", label: "",
    width: 1, "haystack-radius": 0 } },
];

export function chartStyle(large = false) {
  const byKind = Object.entries(KINDS).map(([kind, k]) => ({
    selector: `node[kind = "${kind}"]`,
    style: { "background-color": k.color, shape: k.shape, "background-image": iconUrl(kind),
      "background-width": "60%", "background-height": "60%" },
  }));
  return [
    { selector: "node", style: {
      label: "data(caption)", width: 34, height: 34, "font-size": 10, color: "#1d2733",
      "text-valign": "bottom", "text-margin-y": 4, "text-wrap": "wrap", "text-max-width": 120,
      "min-zoomed-font-size": 7, "border-width": 0, "overlay-padding": 4 } },
    ...byKind,
    { selector: "node[gangColor]", style: { "background-color": "data(gangColor)", "border-width": 3,
      "border-color": "#1d2733" } },
    { selector: "node.gangbox", style: { shape: "round-rectangle", "background-color": "data(gangColor)",
      "background-opacity": 0.08, "border-width": 2, "border-style": "dashed", "border-color": "data(gangColor)",
      label: "data(caption)", "text-valign": "top", "text-halign": "center", "text-margin-y": -4,
      "font-size": 11, "font-weight": "bold", color: "#1d2733", padding: 18, "text-wrap": "none" } },
    { selector: "node[size]", style: { width: "data(size)", height: "data(size)" } },
    { selector: "node:locked", style: { "border-width": 3, "border-style": "double", "border-color": "#111" } },
    { selector: "node:selected", style: { "underlay-color": "#f1c40f", "underlay-opacity": 0.6,
      "underlay-padding": 7 } },
    { selector: "edge", style: {
      width: "mapData(weight, 1, 20, 1.5, 7)", "line-color": "#9aa7b4", "curve-style": "bezier",
      "target-arrow-shape": "triangle", "target-arrow-color": "#9aa7b4", "arrow-scale": 0.8,
      label: "data(caption)", "font-size": 8, "text-rotation": "autorotate", color: "#4b5866",
      "text-background-color": "#fff", "text-background-opacity": 0.8,
      "text-background-padding": 1, "min-zoomed-font-size": 8, "text-wrap": "wrap" } },
    { selector: "edge[undirected]", style: { "target-arrow-shape": "none" } },
    { selector: 'edge[type = "CO_TRAVEL"]', style: { "line-color": "#e07a1f", "line-style": "dashed" } },
    { selector: 'edge[type = "GANG_LINK"]', style: { "line-color": "#b6a4d6" } },
    { selector: "edge:selected", style: { "line-color": "#f1c40f", "target-arrow-color": "#f1c40f" } },
    { selector: "edge.path", style: { "line-color": "#d35400", "target-arrow-color": "#d35400",
      width: 5, "z-index": 10 } },
    { selector: "node.path", style: { "underlay-color": "#d35400", "underlay-opacity": 0.35,
      "underlay-padding": 6 } },
    ...(large ? LIGHT : []),
    { selector: ".dimmed", style: { opacity: 0.15 } },
    { selector: ".hidden", style: { display: "none" } },
  ];
}
