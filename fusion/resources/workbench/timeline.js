// The timeline: a canvas with one lane per event type, zoomed with the wheel or buttons, panned
// by dragging the time axis, brushed by dragging over the lanes (the brush filters the chart).
// Times are drawn in the data's local time zone; the events arrive in UTC.

import { el, clear, localTime, zoneOffset } from "./util.js";

const LANES = ["CALL", "SMS", "PARCEL", "SIGHTING", "CASE"];
const COLORS = { CALL: "#2a9d8f", SMS: "#3d8bd9", PARCEL: "#8e6c3a", SIGHTING: "#6c5ce7", CASE: "#c0392b" };
const AXIS = 26, LANE = 24, LEFT = 74;
const STEPS = [60e3, 5 * 60e3, 15 * 60e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3,
  86400e3, 2 * 86400e3, 7 * 86400e3, 14 * 86400e3, 30 * 86400e3];

export class Timeline {
  constructor(root, { timeZone, onBrush, onPick }) {
    this.timeZone = timeZone;
    this.onBrush = onBrush;
    this.onPick = onPick;
    this.events = [];
    this.brush = null;
    this.title = el("span", { class: "tl-title", text: "Select an entity to see its timeline." });
    this.zone = el("span", { class: "muted" });
    const button = (text, title, f) => el("button", { type: "button", title, onclick: f, text });
    this.canvas = el("canvas", { class: "tl-canvas", "data-testid": "timeline-canvas" });
    this.list = el("div", { class: "tl-list", "data-testid": "timeline-list" });
    root.append(el("div", { class: "tl-bar" }, this.title, this.zone,
      el("span", { class: "spacer" }),
      button("+", "Zoom in", () => this.zoom(0.5)), button("−", "Zoom out", () => this.zoom(2)),
      button("Fit", "Show every event", () => this.fit()),
      button("Clear brush", "Show the whole chart again", () => this.setBrush(null))),
      this.canvas, this.list);
    this.bind();
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  show(title, events) {
    this.title.textContent = title;
    this.events = events.map((e) => ({ ...e, time: new Date(e.at) })).sort((a, b) => a.time - b.time);
    if (this.brush) this.onBrush(null, this.events);  // a new timeline undims the chart
    this.brush = null;
    this.fit();
  }

  fit() {
    if (!this.events.length) { this.range = null; this.draw(); return; }
    const first = this.events[0].time.getTime(), last = this.events.at(-1).time.getTime();
    const pad = Math.max((last - first) * 0.04, 3600e3);
    this.range = [first - pad, last + pad];
    this.draw();
  }

  zoom(factor, centre = null) {
    if (!this.range) return;
    const [a, b] = this.range;
    const c = centre ?? (a + b) / 2;
    const span = Math.max((b - a) * factor, 60e3);
    const left = (c - a) / (b - a);
    this.range = [c - span * left, c + span * (1 - left)];
    this.draw();
  }

  setBrush(range) {
    this.brush = range;
    this.draw();
    this.onBrush(range ? range.map((t) => new Date(t)) : null, this.inBrush());
  }

  inBrush() {
    if (!this.brush) return this.events;
    const [a, b] = this.brush;
    return this.events.filter((e) => e.time >= a && e.time <= b);
  }

  x(t) { const [a, b] = this.range; return LEFT + ((t - a) / (b - a)) * (this.width - LEFT - 8); }
  t(x) { const [a, b] = this.range; return a + ((x - LEFT) / (this.width - LEFT - 8)) * (b - a); }

  bind() {
    let drag = null;
    this.canvas.addEventListener("wheel", (ev) => {
      if (!this.range) return;
      ev.preventDefault();
      this.zoom(ev.deltaY > 0 ? 1.25 : 0.8, this.t(ev.offsetX));
    }, { passive: false });
    this.canvas.addEventListener("pointerdown", (ev) => {
      if (!this.range) return;
      this.canvas.setPointerCapture(ev.pointerId);
      drag = { x: ev.offsetX, pan: ev.offsetY < AXIS || ev.shiftKey, range: [...this.range] };
    });
    this.canvas.addEventListener("pointermove", (ev) => {
      if (!drag) { this.hover(ev); return; }
      if (drag.pan) {
        const dt = this.t(drag.x) - this.t(ev.offsetX);
        this.range = [drag.range[0] + dt, drag.range[1] + dt];
        this.draw();
      } else {
        const [a, b] = [this.t(drag.x), this.t(ev.offsetX)].sort((p, q) => p - q);
        this.brush = [a, b];
        this.draw();
      }
    });
    this.canvas.addEventListener("pointerup", (ev) => {
      const moved = drag && Math.abs(ev.offsetX - drag.x) > 3;
      if (drag && !drag.pan) {
        if (moved) this.setBrush(this.brush);
        else this.pick(ev);
      }
      drag = null;
    });
  }

  eventAt(ev) {
    const lane = Math.floor((ev.offsetY - AXIS) / LANE);
    if (lane < 0 || lane >= LANES.length) return null;
    let best = null, bestDx = 6;
    for (const e of this.events) {
      if (e.type !== LANES[lane]) continue;
      const dx = Math.abs(this.x(e.time.getTime()) - ev.offsetX);
      if (dx < bestDx) { best = e; bestDx = dx; }
    }
    return best;
  }

  hover(ev) {
    const e = this.range && this.eventAt(ev);
    this.canvas.title = e ? `${localTime(e.at, this.timeZone())}  ${e.summary}` : "";
  }

  pick(ev) {
    const e = this.eventAt(ev);
    if (e) this.onPick(e);
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    this.width = this.canvas.clientWidth;
    const height = AXIS + LANE * LANES.length + 4;
    this.canvas.style.height = `${height}px`;
    this.canvas.width = this.width * ratio;
    this.canvas.height = height * ratio;
    const g = this.canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, this.width, height);
    g.font = "11px system-ui, sans-serif";
    const zone = this.timeZone();
    this.zone.textContent = `times in ${zone} (UTC${zoneOffset(zone)})`;
    LANES.forEach((lane, i) => {
      const y = AXIS + i * LANE;
      g.fillStyle = i % 2 ? "#f7f9fb" : "#eef2f6";
      g.fillRect(0, y, this.width, LANE);
      g.fillStyle = "#334";
      g.fillText(lane, 6, y + 16);
    });
    if (this.range) {
      this.drawAxis(g, zone, height);
      if (this.brush) {
        g.fillStyle = "rgba(241, 196, 15, 0.25)";
        const [a, b] = this.brush.map((t) => this.x(t));
        g.fillRect(a, AXIS, Math.max(b - a, 1), height - AXIS);
      }
      for (const e of this.events) {
        const x = this.x(e.time.getTime());
        if (x < LEFT || x > this.width) continue;
        const y = AXIS + LANES.indexOf(e.type) * LANE;
        g.fillStyle = COLORS[e.type] || "#555";
        g.fillRect(x - 1.5, y + 4, 3, LANE - 8);
      }
    }
    this.renderList();
  }

  drawAxis(g, zone, height) {
    const [a, b] = this.range;
    const span = b - a;
    const step = STEPS.find((s) => span / s <= Math.max(this.width / 110, 2)) || STEPS.at(-1);
    // Ticks fall on local boundaries: shift by the zone's offset at the range's start.
    const offset = offsetMs(zone, new Date(a));
    const first = Math.ceil((a + offset) / step) * step - offset;
    g.strokeStyle = "#c8d0d8";
    g.fillStyle = "#334";
    for (let t = first; t <= b; t += step) {
      const x = this.x(t);
      if (x < LEFT) continue;
      g.beginPath(); g.moveTo(x, AXIS - 4); g.lineTo(x, height); g.stroke();
      const text = localTime(new Date(t), zone, false);
      g.fillText(step >= 86400e3 ? text.slice(0, 10) : text.slice(5, 16), x + 2, 14);
    }
  }

  renderList() {
    const shown = this.inBrush().filter((e) => !this.range ||
      (e.time.getTime() >= this.range[0] && e.time.getTime() <= this.range[1]));
    const zone = this.timeZone();
    const rows = shown.slice(0, 300).map((e) => el("tr", { class: "tl-row", onclick: () => this.onPick(e) },
      el("td", { class: "nowrap", text: localTime(e.at, zone) }),
      el("td", {}, el("span", { class: `badge t-${e.type}`, text: e.type })),
      el("td", { text: e.summary })));
    clear(this.list, this.events.length ? el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, el("th", { text: `Local time (${zone})` }), el("th", { text: "Type" }),
        el("th", { text: `${shown.length} event(s)${this.brush ? " in the brushed range" : ""}` }))),
      el("tbody", {}, rows)) : null);
  }
}

function offsetMs(zone, date) {
  const text = zoneOffset(zone, date);
  const m = /([+-])(\d{2}):?(\d{2})?/.exec(text);
  if (!m) return 0;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 3600e3 + Number(m[3] || 0) * 60e3);
}
