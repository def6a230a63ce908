"""The HTTP surface of the running service: authentication, purpose, the operators' allowlist,
query limits, error codes, the console page, health, readiness, metrics, and the audit record
written before each response."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from fusion.auth import issue_token
from fusion.auth.audit import audit_path

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

ENTITY = "query Entity($ref: EntityRef!) { entity(ref: $ref) { key label } }"


def _ref(api) -> dict:
    return {"ref": {"kind": "PERSON", "key": api.truth["fraud_chain"]["victim"]}}


def _last_audit(api) -> dict:
    lines = audit_path(api.settings.home).read_text().splitlines()
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
    assert adhoc.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
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
    before = len(path.read_text().splitlines())
    api.post(ENTITY, _ref(api))                       # allowed
    api.post(ENTITY, _ref(api), purpose=None)         # denied
    api.post("{ entity", None)                        # failed
    api.post(ENTITY, _ref(api), token="bad")          # unauthenticated
    records = [json.loads(x) for x in path.read_text().splitlines()[before:]]
    assert [r["outcome"] for r in records] == [
        "allowed", "denied:PURPOSE_REQUIRED", "failed:BAD_INPUT", "denied:UNAUTHENTICATED"]
    assert records[0]["result_count"] == 1 and records[0]["purpose"] == "test case 1"
    assert all(r["prev_hash"] == p["hash"] for p, r in zip(records, records[1:], strict=False))


def test_responses_carry_a_request_id_that_errors_repeat(api):
    response = api.post(ENTITY, {"ref": {"kind": "CASE", "key": "NO-SUCH-CASE-2"}})
    rid = response.headers["x-request-id"]
    assert response.json()["errors"][0]["extensions"]["requestId"] == rid
