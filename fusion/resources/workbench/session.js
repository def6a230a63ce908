// Who is signed in, why, and over which regions. The token lives in this tab's sessionStorage
// (it survives a reload, not the tab); so does the purpose. Display settings (time zone, tile
// URL) are the browser's, in localStorage.

const TOKEN = "fusion.token";
const PURPOSE = "fusion.purpose";
const SCOPE = "fusion.scope";
const SETTINGS = "fusion.settings";

export class Session {
  constructor(defaults) {
    this.defaults = defaults;
    this.viewer = null;
    this.listeners = [];
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("token")) {
      sessionStorage.setItem(TOKEN, fragment.get("token").trim());
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  get token() { return sessionStorage.getItem(TOKEN) || ""; }
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN, value.trim());
    else sessionStorage.removeItem(TOKEN);
  }

  get purpose() { return (sessionStorage.getItem(PURPOSE) || "").trim(); }
  set purpose(value) { sessionStorage.setItem(PURPOSE, value.trim()); }

  // The token's claims, read for display only (the service checks the token itself).
  get claims() {
    try {
      const payload = this.token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
      const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return null;
    }
  }

  get role() { return (this.viewer && this.viewer.role) || (this.claims && this.claims.role) || ""; }

  // The scope choice: "home", "region:<code>" or "joint:<id>".
  get scopeChoice() { return sessionStorage.getItem(SCOPE) || "home"; }
  set scopeChoice(value) {
    sessionStorage.setItem(SCOPE, value);
    this.listeners.forEach((f) => f());
  }

  // The ScopeInput every data request carries (null: the home regions).
  get scope() {
    const [kind, value] = this.scopeChoice.split(/:(.*)/s);
    if (kind === "region") return { regions: [value] };
    if (kind === "joint") return { jointOperation: value };
    return null;
  }

  get scopeLabel() {
    const choice = this.scopeChoice;
    if (choice.startsWith("region:")) return `region ${choice.slice(7)}`;
    if (choice.startsWith("joint:") && this.viewer) {
      const op = this.viewer.jointOperations.find((j) => `joint:${j.id}` === choice);
      if (op) return `joint operation ${op.name}`;
    }
    return "home regions";
  }

  get settings() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(SETTINGS) || "{}"); } catch { saved = {}; }
    return { ...this.defaults, ...saved };
  }
  set settings(value) { localStorage.setItem(SETTINGS, JSON.stringify(value)); }

  get timeZone() { return this.settings.timeZone; }

  signOut() {
    sessionStorage.removeItem(TOKEN);
    this.viewer = null;
  }
}
