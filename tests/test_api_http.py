"""The HTTP surface of the running service: authentication, purpose, the operators' allowlist,
query limits, error codes, the console page, health, readiness, metrics, the audit record
written before each response, and the hostile inputs of issue #13 (fragment bomb, malformed and
oversized bodies, what refused requests leave in the audit log and in metrics, null arguments)."""

from __future__ import annotations

import hashlib
import json
import re
import select
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from graphql import get_introspection_query

from fusion.auth import issue_token
from fusion.auth.audit import audit_path

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

ENTITY = "query Entity($ref: EntityRef!) { entity(ref: $ref) { key label } }"


def _ref(api) -> dict:
    return {"ref": {"kind": "PERSON", "key": api.truth["fraud_chain"]["victim"]}}


def _last_audit(api) -> dict:
    # Records end at "\n" only (str.splitlines would also split at U+2028 inside a value).
    lines = audit_path(api.settings.home).read_bytes().splitlines()
    return json.loads(lines[-1])


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-jwt", "Basic abc"])
def test_missing_or_malformed_token_is_401(api, header):
    headers = {} if header is None else {"Authorization": header}
    response = api.http.post(f"{api.url}/graphql", json={"query": ENTITY,
                                                         "variables": _ref(api)},
                             headers={**headers, "X-Purpose": "x"})
    assert response.status_code == 401
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    record = _last_audit(api)
    assert record["outcome"] == "denied:UNAUTHENTICATED" and record["user"] is None
    assert record["operation_name"] == "Entity"


def test_expired_and_wrongly_signed_tokens_are_401(api):
    secret = api.settings.secret.get_secret_value().encode()
    expired = issue_token(secret, "ana", "analyst", ["330100"], timedelta(seconds=1),
                          now=datetime(2020, 1, 1, tzinfo=UTC))
    forged = issue_token(b"another-secret-" + b"y" * 40, "ana", "analyst", ["330100"],
                         timedelta(hours=1))
    for token in (expired, forged):
        assert api.post(ENTITY, _ref(api), token=token).status_code == 401


def test_data_query_without_purpose_is_purpose_required(api):
    code, error = api.error(ENTITY, _ref(api), purpose=None)
    assert code == "PURPOSE_REQUIRED" and error["path"] == ["entity"]
    assert _last_audit(api)["outcome"] == "denied:PURPOSE_REQUIRED"


def test_listing_saved_queries_needs_no_purpose(api):
    assert api.gql("{ savedQueries { name } }", purpose=None)["savedQueries"]


def test_role_without_permission_is_forbidden(api):
    code, _ = api.error(ENTITY, _ref(api), role="auditor")
    assert code == "FORBIDDEN"
    code, _ = api.error("{ auditLog(limit: 1) { hash } }", role="analyst")
    assert code == "FORBIDDEN"


def test_operator_runs_saved_documents_only(api):
    adhoc = api.post(ENTITY, _ref(api), role="operator")
    assert adhoc.status_code == 403
    refusal = adhoc.json()["errors"][0]
    assert refusal["extensions"]["code"] == "FORBIDDEN"
    assert "savedQueries" in refusal["message"] and "runSavedQuery(name:" in refusal["message"]
    assert _last_audit(api)["outcome"] == "denied:FORBIDDEN"
    document = next(q["document"] for q in api.gql("{ savedQueries { name document } }")[
        "savedQueries"] if q["name"] == "Entity")
    data = api.gql(document, _ref(api), role="operator")
    assert data["entity"]["key"] == _ref(api)["ref"]["key"]
    run = next(q["document"] for q in api.gql("{ savedQueries { name document } }")[
        "savedQueries"] if q["name"] == "RunSavedQuery")
    data = api.gql(run, {"name": "Entity", "variables": _ref(api)}, role="operator")
    assert data["runSavedQuery"]["entity"]["key"] == _ref(api)["ref"]["key"]


def test_over_deep_query_is_too_complex(api):
    depth = api.settings.api_max_depth
    inner = "key"
    for _ in range(depth):
        inner = f"phones {{ users {{ {inner} }} }}"
    query = ("query Deep($ref: EntityRef!) { entity(ref: $ref) { ... on Person { "
             + inner + " } } }")
    code, _ = api.error(query, _ref(api))
    assert code == "TOO_COMPLEX"
    assert _last_audit(api)["outcome"] == "failed:TOO_COMPLEX"


def test_over_aliased_query_is_too_complex_also_through_fragments(api):
    n = api.settings.api_max_aliases + 1
    direct = "query($ref: EntityRef!) {" + " ".join(
        f"a{i}: entity(ref: $ref) {{ key }}" for i in range(n)) + "}"
    code, _ = api.error(direct, _ref(api))
    assert code == "TOO_COMPLEX"
    fragment = ("query($ref: EntityRef!) { entity(ref: $ref) { ...F } } fragment F on Entity {"
                + " ".join(f"k{i}: key" for i in range(n)) + "}")
    code, _ = api.error(fragment, _ref(api))
    assert code == "TOO_COMPLEX"


def test_too_many_tokens_is_too_complex(api):
    query = "{ " + " ".join("__typename" for _ in range(api.settings.api_max_tokens)) + " }"
    code, _ = api.error(query)
    assert code == "TOO_COMPLEX"


@pytest.mark.parametrize("query,variables", [
    ("{ entity(", None),
    ("{ nosuchfield }", None),
    (ENTITY, {"ref": {"kind": "PLANET", "key": "x"}}),
    ("query($t: DateTime) { gangs(since: $t) { id } }", {"t": "2024-05-01T08:00:00"}),
    ("query($t: DateTime) { gangs(since: $t) { id } }", {"t": "yesterday"}),
    ('{ search(text: "x", limit: 0) { key } }', None),
])
def test_bad_input(api, query, variables):
    code, error = api.error(query, variables)
    assert code == "BAD_INPUT"
    assert "Traceback" not in json.dumps(error)


def test_not_found(api):
    code, _ = api.error(ENTITY, {"ref": {"kind": "CASE", "key": "NO-SUCH-CASE-1"}})
    assert code == "NOT_FOUND"
    code, _ = api.error('{ runSavedQuery(name: "NoSuchQuery") }')
    assert code == "NOT_FOUND"


def test_saving_an_invalid_document_is_bad_input(api):
    save = ('mutation($d: String!) { saveQuery(name: "Broken", description: "x", document: $d) '
            "{ name } }")
    for document in ("{ entity", "{ nosuchfield }", "query A { savedQueries { name } } "
                     "query B { savedQueries { name } }"):
        code, _ = api.error(save, {"d": document}, purpose=None)
        assert code == "BAD_INPUT"


def test_shipped_saved_query_cannot_be_overwritten(api):
    save = ('mutation { saveQuery(name: "Entity", description: "mine", '
            'document: "{ savedQueries { name } }") { name } }')
    code, _ = api.error(save, purpose=None)
    assert code == "FORBIDDEN"


def test_queries_over_get_are_refused(api):
    response = api.http.get(f"{api.url}/graphql", params={"query": "{ savedQueries { name } }"},
                            headers={"Authorization": f"Bearer {api.token()}"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_batched_requests_are_refused(api):
    response = api.http.post(f"{api.url}/graphql", json=[{"query": "{ __typename }"}] * 2,
                             headers={"Authorization": f"Bearer {api.token()}"})
    assert response.status_code == 400


def test_console_page_is_served_without_external_urls(api):
    response = api.http.get(f"{api.url}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    urls = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert urls and all(u.startswith("/console-assets/") for u in urls)
    assert "http://" not in response.text and "https://" not in response.text
    for url in urls:
        assert api.http.get(f"{api.url}{url}").status_code == 200
    csp = dict(part.strip().split(" ", 1) for part in
               response.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["connect-src"] == "'self'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_health_readiness_and_metrics(api):
    assert api.http.get(f"{api.url}/healthz").json() == {"status": "ok"}
    assert api.http.get(f"{api.url}/readyz").json()["status"] == "ready"
    api.gql(ENTITY, _ref(api))
    metrics = api.http.get(f"{api.url}/metrics").text
    assert re.search(r'fusion_graphql_requests_total\{operation="Entity",outcome="allowed"\} '
                     r'[1-9]', metrics)


def test_every_request_is_audited_before_its_response(api):
    path = audit_path(api.settings.home)
    before = len(path.read_bytes().splitlines())
    api.post(ENTITY, _ref(api))                       # allowed
    api.post(ENTITY, _ref(api), purpose=None)         # denied
    api.post("{ entity", None)                        # failed
    api.post(ENTITY, _ref(api), token="bad")          # unauthenticated
    records = [json.loads(x) for x in path.read_bytes().splitlines()[before:]]
    assert [r["outcome"] for r in records] == [
        "allowed", "denied:PURPOSE_REQUIRED", "failed:BAD_INPUT", "denied:UNAUTHENTICATED"]
    assert records[0]["result_count"] == 1 and records[0]["purpose"] == "test case 1"
    assert all(r["prev_hash"] == p["hash"] for p, r in zip(records, records[1:], strict=False))


def test_responses_carry_a_request_id_that_errors_repeat(api):
    response = api.post(ENTITY, {"ref": {"kind": "CASE", "key": "NO-SUCH-CASE-2"}})
    rid = response.headers["x-request-id"]
    assert response.json()["errors"][0]["extensions"]["requestId"] == rid


# -- issue #13: hostile input through the running service ------------------------------------

def _audit_lines(api) -> list[bytes]:
    return audit_path(api.settings.home).read_bytes().splitlines()


def _raw(api, body: bytes, token: str | None = None, content_type: str = "application/json"
         ) -> httpx.Response:
    headers = {"Content-Type": content_type, "X-Purpose": "hostile body"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return api.http.post(f"{api.url}/graphql", content=body, headers=headers)


def test_fragment_bomb_is_refused_quickly(api):
    parts = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(22)]
    document = ("query Bomb { ...F0 } " + " ".join(parts)
                + " fragment F22 on Query { savedQueries { name } }")
    started = time.perf_counter()
    code, error = api.error(document)
    assert code == "TOO_COMPLEX" and "expands to more than" in error["message"]
    assert time.perf_counter() - started < 0.5    # was 27 s
    assert _last_audit(api)["outcome"] == "failed:TOO_COMPLEX"


_DEEP = b"[" * 1000 + b"]" * 1000
_MALFORMED = {
    "non-UTF-8": (b'{"query": "{ __typename \xff\xfe }"}', "not valid UTF-8"),
    "deep JSON": (b'{"query": "{ __typename }", "variables": {"x": ' + _DEEP + b"}}",
                  "nested deeper than"),
    "deep top level": (_DEEP, "nested deeper than"),
    "null": (b"null", "one JSON object"),
    "number": (b"1", "one JSON object"),
    "list": (b"[]", "one JSON object"),
    "string": (b'"x"', "one JSON object"),
    "not JSON": (b"{query: }", "not valid JSON"),
    "empty": (b"", "not valid JSON"),
    "query a number": (b'{"query": 1}', "`query` must be"),
    "query missing": (b'{"variables": {}}', "`query` must be"),
    "variables a list": (b'{"query": "{ __typename }", "variables": []}', "`variables` must"),
    "operationName a number": (b'{"query": "{ __typename }", "operationName": 5}',
                               "`operationName` must"),
    "lone surrogate": (b'{"query": "{ __typename }", "variables": {"x": "\\ud800"}}',
                       "surrogate"),
}


@pytest.mark.parametrize("name", sorted(_MALFORMED))
def test_malformed_bodies_are_bad_input_and_audited_once(api, name):
    body, message = _MALFORMED[name]
    before = len(_audit_lines(api))
    response = _raw(api, body, api.token())
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_INPUT" and message in error["message"]
    records = [json.loads(x) for x in _audit_lines(api)[before:]]
    assert [(r["outcome"], r["user"]) for r in records] == [("failed:BAD_INPUT", "analyst-user")]


def test_malformed_body_without_token_is_401_and_audited(api):
    before = len(_audit_lines(api))
    assert _raw(api, b"\xff" * 10).status_code == 401
    assert [json.loads(x)["outcome"] for x in _audit_lines(api)[before:]] == [
        "denied:UNAUTHENTICATED"]


def test_non_json_content_type_is_bad_input(api):
    response = _raw(api, b"{ __typename }", api.token(), content_type="application/graphql")
    assert response.status_code == 400 and "application/json" in response.text


def _rss() -> int:
    """Resident memory of this process (the server runs in one of its threads), bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text()
                  .splitlines())
    return int(fields["VmRSS"].split()[0]) * 1024


def _send_chunked(url: str, total: int, chunk: int = 64 * 1024) -> tuple[int, bytes]:
    """Send up to ``total`` body bytes chunked, stopping at the first response: (sent, reply)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    piece = f"{chunk:x}\r\n".encode() + b"a" * chunk + b"\r\n"
    sent = 0
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(piece)
            sent += chunk
        reply = sock.recv(65536)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        reply = sock.recv(65536)
    finally:
        sock.close()
    return sent, reply


def test_oversized_chunked_body_is_refused_without_buffering(api):
    before, rss = len(_audit_lines(api)), _rss()
    sent, reply = _send_chunked(api.url, 200 << 20)
    grown = _rss() - rss
    print(f"chunked body: refused after {sent >> 20} MiB sent; RSS grew {grown >> 20} MiB")
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 64 << 20 and grown < 32 << 20
    records = [json.loads(x) for x in _audit_lines(api)[before:]]
    assert [(r["outcome"], r["user"]) for r in records] == [("failed:BAD_INPUT", None)]


def test_declared_oversized_body_is_refused_before_reading(api):
    response = api.http.post(f"{api.url}/graphql", content=b"x" * ((1 << 20) + 1),
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_refused_requests_keep_a_digest_of_variables_not_their_content(api):
    variables = {"ref": {"kind": "PERSON", "key": "secret-" + "x" * 200_000}}
    api.post(ENTITY, variables, token="not-a-token", operation_name="Entity")
    record = _last_audit(api)
    canonical = json.dumps(variables, sort_keys=True, separators=(",", ":")).encode()
    assert record["outcome"] == "denied:UNAUTHENTICATED"
    assert record["variables"] == {"sha256": hashlib.sha256(canonical).hexdigest(),
                                   "bytes": len(canonical)}
    assert len(json.dumps(record)) < 2000
    api.post(ENTITY, _ref(api), role="operator")           # refused by the allowlist
    assert set(_last_audit(api)["variables"]) == {"sha256", "bytes"}
    api.post(ENTITY, _ref(api))                           # admitted: kept as sent
    assert _last_audit(api)["variables"] == _ref(api)


def test_huge_operation_names_are_not_stored_verbatim(api):
    name = "N" * 5000
    api.post("{ __typename }", token="bad", operation_name=name)
    stored = _last_audit(api)["operation_name"]
    assert stored.startswith("_invalid:") and len(stored) < 40


def test_junk_operation_names_without_a_token_do_not_spend_the_label_budget(api):
    for i in range(250):
        api.post("{ __typename }", token="bad", operation_name=f"Junk{i}")
    api.gql("query FreshAfterJunk { __typename }")
    metrics = api.http.get(f"{api.url}/metrics").text
    assert 'operation="Junk' not in metrics
    assert re.search(r'fusion_graphql_requests_total\{operation="FreshAfterJunk",'
                     r'outcome="allowed"\} 1', metrics)
    assert re.search(r'fusion_graphql_requests_total\{operation="_unauthenticated",'
                     r'outcome="denied:UNAUTHENTICATED"\} [1-9]', metrics)


def _value_of(type_ref: dict, types: dict) -> object:
    """A valid JSON value of an input type (introspected), for the arguments not under test."""
    while type_ref["kind"] == "NON_NULL":
        type_ref = type_ref["ofType"]
    if type_ref["kind"] == "LIST":
        return [_value_of(type_ref["ofType"], types)]
    named = types[type_ref["name"]]
    if named["kind"] == "ENUM":
        return named["enumValues"][0]["name"]
    if named["kind"] == "INPUT_OBJECT":
        return {f["name"]: _value_of(f["type"], types) for f in named["inputFields"]
                if f["type"]["kind"] == "NON_NULL"}
    return {"Int": 1, "Float": 1.0, "Boolean": True, "DateTime": "2024-01-01T00:00:00+00:00",
            "JSON": {}}.get(type_ref["name"], "1")


def _type_text(type_ref: dict) -> str:
    if type_ref["kind"] == "NON_NULL":
        return _type_text(type_ref["ofType"]) + "!"
    if type_ref["kind"] == "LIST":
        return f"[{_type_text(type_ref['ofType'])}]"
    return type_ref["name"]


def _nullable_defaulted_arguments(api) -> list[tuple[str, str, dict, str]]:
    """(operation keyword, field, its arguments, the non-null argument with a default)."""
    schema = api.gql(get_introspection_query(), purpose=None)["__schema"]
    types = {t["name"]: t for t in schema["types"]}
    found = []
    for keyword, root in (("query", schema["queryType"]), ("mutation", schema["mutationType"])):
        for field in types[root["name"]]["fields"]:
            for arg in field["args"]:
                if arg["type"]["kind"] == "NON_NULL" and arg["defaultValue"] is not None:
                    found.append((keyword, field, types, arg["name"]))
    return found


def test_null_for_any_non_null_argument_with_a_default_is_bad_input(api):
    cases = _nullable_defaulted_arguments(api)
    assert {(c[1]["name"], c[3]) for c in cases} >= {("search", "limit"),
                                                     ("neighborhood", "hops")}
    for keyword, field, types, name in cases:
        args = {a["name"]: a for a in field["args"]}
        required = [a for a in args.values() if a["type"]["kind"] == "NON_NULL"
                    and a["defaultValue"] is None]
        declared = ", ".join([f"$v: {_type_text(args[name]['type']).rstrip('!')}"]
                             + [f"${a['name']}: {_type_text(a['type'])}" for a in required])
        passed = ", ".join([f"{name}: $v"] + [f"{a['name']}: ${a['name']}" for a in required])
        variables = {"v": None, **{a["name"]: _value_of(a["type"], types) for a in required}}
        selection = " { __typename }" if _needs_selection(field["type"], types) else ""
        document = f"{keyword}({declared}) {{ {field['name']}({passed}){selection} }}"
        code, error = api.error(document, variables)
        assert code == "BAD_INPUT" and name in error["message"], (document, error)
        literal = f"{keyword} {{ {field['name']}({name}: null){selection} }}"
        assert api.error(literal)[0] == "BAD_INPUT"


def _needs_selection(type_ref: dict, types: dict) -> bool:
    while type_ref["kind"] in ("NON_NULL", "LIST"):
        type_ref = type_ref["ofType"]
    return types[type_ref["name"]]["kind"] in ("OBJECT", "INTERFACE", "UNION")
