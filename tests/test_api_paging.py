"""Paging through the real service: every ...Page field walked page by page returns exactly
the unpaged field's answer (the oracle: the same service's plain list, asked for all of it), in
order, with no duplicate or gap; also while a load runs between and during the pages. A
cursor that was changed, comes from another scope or another query is BAD_INPUT."""

from __future__ import annotations

import gzip
import io
import json
import threading
import uuid
from pathlib import Path

import polars as pl
import pytest

from tests.api_support import ALL_REGIONS, Api

pytest_plugins = ["tests.api_support"]

PAIR = ("a { kind key } b { kind key } meetings distinctSensors firstAt lastAt significance "
        "expectedMeetings distinctDays leader { kind key } medianLeadSeconds aReads bReads")
GROUP = "members { kind key } size meetings distinctSensors firstAt lastAt significance"
ENTITY = "kind key label regions"
EVENT = "at type summary entities { kind key }"
GANG = "id size regions cohesion members { person { key } score rank } links { type count }"
AUDIT = "at user role operationName purpose scope outcome resultCount hash"
PAGE = "nextCursor hasNextPage totalCount snapshot"

FIELDS = {
    "coTravel": ("$w: Int, $s: Float = 0", "windowSeconds: $w, minSignificance: $s", PAIR),
    "coTravelGroups": ("$w: Int, $s: Float = 0", "windowSeconds: $w, minSignificance: $s",
                       GROUP),
    "search": ("$text: String!", "text: $text", ENTITY),
    "timeline": ("$ref: EntityRef!", "ref: $ref", EVENT),
    "gangs": ("$minSize: Int", "minSize: $minSize", GANG),
}
UNPAGED_LIMIT = {"coTravel": 1000, "search": 1000, "timeline": 1000}
SENSOR = "330100-KK-0000"
SEARCH_TEXT = "张 王 李 刘"


def _vars(api: Api, field: str) -> dict:
    return {"coTravel": {"w": api.truth["cotravel_defaults"]["window_s"]},
            "coTravelGroups": {"w": api.truth["cotravel_defaults"]["window_s"]},
            "search": {"text": SEARCH_TEXT},
            "timeline": {"ref": {"kind": "SENSOR", "key": SENSOR}},
            "gangs": {"minSize": 3}}[field]


def unpaged(api: Api, field: str, variables: dict, **kw) -> list[dict]:
    """The plain list field's whole answer (its limit at the cap, and shorter than it)."""
    decl, args, sel = FIELDS[field]
    limit = UNPAGED_LIMIT.get(field)
    extra = f", limit: {limit}" if limit else ""
    items = api.gql(f"query Q({decl}, $scope: ScopeInput) {{ {field}({args}{extra}, "
                    f"scope: $scope) {{ {sel} }} }}", variables, **kw)[field]
    assert limit is None or len(items) < limit, "the oracle must be the whole answer"
    return items


def page(api: Api, field: str, variables: dict, first: int, after: str | None = None,
         **kw) -> dict:
    decl, args, sel = FIELDS[field]
    return api.gql(f"query Q({decl}, $first: Int!, $after: String, $scope: ScopeInput) "
                   f"{{ {field}Page({args}, first: $first, after: $after, scope: $scope) "
                   f"{{ items {{ {sel} }} {PAGE} }} }}",
                   {**variables, "first": first, "after": after}, **kw)[f"{field}Page"]


def walk(api: Api, field: str, variables: dict, first: int, between=None, **kw) -> list[dict]:
    """Every item of every page; ``between(n)`` runs after page n."""
    items, after, pages, snapshots = [], None, 0, set()
    while True:
        got = page(api, field, variables, first, after, **kw)
        items += got["items"]
        snapshots.add(got["snapshot"])
        pages += 1
        assert got["hasNextPage"] == (got["nextCursor"] is not None)
        assert len(got["items"]) <= first
        if between is not None:
            between(pages)
        if not got["hasNextPage"]:
            assert got["totalCount"] in (None, len(items))
            break
        assert len(got["items"]) == first
        after = got["nextCursor"]
    assert len(snapshots) == 1
    return items


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_paging_returns_the_unpaged_answer_in_order(api: Api, field: str) -> None:
    variables = _vars(api, field)
    whole = unpaged(api, field, variables)
    assert len(whole) >= 3, f"{field}: the fixture must give several items to page"
    for first in (1, 2, len(whole) // 2 + 1, 1000):
        assert walk(api, field, variables, first) == whole, (field, first)


def test_co_travel_rows_are_the_items_values(api: Api) -> None:
    variables = _vars(api, "coTravel")
    whole = unpaged(api, "coTravel", variables)
    query = (f"query Q($w: Int, $after: String) {{ coTravelPage(windowSeconds: $w, first: 4, "
             f"after: $after) {{ items {{ {PAIR} }} rows {PAGE} }} }}")
    rows, after = [], None
    while True:
        got = api.gql(query, {**variables, "after": after})["coTravelPage"]
        assert got["rows"] == [_array(i) for i in got["items"]]
        rows += got["rows"]
        if not got["hasNextPage"]:
            break
        after = got["nextCursor"]
    assert rows == [_array(p) for p in whole]
    assert {r[11] for r in rows} >= {"a", "b"}, "the fixture must have leaders on both sides"


def _array(item: dict) -> list:
    """A pair's values in the order of coTravelPage's rows (leader: which side leads)."""
    leader = item["leader"]
    side = None if leader is None else "a" if leader == item["a"] else "b"
    return [item["a"]["kind"], item["a"]["key"], item["b"]["kind"], item["b"]["key"],
            item["meetings"], item["distinctSensors"], item["firstAt"], item["lastAt"],
            item["significance"], item["expectedMeetings"], item["distinctDays"], side,
            item["medianLeadSeconds"], item["aReads"], item["bReads"]]


@pytest.mark.parametrize("field", ["coTravel", "coTravelGroups"])
def test_paging_with_min_significance_is_the_filtered_unpaged_answer(api: Api,
                                                                     field: str) -> None:
    """The threshold is the middle of the answer's own significances, so the filter keeps
    some items and drops others; the walk equals the unpaged field's filtered answer. (Pairs
    are the unfiltered pairs this significant; groups are the cliques of those pairs, which
    need not be a subset of the unfiltered groups.)"""
    variables = _vars(api, field)
    whole = unpaged(api, field, variables)
    cut = sorted(i["significance"] for i in whole)[len(whole) // 2]
    filtered = {**variables, "s": cut}
    kept = unpaged(api, field, filtered)
    assert kept and kept != whole
    assert all(i["significance"] >= cut for i in kept)
    if field == "coTravel":
        assert kept == [i for i in whole if i["significance"] >= cut]
    for first in (1, 3, 1000):
        assert walk(api, field, filtered, first) == kept, first
    if field == "coTravel":
        got = export(api, {"list": "coTravel", "variables": {
            "windowSeconds": variables["w"], "minSignificance": cut}})
        assert [json.loads(line) for line in got.text.splitlines()] == kept
    code, _ = api.error(f"query Q($s: Float) {{ {field}Page(minSignificance: $s, first: 5) "
                        f"{{ snapshot }} }}", {"s": -1.0})
    assert code == "BAD_INPUT"


def test_the_audit_log_pages_for_auditors_only(api: Api) -> None:
    code, _ = api.error("{ auditLogPage(first: 5) { items { hash } } }", role="analyst")
    assert code == "FORBIDDEN"


def test_a_scoped_walk_matches_the_scoped_answer(api: Api) -> None:
    variables, scope = _vars(api, "coTravel"), {"scope": {"regions": ["330100"]}}
    whole = unpaged(api, "coTravel", {**variables, **scope})
    assert 0 < len(whole) < len(unpaged(api, "coTravel", variables))
    assert walk(api, "coTravel", {**variables, **scope}, 3) == whole


def test_audit_log_pages_are_the_log_as_it_stood(api: Api) -> None:
    for i in range(7):
        api.gql("{ viewer { user } }", user="paging-audited", purpose=f"audit walk {i}")
    query = f"query Q($user: String) {{ auditLog(user: $user, limit: 1000) {{ {AUDIT} }} }}"
    whole = api.gql(query, {"user": "paging-audited"}, role="auditor")["auditLog"]
    assert len(whole) == 7

    def more(n: int) -> None:  # records written during the walk are not in it
        api.gql("{ viewer { user } }", user="paging-audited", purpose="during the walk")

    paged_q = (f"query Q($user: String, $first: Int!, $after: String) {{ auditLogPage(user: "
               f"$user, first: $first, after: $after) {{ items {{ {AUDIT} }} {PAGE} }} }}")
    items, after, n = [], None, 0
    while True:
        got = api.gql(paged_q, {"user": "paging-audited", "first": 2, "after": after},
                      role="auditor")["auditLogPage"]
        items += got["items"]
        n += 1
        more(n)
        if not got["hasNextPage"]:
            break
        after = got["nextCursor"]
    assert items == whole
    assert len({r["hash"] for r in items}) == len(items)


def test_tampered_foreign_and_out_of_scope_cursors_are_bad_input(api: Api) -> None:
    variables = _vars(api, "coTravel")
    cursor = page(api, "coTravel", variables, 1)["nextCursor"]
    assert cursor
    decl, args, sel = FIELDS["coTravel"]
    query = (f"query Q({decl}, $after: String, $scope: ScopeInput) {{ coTravelPage({args}, "
             f"first: 1, after: $after, scope: $scope) {{ items {{ {sel} }} }} }}")
    body, mac = cursor.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    for bad in (flipped, body + "." + mac[::-1], "not-a-cursor", cursor + "x"):
        code, _ = api.error(query, {**variables, "after": bad})
        assert code == "BAD_INPUT", bad
    code, err = api.error(query, {**variables, "after": cursor,
                                  "scope": {"regions": ["330100"]}})
    assert code == "BAD_INPUT" and "scope" in err["message"]
    other_user = api.token(regions=("330100",), user="someone-else")
    code, _ = api.error(query, {**variables, "after": cursor}, token=other_user)
    assert code == "BAD_INPUT"
    code, _ = api.error(query, {"w": variables["w"] + 1, "after": cursor})
    assert code == "BAD_INPUT"
    group_cursor = page(api, "coTravelGroups", variables, 1)["nextCursor"]
    code, _ = api.error(query, {**variables, "after": group_cursor})
    assert code == "BAD_INPUT"


def test_first_is_checked(api: Api) -> None:
    for first in (0, api.settings.api_max_results + 1):
        decl, args, sel = FIELDS["search"]
        code, _ = api.error(f"query Q({decl}) {{ searchPage({args}, first: {first}) "
                            f"{{ items {{ key }} }} }}", {"text": SEARCH_TEXT})
        assert code == "BAD_INPUT"


def export(api: Api, body: dict, *, purpose: str | None = "export case 9", **kw):
    headers = {"Authorization": f"Bearer {api.token(**kw)}"}
    if purpose is not None:
        headers["X-Purpose"] = purpose
    return api.http.post(f"{api.url}/export", json=body, headers=headers)


def _iso(row: dict) -> dict:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


@pytest.mark.parametrize("regions", [None, ["330100"]])
def test_the_streamed_export_equals_the_paged_answer_and_is_audited(api: Api, regions) -> None:
    variables = {**_vars(api, "coTravel"), "scope": {"regions": regions} if regions else None}
    whole = walk(api, "coTravel", variables, 7)
    assert whole == unpaged(api, "coTravel", variables)
    args = {"windowSeconds": variables["w"], "scope": variables["scope"]}
    user = f"exporter-{len(regions or ())}"
    got = export(api, {"list": "coTravel", "format": "ndjson", "variables": args}, user=user)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in got.text.splitlines()] == whole
    assert int(got.headers["x-fusion-total-count"]) == len(whole)
    got = export(api, {"list": "coTravel", "format": "parquet", "variables": args}, user=user)
    assert got.status_code == 200, got.text
    assert [_iso(r) for r in pl.read_parquet(io.BytesIO(got.content)).to_dicts()] == whole
    records = api.gql(f"query Q($user: String) {{ auditLog(user: $user, limit: 10) "
                      f"{{ {AUDIT} }} }}", {"user": user}, role="auditor")["auditLog"]
    assert [(r["operationName"], r["outcome"], r["resultCount"]) for r in records] == [
        ("export_coTravel", "allowed", len(whole)), ("export_coTravel", "intent", None)] * 2
    assert {r["purpose"] for r in records} == {"export case 9"}
    assert {tuple(r["scope"]) for r in records} == {tuple(regions or sorted(ALL_REGIONS))}


def test_a_refused_export_streams_nothing_and_is_audited_once(api: Api) -> None:
    body = {"list": "coTravel", "variables": {}}
    cases = [(export(api, body, purpose=None, user="exp-refused"), 400),
             (export(api, body, role="operator", user="exp-refused"), 403),
             (export(api, {"list": "coTravel", "format": "csv"}, user="exp-refused"), 400),
             (export(api, {"list": "nothing"}, user="exp-refused"), 400),
             (export(api, {"list": "coTravel", "variables": {"limit": 5}}, user="exp-refused"),
              400),
             (export(api, {"list": "coTravel", "variables": {"windowSeconds": -1}},
                     user="exp-refused"), 400)]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.json()["errors"][0]["extensions"]["code"]
    records = api.gql(f"query Q($user: String) {{ auditLog(user: $user, limit: 20) "
                      f"{{ {AUDIT} }} }}", {"user": "exp-refused"}, role="auditor")["auditLog"]
    # Five refused before they started (one record each); the bad window after its intent.
    assert [r["outcome"] for r in records] == [
        "failed:BAD_INPUT", "intent", "failed:BAD_INPUT", "failed:BAD_INPUT",
        "failed:BAD_INPUT", "denied:FORBIDDEN", "denied:PURPOSE_REQUIRED"]
    unauth = api.http.post(f"{api.url}/export", json=body,
                           headers={"Authorization": "Bearer nope", "X-Purpose": "x"})
    assert unauth.status_code == 401


@pytest.mark.parametrize("body", [
    {"list": ["coTravel"]},
    {"list": "coTravel", "format": ["ndjson"]},
    {"list": "coTravel", "variables": {"scope": {"regions": 5}}},
    {"list": "coTravel", "variables": {"scope": {"regions": [["330100"]]}}},
    {"list": "coTravel", "variables": {"scope": {"jointOperation": {"id": 1}}}},
    {"list": "coTravel", "variables": {"scope": {"regions": ["330100"], "region": "x"}}},
    {"list": "coTravel", "variables": {"since": 20240101}},
], ids=["list", "format", "regions", "nested-regions", "joint", "unknown-key", "since"])
def test_an_export_body_of_the_wrong_types_is_bad_input_and_audited(api: Api, body) -> None:
    user = f"exp-typed-{uuid.uuid4().hex[:8]}"
    got = export(api, body, user=user)
    assert got.status_code == 400, got.text
    assert got.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    records = api.gql(f"query Q($user: String) {{ auditLog(user: $user, limit: 5) "
                      f"{{ {AUDIT} }} }}", {"user": user}, role="auditor")["auditLog"]
    # Refused before it started: one record; after its intent (a bad date): intent + outcome.
    assert [r["outcome"] for r in records] in (
        ["failed:BAD_INPUT"], ["failed:BAD_INPUT", "intent"])


def _mirrored_sightings(scenario_dir: Path, out: Path) -> Path:
    """The 330100 sightings with every 浙 plate as a 苏 plate: new vehicles that co-travel
    exactly as the originals do, seen by the same sensors."""
    text = gzip.decompress((scenario_dir / "330100" / "sightings.csv.gz").read_bytes())
    out.write_bytes(text.decode("utf-8").replace("浙", "苏").encode("utf-8"))
    return out


def test_walks_are_unchanged_by_a_load_running_meanwhile(api: Api, driver, scenario_dir: Path,
                                                         tmp_path: Path) -> None:
    """Near the end of this module: it adds sightings (the next module's fixture reloads the
    scenario); so does the one after it.
    Each walk's first page is taken before the load; the load commits while the walk goes on
    (on its own thread, during the pages); every walk still returns the answer from before."""
    from loaders.ingest import load_files

    fields = ("coTravel", "coTravelGroups", "timeline", "search")
    before = {f: unpaged(api, f, _vars(api, f)) for f in fields}
    firsts = {f: page(api, f, _vars(api, f), 1) for f in fields}
    extra = _mirrored_sightings(scenario_dir, tmp_path / "sightings.csv")
    loaded = threading.Event()

    def load() -> None:
        load_files(driver, api.settings.neo4j_database, api.settings.home, "sightings",
                   [extra], "330100")
        loaded.set()

    loader = threading.Thread(target=load)
    loader.start()
    rests: dict[str, list] = {f: [] for f in fields}
    cursors = {f: firsts[f]["nextCursor"] for f in fields}
    rounds = 0
    while any(cursors.values()):
        for f in fields:
            if cursors[f]:
                got = page(api, f, _vars(api, f), 2, cursors[f])
                rests[f] += got["items"]
                cursors[f] = got["nextCursor"]
        rounds += 1
        if rounds == 2:  # the rest of every walk runs after the load committed
            loader.join()
    loader.join()
    assert loaded.is_set() and rounds > 2
    for f in fields:
        assert firsts[f]["items"] + rests[f] == before[f], f
    # The load did land: a new walk sees the new vehicles.
    after = walk(api, "coTravel", _vars(api, "coTravel"), 1000)
    assert len(after) > len(before["coTravel"])
    assert any(p["a"]["key"].startswith("苏") for p in after)
    assert walk(api, "timeline", _vars(api, "timeline"), 1000) != before["timeline"]


def _shifted_sightings(scenario_dir: Path, out: Path, days: int) -> Path:
    """The 330100 sightings again, every one ``days`` later: the same pairs meet again."""
    frame = pl.read_csv(io.BytesIO(gzip.decompress(
        (scenario_dir / "330100" / "sightings.csv.gz").read_bytes())), infer_schema=False)
    # The scenario writes some times in other forms (and some wrong): those rows are left out.
    moved = (pl.col("seen_at").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC",
                                               strict=False) + pl.duration(days=days))
    frame = frame.with_columns(moved.dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("seen_at"))
    frame.filter(pl.col("seen_at").is_not_null()).write_csv(out)
    return out


def test_the_evidence_of_a_walks_pairs_comes_from_its_snapshot(
        api: Api, driver, scenario_dir: Path, tmp_path: Path) -> None:
    """Pairs' meetings listed beside later pages are those of the walk's snapshot, not of a
    load that added meetings to the same pairs meanwhile."""
    from loaders.ingest import load_files

    query = (f"query Q($w: Int, $first: Int!, $after: String) {{ coTravelPage(windowSeconds: "
             f"$w, first: $first, after: $after) {{ items {{ a {{ key }} b {{ key }} meetings "
             f"evidence(limit: 1000) {{ sensor {{ key }} aAt bAt }} }} {PAGE} }} }}")

    def asked(first: int, after: str | None = None) -> dict:
        return api.gql(query, {**_vars(api, "coTravel"), "first": first,
                               "after": after})["coTravelPage"]

    before = asked(1000)["items"]
    assert len(before) > 4 and all(len(p["evidence"]) == p["meetings"] for p in before)
    walked = asked(2)
    load_files(driver, api.settings.neo4j_database, api.settings.home, "sightings",
               [_shifted_sightings(scenario_dir, tmp_path / "again.csv", 3)], "330100")
    items, after = walked["items"], walked["nextCursor"]
    while after:
        got = asked(2, after)
        items, after = items + got["items"], got["nextCursor"]
    assert items == before
    # The load did land: a new walk's pairs of 330100 meet twice as often.
    again = {(p["a"]["key"], p["b"]["key"]): p for p in asked(1000)["items"]}
    grown = [p for p in before if again.get((p["a"]["key"], p["b"]["key"]), p)["meetings"]
             > p["meetings"]]
    assert grown and all(len(again[(p["a"]["key"], p["b"]["key"])]["evidence"])
                         > len(p["evidence"]) for p in grown)
