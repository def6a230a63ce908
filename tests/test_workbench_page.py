"""The workbench page and its assets, without a database: a strict CSP, nothing inline that
could run, every asset it names (scripts and the modules they import) served with a content
hash, the vendored libraries byte for byte as their manifest says, and the page's data block
(operators' documents, enum values) the same as the shipped queries and the schema."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from fusion.api import enums
from fusion.api.console import IMMUTABLE
from fusion.api.workbench import (
    ASSET_ROUTE,
    workbench_assets,
    workbench_csp,
    workbench_html,
    workbench_routes,
)
from fusion.services.saved import SAVED_DIR

FOLDER = files("fusion.resources").joinpath("workbench")
ROOT = Path(__file__).resolve().parents[1]


class _Page(HTMLParser):
    """The page's scripts (src, type, inline text) and other URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.urls: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "style" in a:
            raise AssertionError(f"inline style attribute on <{tag}>")
        if tag == "script":
            self._script = {"src": a.get("src"), "type": a.get("type"), "text": ""}
            self.scripts.append(self._script)
        for name in ("src", "href"):
            if a.get(name):
                self.urls.append(a[name])

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script["text"] += data


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(Starlette(routes=workbench_routes("/graphql")))


def _page(client) -> tuple[object, _Page]:
    response = client.get("/")
    parsed = _Page()
    parsed.feed(response.text)
    return response, parsed


def test_the_page_is_served_at_the_root_under_a_strict_csp(client):
    response, _ = _page(client)
    assert response.status_code == 200
    csp = dict(part.strip().split(" ", 1) for part in
               response.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'" and csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_no_script_on_the_page_runs_inline(client):
    _, page = _page(client)
    inline = [s for s in page.scripts if not s["src"]]
    assert [s["type"] for s in inline] == ["application/json"]
    assert all(s["text"].strip() == "" for s in page.scripts if s["src"])


def test_every_url_on_the_page_is_a_versioned_asset_of_this_origin(client):
    _, page = _page(client)
    urls = [u for u in page.urls if not u.startswith("data:")]
    assert urls and all(u.startswith(f"{ASSET_ROUTE}/") and "?v=" in u for u in urls)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == IMMUTABLE


def test_every_module_a_script_imports_is_served(client):
    own = [n for n in workbench_assets() if n.endswith(".js") and "/" not in n
           and not FOLDER.joinpath("vendor").joinpath(n).is_file()]
    imported = set()
    for name in own:
        text = FOLDER.joinpath(name).read_text("utf-8")
        imported |= set(re.findall(r'from "\./([\w.-]+\.js)"', text))
    assert imported and imported <= set(own)
    for name in sorted(imported):
        assert client.get(f"{ASSET_ROUTE}/{name}").status_code == 200


def test_an_unknown_or_traversing_asset_name_is_not_found(client):
    for name in ("nope.js", "..%2Fworkbench.py", "vendor%2FMANIFEST.json"):
        assert client.get(f"{ASSET_ROUTE}/{name}").status_code == 404


def test_vendored_files_are_those_of_the_manifest_with_their_licences():
    vendor = FOLDER.joinpath("vendor")
    manifest = json.loads(vendor.joinpath("MANIFEST.json").read_text("utf-8"))
    for name, entry in manifest["assets"].items():
        data = vendor.joinpath(name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    for package, pin in manifest["packages"].items():
        assert pin["license"] == "MIT"
        assert vendor.joinpath(f"LICENSE.{package}").is_file()


def test_the_vendoring_script_pins_what_the_manifest_records():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import vendor_workbench
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    manifest = json.loads(FOLDER.joinpath("vendor", "MANIFEST.json").read_text("utf-8"))
    pins = {p.package: {"version": p.version, "integrity": p.integrity, "license": p.license}
            for p in vendor_workbench.PINS}
    assert pins == manifest["packages"]


def test_the_data_block_carries_the_operators_documents_and_the_enums(client):
    _, page = _page(client)
    config = json.loads(next(s["text"] for s in page.scripts if s["type"] == "application/json"))
    for name, text in config["documents"].items():
        assert text == (SAVED_DIR / f"{name}.graphql").read_text("utf-8")
    assert config["enums"]["RelType"] == [t.value for t in enums.RelType]
    assert config["enums"]["EntityKind"] == [k.value for k in enums.EntityKind]


def test_a_tile_server_is_allowed_for_images_only():
    csp = workbench_csp("https://tiles.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.example.org;" in csp
    assert "connect-src 'self';" in csp
    with pytest.raises(ValueError):
        workbench_csp("javascript:alert(1)")


def test_the_page_refuses_an_endpoint_on_another_origin():
    with pytest.raises(ValueError):
        workbench_html("//evil.example/graphql")
