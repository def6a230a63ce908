// Saved queries as forms: each saved query's variables become fields (an entity picker for
// EntityRef, lists for enums, the session's scope for ScopeInput), run by name with
// runSavedQuery. Operators may send only saved documents, so the list and the run use the exact
// shipped documents (SavedQueries, RunSavedQuery); the entity picker runs the saved Search.

import { el, clear, localInputToIso, localTime } from "./util.js";

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function baseType(type) { return type.replace(/[[\]!]/g, ""); }
export function isList(type) { return type.trim().startsWith("["); }
export function isRequired(type) { return type.trim().endsWith("!"); }

export class SavedQueryForms {
  constructor(root, { api, config, session, chartSelection, onResult, showError }) {
    Object.assign(this, { api, config, session, chartSelection, onResult, showError });
    this.queries = [];
    this.select = el("select", { "data-testid": "saved-select", onchange: () => this.renderForm() });
    this.description = el("p", { class: "muted" });
    this.form = el("form", { class: "saved-form", "data-testid": "saved-form",
      onsubmit: (ev) => { ev.preventDefault(); this.run(); } });
    this.status = el("div", { class: "status" });
    root.append(el("div", { class: "tl-bar" }, el("label", {}, "Saved query ", this.select),
      el("button", { type: "button", text: "Reload list", onclick: () => this.load() })),
    this.description, this.form, this.status);
  }

  async load() {
    try {
      const doc = this.config.documents.SavedQueries;
      const data = await this.api.request(doc, {}, { purpose: false });
      this.queries = data.savedQueries;
      const current = this.select.value;
      clear(this.select, this.queries.map((q) => el("option", { value: q.name, text: q.name })));
      if (current && this.queries.some((q) => q.name === current)) this.select.value = current;
      this.renderForm();
    } catch (err) {
      this.showError(this.status, err);
    }
  }

  get current() { return this.queries.find((q) => q.name === this.select.value); }

  renderForm() {
    const q = this.current;
    clear(this.status);
    if (!q) { clear(this.form); return; }
    this.description.textContent = q.description;
    this.fields = q.variables.map((v) => this.field(v));
    clear(this.form, this.fields.map((f) => f.row),
      el("div", { class: "form-actions" }, el("button", { type: "submit", class: "primary",
        "data-testid": "saved-run", text: `Run ${q.name}` })));
  }

  field(v) {
    const type = baseType(v.type);
    const required = isRequired(v.type);
    const label = el("span", { class: "field-name", text: `${v.name}${required ? " *" : ""}` });
    const hint = el("span", { class: "muted", text: v.type });
    if (type === "ScopeInput") {
      return { name: v.name, row: el("div", { class: "field" }, label,
        el("span", { text: `the session's scope (${this.session.scopeLabel})` })),
      value: () => this.session.scope };
    }
    if (type === "EntityRef") return this.entityField(v, label, hint);
    const enumValues = this.config.enums[type];
    let input;
    if (enumValues && isList(v.type)) {
      input = el("select", { multiple: true, size: Math.min(enumValues.length, 6), name: v.name },
        enumValues.map((x) => el("option", { value: x, text: x, selected: (v.default || []).includes(x) })));
    } else if (enumValues) {
      input = el("select", { name: v.name }, required ? null : el("option", { value: "", text: "—" }),
        enumValues.map((x) => el("option", { value: x, text: x, selected: v.default === x })));
    } else if (type === "Boolean") {
      input = el("input", { type: "checkbox", name: v.name, checked: v.default === true });
    } else if (type === "DateTime") {
      input = el("input", { type: "datetime-local", step: 1, name: v.name });
    } else if (type === "JSON") {
      input = el("textarea", { name: v.name, rows: 3, placeholder: "JSON" });
    } else {
      input = el("input", { name: v.name, type: type === "Int" || type === "Float" ? "number" : "text",
        step: type === "Float" ? "any" : undefined,
        placeholder: isList(v.type) ? "comma-separated" : v.default !== null ? String(v.default) : "" });
    }
    return { name: v.name, row: el("label", { class: "field" }, label, input, hint),
      value: () => this.read(v, type, input) };
  }

  read(v, type, input) {
    if (input.multiple) {
      const chosen = [...input.selectedOptions].map((o) => o.value);
      return chosen.length ? chosen : undefined;
    }
    if (input.type === "checkbox") return input.checked;
    const raw = input.value.trim();
    if (raw === "") return undefined;
    const one = (text) => {
      if (type === "Int") return parseInt(text, 10);
      if (type === "Float") return parseFloat(text);
      if (type === "DateTime") return localInputToIso(text, this.session.timeZone);
      if (type === "JSON") {
        try { return JSON.parse(text); } catch { throw new FormError(`${v.name} is not valid JSON.`); }
      }
      return text;
    };
    return isList(v.type) ? raw.split(",").map((x) => one(x.trim())).filter((x) => x !== "") : one(raw);
  }

  entityField(v, label, hint) {
    const kind = el("select", { "data-testid": `entity-kind-${v.name}` },
      this.config.enums.EntityKind.map((k) => el("option", { value: k, text: k })));
    const key = el("input", { type: "text", placeholder: "key or words to search",
      "data-testid": `entity-key-${v.name}` });
    const picks = el("div", { class: "picks" });
    const fromChart = () => {
      const sel = this.chartSelection();
      if (!sel.length) { this.showError(picks, new FormError("Select an entity on the chart first.")); return; }
      kind.value = sel[0].kind;
      key.value = sel[0].key;
      clear(picks);
    };
    const find = async () => {
      try {
        const data = await this.api.request(this.config.documents.RunSavedQuery,
          { name: "Search", variables: { text: key.value, kinds: [kind.value], limit: 10,
            scope: this.session.scope } });
        const hits = data.runSavedQuery.search || [];
        clear(picks, hits.length ? hits.map((h) => el("button", { type: "button", class: "pick",
          onclick: () => { kind.value = h.kind; key.value = h.key; clear(picks); },
          text: `${h.kind} ${h.label || h.key} (${h.key})` })) : el("span", { class: "muted", text: "No match in scope." }));
      } catch (err) {
        this.showError(picks, err);
      }
    };
    return { name: v.name, row: el("div", { class: "field" }, label, kind, key,
      el("button", { type: "button", text: "Find", onclick: find }),
      el("button", { type: "button", text: "From chart", onclick: fromChart }), hint, picks),
    value: () => (key.value.trim() ? { kind: kind.value, key: key.value.trim() } : undefined) };
  }

  async run() {
    const q = this.current;
    if (!q) return;
    const variables = {};
    try {
      for (const f of this.fields) {
        const value = f.value();
        if (value !== undefined && value !== null) variables[f.name] = value;
      }
      const missing = q.variables.filter((v) => isRequired(v.type) && variables[v.name] === undefined);
      if (missing.length) throw new FormError(`Fill in ${missing.map((v) => v.name).join(", ")}.`);
      clear(this.status, el("span", { class: "muted", text: `Running ${q.name}…` }));
      const data = await this.api.request(this.config.documents.RunSavedQuery, { name: q.name, variables });
      clear(this.status);
      this.onResult(q.name, data.runSavedQuery);
    } catch (err) {
      this.showError(this.status, err);
    }
  }
}

export class FormError extends Error {
  constructor(message) { super(message); this.code = "BAD_INPUT"; }
}

// --- results -------------------------------------------------------------------------------------

const KINDS = new Set(["PERSON", "PHONE", "VEHICLE", "CASE", "PARCEL", "SENSOR", "ADDRESS"]);
export function isEntity(x) { return x && typeof x === "object" && KINDS.has(x.kind) && typeof x.key === "string"; }

// Entities, relationships and co-travel pairs anywhere in a result.
export function graphOf(data) {
  const entities = new Map(), rels = [], pairs = [];
  const walk = (x) => {
    if (Array.isArray(x)) { x.forEach(walk); return; }
    if (!x || typeof x !== "object") return;
    if (isEntity(x)) entities.set(`${x.kind}:${x.key}`, { ...entities.get(`${x.kind}:${x.key}`), ...x });
    if (typeof x.type === "string" && isEntity(x.from) && isEntity(x.to)) rels.push(x);
    if (isEntity(x.a) && isEntity(x.b)) pairs.push(x);
    Object.values(x).forEach(walk);
  };
  walk(data);
  return { entities: [...entities.values()], rels, pairs };
}

function cell(value, timeZone) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string" && ISO_TIME.test(value)) return localTime(value, timeZone);
  if (isEntity(value)) return `${value.label || value.key} (${value.kind})`;
  if (Array.isArray(value)) {
    if (value.length <= 4 && value.every((v) => typeof v !== "object" || isEntity(v))) {
      return value.map((v) => cell(v, timeZone)).join(", ");
    }
    return `${value.length} items`;
  }
  if (typeof value === "object") {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}…` : text;
  }
  return String(value);
}

// A table per top-level field of a result.
export function resultTables(data, timeZone) {
  return Object.entries(data || {}).map(([field, value]) => {
    const rows = Array.isArray(value) ? value : [value];
    const columns = [...new Set(rows.flatMap((r) => (r && typeof r === "object" ? Object.keys(r) : ["value"])))];
    return el("div", { class: "result" }, el("h4", { text: `${field} (${rows.length})` }),
      el("table", { class: "grid", "data-testid": `result-${field}` },
        el("thead", {}, el("tr", {}, columns.map((c) => el("th", { text: c })))),
        el("tbody", {}, rows.slice(0, 500).map((r) => el("tr", {}, columns.map((c) =>
          el("td", { text: cell(r && typeof r === "object" ? r[c] : r, timeZone) })))))));
  });
}
