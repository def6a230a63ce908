"""The analyst's workbench: one page at ``GET /`` and the scripts it loads, all served by Fusion.

The page (``fusion/resources/workbench/``) is a client of the public GraphQL API and nothing
else, so scope, purpose, limits and the audit apply to everything it does. Its libraries
(Cytoscape.js and the fCoSE layout) are vendored in ``vendor/`` (``scripts/vendor_workbench.py``)
and served, like the console's, from a fixed list of names with content-hashed URLs
(:func:`fusion.api.console.asset_response`). The page runs under a strict Content-Security-Policy:
scripts from this origin only, no inline scripts or styles, no other origin contacted unless a
tile server is configured. (Cytoscape injects a ``<style>`` element unless one with its id
exists; the page's own stylesheet carries that id and Cytoscape's one rule.)

Operators may send only saved documents, so the page carries the exact text of the two shipped
saved queries an operator's screen needs (``SavedQueries``, ``RunSavedQuery``) in a JSON data
block, together with the schema's enum values for the saved-query forms.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from fusion.api import enums
from fusion.api.console import Asset, asset_response, manifest_assets, read_assets
from fusion.services.saved import SAVED_DIR

ASSET_ROUTE = "/workbench-assets"
DEFAULT_TIMEZONE = "Asia/Shanghai"

_OWN_ASSETS = ("workbench.css", "app.js", "api.js", "session.js", "chart.js", "style.js",
               "timeline.js", "map.js", "forms.js", "exporting.js", "panels.js", "util.js")
_VENDOR_SCRIPTS = ("cytoscape.min.js", "layout-base.js", "cose-base.js", "cytoscape-fcose.js")
_OPERATOR_DOCUMENTS = ("SavedQueries", "RunSavedQuery")
_ENUMS = (enums.EntityKind, enums.RelType, enums.CommunityAlgorithm, enums.ExportFormat,
          enums.TimelineEventType)


def workbench_csp(tile_url: str | None = None) -> str:
    """The page's Content-Security-Policy; a tile server's origin is allowed for images only."""
    images = "'self' data: blob:"
    if tile_url:
        parts = urlsplit(tile_url.replace("{", "").replace("}", ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"tile_url must be an http(s) URL template, got {tile_url!r}")
        images += f" {parts.scheme}://{parts.netloc}"
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")


@cache
def workbench_assets() -> dict[str, Asset]:
    """Every servable asset by name: the vendored libraries and the page's own files."""
    folder = files("fusion.resources").joinpath("workbench")
    return {**manifest_assets(folder.joinpath("vendor")), **read_assets(folder, _OWN_ASSETS)}


def asset_url(name: str) -> str:
    """The URL of one asset, versioned by its content hash."""
    return f"{ASSET_ROUTE}/{name}?v={workbench_assets()[name].version}"


@cache
def page_config() -> str:
    """The JSON data block the page reads: operator documents and enum values."""
    documents = {n: (SAVED_DIR / f"{n}.graphql").read_text("utf-8") for n in _OPERATOR_DOCUMENTS}
    values = {e.__name__: [m.value for m in e] for e in _ENUMS}
    text = json.dumps({"documents": documents, "enums": values}, ensure_ascii=False)
    return text.replace("<", "\\u003c")  # no "</script>" inside the block


def workbench_html(graphql_path: str = "/graphql", timezone: str = DEFAULT_TIMEZONE,
                   tile_url: str | None = None) -> str:
    """The workbench page for the GraphQL endpoint at graphql_path (a path on this origin)."""
    if not graphql_path.startswith("/") or graphql_path.startswith("//"):
        raise ValueError(f"graphql_path must be a path on this origin, got {graphql_path!r}")
    scripts = "\n".join(f'  <script src="{html.escape(asset_url(n))}"></script>'
                        for n in _VENDOR_SCRIPTS)
    attrs = {"data-endpoint": graphql_path, "data-timezone": timezone,
             "data-tile-url": tile_url or "", "data-assets": ASSET_ROUTE}
    data = " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>Fusion workbench</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" id="__________cytoscape_stylesheet"
        href="{html.escape(asset_url("workbench.css"))}">
</head>
<body>
  <div id="app" {data}><p class="boot">Loading the workbench…</p></div>
  <noscript>The Fusion workbench needs JavaScript.</noscript>
  <script type="application/json" id="fusion-config">{page_config()}</script>
{scripts}
  <script type="module" src="{html.escape(asset_url("app.js"))}"></script>
</body>
</html>
"""


def workbench_routes(graphql_path: str = "/graphql", timezone: str = DEFAULT_TIMEZONE,
                     tile_url: str | None = None) -> list[BaseRoute]:
    """``GET /`` (the page) and its assets under ASSET_ROUTE."""
    page = workbench_html(graphql_path, timezone, tile_url)
    headers = {"Content-Security-Policy": workbench_csp(tile_url),
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
               "Cache-Control": "no-cache"}

    async def serve_page(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    async def serve_asset(request: Request) -> Response:
        return asset_response(request, workbench_assets())

    return [Route("/", serve_page, methods=["GET"], name="workbench"),
            Route(f"{ASSET_ROUTE}/{{name}}", serve_asset, methods=["GET"],
                  name="workbench_asset")]
