// The side panels: search with kind filters, the entity card, and errors shown in place.

import { Q } from "./api.js";
import { KINDS } from "./style.js";
import { el, clear, localTime, plural } from "./util.js";

export function showError(container, err) {
  const code = err.code || "INTERNAL";
  clear(container, el("div", { class: "error", role: "alert", "data-code": code },
    el("strong", { text: code }), " ", err.message || String(err),
    err.requestId ? el("span", { class: "muted", text: ` (request ${err.requestId})` }) : null));
}

export function busy(container, text) {
  clear(container, el("div", { class: "muted busy", text }));
}

export class SearchPanel {
  constructor(root, { api, session, onPick, onAdd }) {
    Object.assign(this, { api, session, onPick, onAdd });
    this.text = el("input", { type: "search", placeholder: "Name, phone, plate, id number…",
      "data-testid": "search-text", "aria-label": "Search text" });
    this.kinds = Object.entries(KINDS).map(([kind, k]) => el("label", { class: "chip" },
      el("input", { type: "checkbox", value: kind, "data-testid": `kind-${kind}` }), k.name));
    this.results = el("ul", { class: "picklist", "data-testid": "search-results" });
    this.status = el("div", { class: "status" });
    const form = el("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); this.run(); } },
      el("div", { class: "row" }, this.text, el("button", { type: "submit", class: "primary", text: "Search" })),
      el("div", { class: "chips", title: "Only these kinds (none ticked: all)" }, this.kinds));
    root.append(el("h3", { text: "Search" }), form, this.status, this.results);
  }

  async run() {
    const text = this.text.value.trim();
    if (!text) { showError(this.status, { code: "BAD_INPUT", message: "Type something to search for." }); return; }
    const kinds = this.kinds.map((c) => c.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    busy(this.status, "Searching…");
    clear(this.results);
    try {
      const data = await this.api.request(Q.search, { text, kinds: kinds.length ? kinds : null, scope: this.session.scope });
      clear(this.status, el("span", { class: "muted", text: `${plural(data.search.length, "hit")} in ${this.session.scopeLabel}` }));
      clear(this.results, data.search.map((e) => el("li", { class: "pick", "data-key": e.key },
        el("span", { class: `kind k-${e.kind}`, text: KINDS[e.kind].name }),
        el("button", { type: "button", class: "linkish", title: "Show its card", onclick: () => this.onPick(e),
          text: e.label && e.label !== e.key ? `${e.label} · ${e.key}` : e.key }),
        el("button", { type: "button", class: "add", title: "Add to the chart", "data-testid": "add-to-chart",
          onclick: () => this.onAdd(e), text: "+ chart" }))));
    } catch (err) {
      showError(this.status, err);
    }
  }
}

const RELATED = {
  PERSON: ["phones", "vehicles", "addresses", "cases"], PHONE: ["users", "cases"], VEHICLE: ["owners"],
  CASE: ["people", "phones", "addresses"], PARCEL: ["senders", "receivers"], SENSOR: [],
  ADDRESS: ["residents", "cases"],
};
const FIELDS = { PERSON: ["name"], CASE: ["caseType", "reportedAt", "summary"],
  PARCEL: ["carrier", "shippedAt", "deliveredAt"], SENSOR: ["lat", "lon"] };

export class EntityCard {
  constructor(root, { api, session, onAdd, onTimeline }) {
    Object.assign(this, { api, session, onAdd, onTimeline });
    this.body = el("div", { class: "card", "data-testid": "entity-card" },
      el("p", { class: "muted", text: "Pick a search hit or a chart node to see its card." }));
    root.append(el("h3", { text: "Entity" }), this.body);
  }

  async show(ref) {
    busy(this.body, `Reading ${ref.kind.toLowerCase()} ${ref.key}…`);
    try {
      const data = await this.api.request(Q.card, { ref: { kind: ref.kind, key: ref.key }, scope: this.session.scope });
      this.render(data.entity);
    } catch (err) {
      showError(this.body, err);
    }
  }

  render(e) {
    const zone = this.session.timeZone;
    const rows = [];
    const add = (name, value) => rows.push(el("tr", {}, el("th", { text: name }), el("td", { text: value })));
    add("Key", e.key);
    for (const f of FIELDS[e.kind] || []) {
      if (e[f] === null || e[f] === undefined) continue;
      add(f, /At$/.test(f) ? localTime(e[f], zone) : String(e[f]));
    }
    for (const [name, value] of Object.entries(e.properties || {})) {
      if (name === "name") continue;
      add(name, typeof value === "object" ? JSON.stringify(value) : String(value));
    }
    add("Provenance", `records of region${e.regions.length === 1 ? "" : "s"} ${e.regions.join(", ")}`);
    const counts = (RELATED[e.kind] || []).map((r) => `${(e[r] || []).length} ${r}`);
    clear(this.body,
      el("div", { class: "card-head" }, el("span", { class: `kind k-${e.kind}`, text: KINDS[e.kind].name }),
        el("strong", { text: e.label || e.key })),
      el("table", { class: "props" }, rows),
      counts.length ? el("p", { class: "counts", "data-testid": "card-counts",
        text: `In ${this.session.scopeLabel}: ${counts.join(" · ")}` }) : null,
      el("div", { class: "row" },
        el("button", { type: "button", text: "+ chart", onclick: () => this.onAdd(e) }),
        el("button", { type: "button", text: "Timeline", onclick: () => this.onTimeline([e]) })));
  }
}
