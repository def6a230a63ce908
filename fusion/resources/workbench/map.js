// The map: sightings and co-travel meeting points at the sensors' coordinates, on a plain Web
// Mercator canvas (no internet, so no tiles unless a tile URL is set): sensor clusters sized by
// the number of events, an outline (convex hull) per region, a scale bar; wheel zooms, drag pans.

import { el, clear, localTime } from "./util.js";

const TILE = 256;

function project(lat, lon) {
  const s = Math.sin((Math.max(Math.min(lat, 85), -85) * Math.PI) / 180);
  return { x: ((lon + 180) / 360) * TILE, y: (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE };
}

export class MapView {
  constructor(root, { timeZone, tileUrl }) {
    this.timeZone = timeZone;
    this.tileUrl = tileUrl;
    this.points = [];
    this.tiles = new Map();
    this.title = el("span", { class: "tl-title", text: "Sightings and meeting points appear here." });
    this.canvas = el("canvas", { class: "map-canvas", "data-testid": "map-canvas" });
    this.legend = el("div", { class: "map-legend" });
    root.append(el("div", { class: "tl-bar" }, this.title, el("span", { class: "spacer" }),
      el("button", { type: "button", text: "Fit", onclick: () => this.fit() })), this.canvas, this.legend);
    this.bind();
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  // points: [{lat, lon, sensor, region, kind: "sighting" | "meeting", at, label}]
  show(title, points) {
    this.title.textContent = title;
    this.points = points.filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon));
    this.fit();
  }

  fit() {
    const w = this.canvas.clientWidth || 600, h = this.canvas.clientHeight || 300;
    if (!this.points.length) { this.view = null; this.draw(); return; }
    const xs = this.points.map((p) => project(p.lat, p.lon));
    const minX = Math.min(...xs.map((p) => p.x)), maxX = Math.max(...xs.map((p) => p.x));
    const minY = Math.min(...xs.map((p) => p.y)), maxY = Math.max(...xs.map((p) => p.y));
    const scale = Math.min((w - 60) / Math.max(maxX - minX, 1e-4), (h - 60) / Math.max(maxY - minY, 1e-4), 2 ** 18);
    this.view = { scale, cx: (minX + maxX) / 2, cy: (minY + maxY) / 2 };
    this.draw();
  }

  screen(p) {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    const q = project(p.lat, p.lon);
    return { x: w / 2 + (q.x - this.view.cx) * this.view.scale, y: h / 2 + (q.y - this.view.cy) * this.view.scale };
  }

  bind() {
    let drag = null;
    this.canvas.addEventListener("wheel", (ev) => {
      if (!this.view) return;
      ev.preventDefault();
      this.view.scale *= ev.deltaY > 0 ? 0.8 : 1.25;
      this.draw();
    }, { passive: false });
    this.canvas.addEventListener("pointerdown", (ev) => {
      if (!this.view) return;
      this.canvas.setPointerCapture(ev.pointerId);
      drag = { x: ev.offsetX, y: ev.offsetY, cx: this.view.cx, cy: this.view.cy };
    });
    this.canvas.addEventListener("pointermove", (ev) => {
      if (!drag) { this.hover(ev); return; }
      this.view.cx = drag.cx - (ev.offsetX - drag.x) / this.view.scale;
      this.view.cy = drag.cy - (ev.offsetY - drag.y) / this.view.scale;
      this.draw();
    });
    this.canvas.addEventListener("pointerup", () => { drag = null; });
  }

  clusters() {
    const bySensor = new Map();
    for (const p of this.points) {
      const key = `${p.sensor}|${p.kind}`;
      if (!bySensor.has(key)) bySensor.set(key, { ...p, count: 0, times: [] });
      const c = bySensor.get(key);
      c.count += 1;
      c.times.push(p.at);
    }
    return [...bySensor.values()];
  }

  hover(ev) {
    if (!this.view) return;
    const near = this.clusters().find((c) => {
      const s = this.screen(c);
      return Math.hypot(s.x - ev.offsetX, s.y - ev.offsetY) < 8;
    });
    this.canvas.title = near ? `${near.sensor}: ${near.count} ${near.kind}(s), first ` +
      `${localTime(near.times.sort()[0], this.timeZone())}` : "";
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    this.canvas.width = w * ratio;
    this.canvas.height = h * ratio;
    const g = this.canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.fillStyle = "#f4f1ea";
    g.fillRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    if (!this.view) { this.renderLegend([]); return; }
    if (this.tileUrl()) this.drawTiles(g, w, h);
    this.drawGraticule(g, w, h);
    this.drawRegions(g);
    const clusters = this.clusters();
    for (const c of clusters) {
      const s = this.screen(c);
      g.beginPath();
      g.arc(s.x, s.y, 4 + Math.min(Math.sqrt(c.count) * 2.5, 16), 0, 2 * Math.PI);
      g.fillStyle = c.kind === "meeting" ? "rgba(224,122,31,0.75)" : "rgba(108,92,231,0.6)";
      g.fill();
      g.strokeStyle = "#fff";
      g.stroke();
      if (c.count > 1) {
        g.fillStyle = "#222";
        g.fillText(String(c.count), s.x + 8, s.y - 6);
      }
    }
    this.drawScale(g, h);
    this.renderLegend(clusters);
  }

  drawTiles(g, w, h) {
    const z = Math.max(0, Math.min(19, Math.round(Math.log2(this.view.scale))));
    const n = 2 ** z, size = (TILE * this.view.scale) / n;
    const x0 = Math.floor(((this.view.cx - w / 2 / this.view.scale) / TILE) * n);
    const y0 = Math.floor(((this.view.cy - h / 2 / this.view.scale) / TILE) * n);
    for (let x = x0; x <= x0 + w / size + 1; x++) {
      for (let y = Math.max(y0, 0); y <= Math.min(y0 + h / size + 1, n - 1); y++) {
        const url = this.tileUrl().replace("{z}", z).replace("{x}", ((x % n) + n) % n).replace("{y}", y);
        let img = this.tiles.get(url);
        if (!img) {
          img = new Image();
          img.onload = () => this.draw();
          img.src = url;
          this.tiles.set(url, img);
        }
        if (img.complete && img.naturalWidth) {
          const sx = w / 2 + ((x / n) * TILE - this.view.cx) * this.view.scale;
          const sy = h / 2 + ((y / n) * TILE - this.view.cy) * this.view.scale;
          g.drawImage(img, sx, sy, size, size);
        }
      }
    }
  }

  drawGraticule(g, w, h) {
    g.strokeStyle = "#e1dccf";
    const degPerPx = 360 / (TILE * this.view.scale);
    const step = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10].find((s) => s / degPerPx > 80) || 10;
    const west = this.view.cx / TILE * 360 - 180 - (w / 2) * degPerPx;
    for (let lon = Math.ceil(west / step) * step; ; lon += step) {
      const x = this.screen({ lat: 0, lon }).x;
      if (x > w) break;
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, h); g.stroke();
    }
  }

  drawRegions(g) {
    const byRegion = new Map();
    for (const p of this.points) {
      if (!byRegion.has(p.region)) byRegion.set(p.region, []);
      byRegion.get(p.region).push(this.screen(p));
    }
    for (const [region, pts] of byRegion) {
      const hull = convexHull(pts);
      if (!hull.length) continue;
      g.beginPath();
      hull.forEach((p, i) => (i ? g.lineTo(p.x, p.y) : g.moveTo(p.x, p.y)));
      g.closePath();
      g.strokeStyle = "#7a8a99";
      g.setLineDash([5, 4]);
      g.lineWidth = 1.5;
      g.stroke();
      g.setLineDash([]);
      g.lineWidth = 1;
      const top = hull.reduce((a, b) => (b.y < a.y ? b : a));
      g.fillStyle = "#55636f";
      g.fillText(`region ${region}`, top.x + 6, top.y - 12);
    }
  }

  drawScale(g, h) {
    const centre = this.view.cy / TILE;
    const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * centre))) * 180) / Math.PI;
    const metresPerPx = (40075016.7 * Math.cos((lat * Math.PI) / 180)) / (TILE * this.view.scale);
    const target = metresPerPx * 120;
    const nice = [10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6]
      .reduce((a, b) => (b <= target ? b : a), 10);
    const px = nice / metresPerPx;
    g.fillStyle = "#222";
    g.fillRect(12, h - 18, px, 3);
    g.fillText(nice >= 1000 ? `${nice / 1000} km` : `${nice} m`, 12, h - 24);
  }

  renderLegend(clusters) {
    const sightings = clusters.filter((c) => c.kind === "sighting").reduce((n, c) => n + c.count, 0);
    const meetings = clusters.filter((c) => c.kind === "meeting").reduce((n, c) => n + c.count, 0);
    clear(this.legend,
      el("span", { class: "dot", dataset: { kind: "sighting" } }), ` ${sightings} sighting(s)  `,
      el("span", { class: "dot", dataset: { kind: "meeting" } }), ` ${meetings} meeting(s) at `,
      `${new Set(clusters.map((c) => c.sensor)).size} sensor(s)`,
      this.tileUrl() ? "" : " · no tile server configured: plain projection");
  }
}

function convexHull(points) {
  const pts = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
  const lower = [], upper = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower.at(-2), lower.at(-1), p) <= 0) lower.pop();
    lower.push(p);
  }
  for (const p of pts.reverse()) {
    while (upper.length >= 2 && cross(upper.at(-2), upper.at(-1), p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}
