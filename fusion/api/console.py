"""The offline GraphiQL console: one HTML page and the assets it loads, all served by Fusion.

Police networks are offline, so the page loads nothing from a CDN: GraphiQL, React and
ReactDOM are vendored in ``fusion/resources/graphiql/`` (see its README.md and
``scripts/vendor_graphiql.py``) and served under :data:`ASSET_ROUTE` from a fixed list of
names, never from a path taken from the request. Asset URLs carry a content hash (``?v=``),
so a matching request may be cached for a year; anything else must revalidate (ETag).

The app mounts :func:`console_routes` and answers ``GET /graphql`` with :func:`console_html`;
:data:`CONSOLE_CSP` is the Content-Security-Policy that page works under.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

ASSET_ROUTE = "/console-assets"

# The page needs inline style attributes (React, CodeMirror) and data: fonts (inlined in the
# GraphiQL stylesheet); everything else is this origin only, and it may not be framed.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_OWN_ASSETS = ("console.css", "console.js")
_PAGE_STYLES = ("graphiql.min.css", "console.css")
_PAGE_SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "console.js",
)
_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Asset:
    """One servable file: its bytes, gzip form, content type and content hash."""

    name: str
    content_type: str
    body: bytes
    gzipped: bytes
    digest: str

    @property
    def etag(self) -> str:
        return f'"{self.digest[:32]}"'

    @property
    def version(self) -> str:
        return self.digest[:12]


def _content_type(name: str) -> str:
    suffix = name[name.rfind(".") :] if "." in name else ""
    return _CONTENT_TYPES.get(suffix, _TEXT)


def _load(name: str, body: bytes) -> Asset:
    return Asset(
        name=name,
        content_type=_content_type(name),
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        digest=hashlib.sha256(body).hexdigest(),
    )


def manifest_assets(folder: Traversable) -> dict[str, Asset]:
    """The vendored assets a folder's MANIFEST.json lists, by name."""
    manifest = json.loads(folder.joinpath("MANIFEST.json").read_text(encoding="utf-8"))
    return read_assets(folder, sorted(manifest["assets"]))


def read_assets(folder: Traversable, names: Iterable[str]) -> dict[str, Asset]:
    """The named files of a folder as assets, by name."""
    return {name: _load(name, folder.joinpath(name).read_bytes()) for name in names}


@cache
def vendored_assets() -> dict[str, Asset]:
    """Every servable asset by name: the vendored ones listed in MANIFEST.json and Fusion's own."""
    folder = files("fusion.resources").joinpath("graphiql")
    return {**manifest_assets(folder), **read_assets(folder, _OWN_ASSETS)}


def asset_url(name: str) -> str:
    """The URL of one asset, versioned by its content hash."""
    return f"{ASSET_ROUTE}/{name}?v={vendored_assets()[name].version}"


def console_html(graphql_path: str = "/graphql") -> str:
    """The console page for the GraphQL endpoint at graphql_path (a path on this origin)."""
    if not graphql_path.startswith("/") or graphql_path.startswith("//") or "\\" in graphql_path:
        raise ValueError(f"graphql_path must be a path on this origin, got {graphql_path!r}")
    styles = "\n".join(
        f'  <link rel="stylesheet" href="{html.escape(asset_url(n))}">' for n in _PAGE_STYLES
    )
    scripts = "\n".join(
        f'  <script src="{html.escape(asset_url(n))}"></script>' for n in _PAGE_SCRIPTS
    )
    endpoint = html.escape(graphql_path, quote=True)
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>Fusion console</title>
{styles}
</head>
<body>
  <div id="graphiql" data-endpoint="{endpoint}">Loading the console…</div>
  <noscript>The Fusion console needs JavaScript.</noscript>
{scripts}
</body>
</html>
"""


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


async def _serve_asset(request: Request) -> Response:
    return asset_response(request, vendored_assets())


def asset_response(request: Request, assets: dict[str, Asset]) -> Response:
    """The asset named by the request's ``name`` path parameter (404 when not in ``assets``),
    cached for a year when the request carries its content hash, else revalidated (ETag)."""
    asset = assets.get(request.path_params["name"])
    if asset is None:
        return Response("Not Found", status_code=404, media_type="text/plain")
    cache_control = IMMUTABLE if request.query_params.get("v") == asset.version else REVALIDATE
    headers = {
        "Cache-Control": cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if _etag_matches(request, asset.etag):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if _accepts_gzip(request):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = asset.content_type
    return Response(body, headers=headers)


def console_routes() -> list[BaseRoute]:
    """Routes serving the console's assets under ASSET_ROUTE (GET and HEAD)."""
    return [Route(f"{ASSET_ROUTE}/{{name}}", _serve_asset, methods=["GET"], name="console_asset")]
