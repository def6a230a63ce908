/*
 * Fusion console boot script (Fusion's own code, not vendored).
 * Starts GraphiQL against this service's own GraphQL endpoint. Everything it loads comes from the
 * service itself: police networks are offline.
 *
 * A link of the form /graphql#token=<jwt> (or ?token=<jwt>) pre-fills the Authorization header;
 * the token is then removed from the address bar so it stays out of history and bookmarks, and
 * kept in this tab's sessionStorage (the workbench's key: one sign-in serves both pages of a tab)
 * so that a reload keeps it — and the schema, whose introspection needs it.
 * An operation name GraphiQL remembers from an earlier document is dropped when the document
 * being sent defines no operation of that name (a pasted query ran as "Unknown operation").
 * Header values still holding a template placeholder are never sent, so the server answers
 * UNAUTHENTICATED / PURPOSE_REQUIRED instead of recording a placeholder as the purpose.
 * Headers are never persisted and editor state lives in sessionStorage only: identifiers typed
 * into queries do not outlive the browser tab on a shared workstation.
 */
(function () {
  "use strict";

  var TOKEN_PLACEHOLDER = "<token>";
  var PURPOSE_PLACEHOLDER = "<case number or reason>";
  var TOKEN_KEY = "fusion.token";  // the workbench's sessionStorage key
  var DEFAULT_QUERY = [
    "# Fusion console. Fill in Headers (below) first:",
    "#   Authorization: Bearer <your token>",
    "#   X-Purpose: the case number or reason",
    "# Every query is recorded in the audit log.",
    "",
    "query Search($text: String = \"\") {",
    "  search(text: $text, limit: 20) {",
    "    kind",
    "    key",
    "    label",
    "    regions",
    "  }",
    "}",
    ""
  ].join("\n");

  function takeToken() {
    var hash = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var query = new URLSearchParams(window.location.search);
    var token = hash.get("token") || query.get("token");
    if (!token) {
      return window.sessionStorage.getItem(TOKEN_KEY);
    }
    window.sessionStorage.setItem(TOKEN_KEY, token.trim());
    if (token) {
      hash.delete("token");
      query.delete("token");
      var search = query.toString();
      var fragment = hash.toString();
      window.history.replaceState(
        null, "",
        window.location.pathname + (search ? "?" + search : "") + (fragment ? "#" + fragment : "")
      );
    }
    return token;
  }

  function headersTemplate(token) {
    return JSON.stringify(
      {"Authorization": "Bearer " + (token || TOKEN_PLACEHOLDER), "X-Purpose": PURPOSE_PLACEHOLDER},
      null, 2
    );
  }

  function withoutPlaceholders(headers) {
    var kept = {};
    Object.keys(headers || {}).forEach(function (name) {
      var value = String(headers[name]);
      if (value.indexOf(TOKEN_PLACEHOLDER) === -1 && value !== PURPOSE_PLACEHOLDER) {
        kept[name] = value;
      }
    });
    return kept;
  }

  function operationNames(document) {
    var names = [];
    var pattern = /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g;
    var match;
    while ((match = pattern.exec(document || "")) !== null) {
      names.push(match[1]);
    }
    return names;
  }

  function withCurrentOperation(params) {
    if (params.operationName && operationNames(params.query).indexOf(params.operationName) === -1) {
      var copy = Object.assign({}, params);
      delete copy.operationName;
      return copy;
    }
    return params;
  }

  function makeFetcher(endpoint) {
    return async function fetcher(params, options) {
      params = withCurrentOperation(params);
      var headers = Object.assign(
        {"Content-Type": "application/json", "Accept": "application/json"},
        withoutPlaceholders(options && options.headers)
      );
      var response = await window.fetch(endpoint, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(params),
        credentials: "omit",
        cache: "no-store"
      });
      var text = await response.text();
      try {
        return JSON.parse(text);
      } catch (err) {
        return {errors: [{message: "HTTP " + response.status + ": " + text.slice(0, 500)}]};
      }
    };
  }

  var root = document.getElementById("graphiql");
  var props = {
    fetcher: makeFetcher(root.getAttribute("data-endpoint")),
    defaultQuery: DEFAULT_QUERY,
    headers: headersTemplate(takeToken()),
    shouldPersistHeaders: false,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: "headers",
    storage: window.sessionStorage
  };
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
