// The Alerts tab: your alerts from watchlists and standing queries, newest first, with
// Confirm / Dismiss (a reason is required; who, when and why are kept and audited). Each action
// is a named GraphQL request with the session's token and purpose, like every other one.

import { showError } from "./panels.js";
import { clear, el, localTime } from "./util.js";

const LIST = `query WorkbenchAlerts { alerts(limit: 100) {
  id createdAt state summary sourceName subjects triagedBy triageReason } }`;
const TRIAGE = `mutation WorkbenchTriageAlert($id: ID!, $state: AlertState!, $reason: String!) {
  triageAlert(id: $id, state: $state, reason: $reason) { id state } }`;

export class AlertsPanel {
  constructor(pane, api, session) {
    this.pane = pane;
    this.api = api;
    this.session = session;
    this.status = el("div", { class: "status", "data-testid": "alerts-status" });
    this.list = el("div", { "data-testid": "alert-list" });
    this.reason = el("input", { type: "text", placeholder: "reason (required to confirm or dismiss)",
      "data-testid": "alert-reason" });
    clear(pane, el("div", { class: "toolbar" },
      el("button", { type: "button", text: "Refresh", "data-testid": "alerts-refresh", onclick: () => this.refresh() }),
      this.reason), this.status, this.list);
  }

  async refresh() {
    clear(this.status);
    try {
      const { alerts } = await this.api.request(LIST);
      clear(this.list, alerts.length ? el("table", { class: "props" },
        el("tr", {}, ["when", "state", "from", "what", ""].map((h) => el("th", { text: h }))),
        alerts.map((a) => this.row(a))) : el("p", { class: "muted", text: "No alerts." }));
    } catch (err) {
      showError(this.status, err);
    }
  }

  row(a) {
    const act = (state) => el("button", { type: "button", text: state === "CONFIRMED" ? "Confirm" : "Dismiss",
      "data-testid": `alert-${state.toLowerCase()}`, onclick: () => this.triage(a.id, state) });
    const done = a.state === "NEW" ? el("span", {}, act("CONFIRMED"), act("DISMISSED"))
      : el("span", { class: "muted", text: `${a.triagedBy}: ${a.triageReason}` });
    return el("tr", { "data-alert": a.id },
      el("td", { text: localTime(a.createdAt, this.session.timeZone) }), el("td", { text: a.state }),
      el("td", { text: a.sourceName }), el("td", { text: a.summary }), el("td", {}, done));
  }

  async triage(id, state) {
    clear(this.status);
    const reason = this.reason.value.trim();
    if (!reason) { this.reason.focus(); clear(this.status, el("span", { class: "note", text: "Say why first." })); return; }
    try {
      await this.api.request(TRIAGE, { id, state, reason });
      await this.refresh();
    } catch (err) {
      showError(this.status, err);
    }
  }
}
