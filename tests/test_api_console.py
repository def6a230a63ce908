"""The offline console: a page with no external URL, every asset it names served correctly."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from html.parser import HTMLParser
from importlib.resources import files
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from fusion.api.console import (
    ASSET_ROUTE,
    IMMUTABLE,
    REVALIDATE,
    console_html,
    console_routes,
)

ASSET_DIR = files("fusion.resources").joinpath("graphiql")
EXPECTED_TYPES = {"js": "text/javascript", "css": "text/css"}


class _References(HTMLParser):
    """Collects every src/href attribute and every url() inside style text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "data", "poster") and value is not None:
                self.urls.append(value)
            if name == "style" and value:
                self.urls.extend(_css_urls(value))

    def handle_data(self, data: str) -> None:
        self.urls.extend(_css_urls(data))


def _css_urls(text: str) -> list[str]:
    return [m.strip("'\" ") for m in re.findall(r"url\(([^)]*)\)", text)]


def _page_references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    return parser.urls


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(Starlette(routes=console_routes()))


def test_page_references_only_this_origin() -> None:
    urls = _page_references(console_html())
    assert urls, "the page references its scripts and styles"
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        assert parts.path.startswith(ASSET_ROUTE + "/"), url


def test_page_text_names_no_external_host() -> None:
    assert re.search(r"(?i)https?://|//[a-z0-9.-]+\.[a-z]{2,}", console_html()) is None


def test_page_loads_react_before_graphiql_before_boot_script() -> None:
    scripts = [urlsplit(u).path.rsplit("/", 1)[1] for u in _page_references(console_html())
               if u.split("?")[0].endswith(".js")]
    assert scripts == ["react.production.min.js", "react-dom.production.min.js",
                       "graphiql.min.js", "console.js"]


def test_page_points_graphiql_at_the_given_path() -> None:
    assert 'data-endpoint="/api/graphql"' in console_html("/api/graphql")


@pytest.mark.parametrize("path", ["https://elsewhere.example/graphql", "//evil.example/g",
                                  "graphql", "/\\evil"])
def test_page_refuses_an_endpoint_off_this_origin(path: str) -> None:
    with pytest.raises(ValueError):
        console_html(path)


def test_endpoint_path_is_escaped() -> None:
    page = console_html('/graphql"><script>alert(1)</script>')
    assert "<script>alert(1)" not in page


def test_every_referenced_asset_is_served_with_its_type(client: TestClient) -> None:
    for url in _page_references(console_html()):
        response = client.get(url)
        assert response.status_code == 200, url
        suffix = urlsplit(url).path.rsplit(".", 1)[1]
        assert response.headers["content-type"].split(";")[0] == EXPECTED_TYPES[suffix]
        assert response.headers["x-content-type-options"] == "nosniff"
        name = urlsplit(url).path.rsplit("/", 1)[1]
        assert response.content == ASSET_DIR.joinpath(name).read_bytes()


def test_versioned_url_is_cached_immutably(client: TestClient) -> None:
    url = next(u for u in _page_references(console_html()) if "graphiql.min.js" in u)
    assert client.get(url).headers["cache-control"] == IMMUTABLE


def test_unversioned_or_stale_url_must_revalidate(client: TestClient) -> None:
    assert client.get(f"{ASSET_ROUTE}/console.js").headers["cache-control"] == REVALIDATE
    stale = client.get(f"{ASSET_ROUTE}/console.js?v=000000000000")
    assert stale.headers["cache-control"] == REVALIDATE


def test_matching_etag_answers_not_modified(client: TestClient) -> None:
    first = client.get(f"{ASSET_ROUTE}/console.css")
    again = client.get(f"{ASSET_ROUTE}/console.css",
                       headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_gzip_only_when_accepted(client: TestClient) -> None:
    raw = ASSET_DIR.joinpath("graphiql.min.js").read_bytes()
    plain = client.get(f"{ASSET_ROUTE}/graphiql.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == raw
    packed = client.get(f"{ASSET_ROUTE}/graphiql.min.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(raw)


def test_gzip_body_decompresses_to_the_asset() -> None:
    client = TestClient(Starlette(routes=console_routes()))
    stream = client.stream("GET", f"{ASSET_ROUTE}/react.production.min.js",
                           headers={"Accept-Encoding": "gzip"})
    with stream as response:
        body = b"".join(response.iter_raw())
    assert gzip.decompress(body) == ASSET_DIR.joinpath("react.production.min.js").read_bytes()


@pytest.mark.parametrize("name", [
    "..%2FMANIFEST.json", "..%2F..%2Fconsole.py", "%2e%2e%2f__init__.py", "..", "MANIFEST.json",
    "README.md", "..%5C__init__.py", "graphiql.min.js.map", "nonexistent.js",
])
def test_unlisted_or_traversing_names_are_not_found(client: TestClient, name: str) -> None:
    assert client.get(f"{ASSET_ROUTE}/{name}").status_code == 404


def test_traversal_through_slashes_does_not_reach_a_file(client: TestClient) -> None:
    for path in ("/../fusion/api/console.py", "/../../pyproject.toml", "/graphiql/console.js"):
        assert client.get(ASSET_ROUTE + path).status_code == 404


def test_vendored_assets_match_the_manifest() -> None:
    manifest = json.loads(ASSET_DIR.joinpath("MANIFEST.json").read_text(encoding="utf-8"))
    for name, entry in manifest["assets"].items():
        data = ASSET_DIR.joinpath(name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["bytes"], name
        assert entry["version"] == manifest["packages"][entry["package"]]["version"]


def test_notice_names_every_vendored_package_version_and_license() -> None:
    manifest = json.loads(ASSET_DIR.joinpath("MANIFEST.json").read_text(encoding="utf-8"))
    notice = ASSET_DIR.joinpath("README.md").read_text(encoding="utf-8")
    for package, entry in manifest["packages"].items():
        assert f"{package} {entry['version']}" in notice
        assert ASSET_DIR.joinpath(f"LICENSE.{package}").is_file()
        assert entry["license"] in notice


def test_boot_script_fetches_only_the_configured_endpoint() -> None:
    script = ASSET_DIR.joinpath("console.js").read_text(encoding="utf-8")
    assert re.search(r"https?://", script) is None
    assert "X-Purpose" in script and "Authorization" in script
    assert "shouldPersistHeaders: false" in script


def test_vendored_stylesheets_fetch_nothing() -> None:
    for name in ("graphiql.min.css", "console.css"):
        css = ASSET_DIR.joinpath(name).read_text(encoding="utf-8")
        assert "@import" not in css, name
        for url in _css_urls(css):
            assert url.startswith("data:"), (name, url[:80])


def test_vendored_scripts_name_no_cdn_url() -> None:
    cdn = re.compile(r"(?i)(https?:)?//[^\s\"'`]*(jsdelivr|unpkg|googleapis|gstatic|cdnjs|esm\.sh)")
    for name in ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js"):
        assert cdn.search(ASSET_DIR.joinpath(name).read_text(encoding="utf-8")) is None, name
