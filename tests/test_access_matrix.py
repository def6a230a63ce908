"""Access rules through real HTTP against the running service and the real Neo4j.

A matrix of roles x operations x document form x purpose, and of roles x scopes, asserting the
exact outcome and code of each request; cross-region facts of the fixture scenario that only a
joint operation reveals; closed and expired operations; the operators' allowlist; and the audit
log: one record per request (denials included), and tampering found by `fusion audit verify`.

Expectations come from the contract's access rules, written out below independently of
fusion.auth's own table.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import networkx as nx
import pytest

from fusion.auth.audit import audit_path

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

A, B, C = "330100", "440300", "510100"
ROLES = ("admin", "analyst", "operator", "auditor", "service")

# The contract: what each role may do, and what each operation is.
DATA_OPS = ("Entity", "Search", "Neighborhood", "RelationshipPaths", "Gangs", "GangOf",
            "CoTravel", "CoTravelGroups", "Timeline")
KIND_OF = {**{op: "data" for op in DATA_OPS}, "SavedQueries": "list saved",
           "RunSavedQuery": "run saved", "SaveQuery": "save", "JointOperations": "list ops",
           "CreateJointOperation": "manage ops", "CloseJointOperation": "manage ops",
           "AuditLog": "audit", "ApproveSavedQuery": "approve",
           "RevokeSavedQueryApproval": "approve"}
MAY = {
    "admin": set(KIND_OF.values()),
    "analyst": {"data", "save", "list saved", "run saved", "list ops"},
    "operator": {"list saved", "run saved"},   # and data only through approved saved documents
    "auditor": {"audit"},
    "service": {"data", "list saved", "run saved", "list ops"},
}
NEEDS_PURPOSE = {"data", "run saved"}


def saved_document(name: str) -> str:
    return files("queries").joinpath("saved", f"{name}.graphql").read_text("utf-8")


def ad_hoc(document: str) -> str:
    """The same operation, but not a saved document (its text, and so its hash, differ)."""
    return "# written by hand\n" + document


def expected(role: str, op: str, form: str, purpose: bool) -> str:
    """The outcome the contract gives: "allowed" or an error code."""
    kind = KIND_OF[op]
    if role == "operator" and form == "ad hoc" and kind not in {"list saved", "run saved"}:
        return "FORBIDDEN"  # an operator writes only documents that list or run saved queries
    may = kind in MAY[role] or (role == "operator" and kind == "data")
    if not may:
        return "FORBIDDEN"
    if kind in NEEDS_PURPOSE and not purpose:
        return "PURPOSE_REQUIRED"
    return "allowed"


def outcome(response) -> str:
    body = response.json()
    if response.status_code == 200 and not body.get("errors"):
        return "allowed"
    return body["errors"][0]["extensions"]["code"]


def ref(kind: str, key: str) -> dict:
    return {"kind": kind, "key": key}


@pytest.fixture(scope="module")
def facts(api) -> dict:
    """Arguments of every operation, visible to a caller whose home region is A."""
    truth = api.truth
    chain = truth["fraud_chain"]
    assert chain["victim_region"] == A
    gang = next(g for g in truth["gangs"] if g["kind"] == "gang" and g["regions"] == [A])
    pair = truth["cross_region_pair"]["members"]
    victim = ref("PERSON", chain["victim"])
    target = "MatrixApprovalTarget"  # an analyst's query the admins approve and revoke
    api.gql(saved_document("SaveQuery"), {
        "name": target, "description": "approved and revoked by the matrix",
        "document": "query MatrixApprovalTarget { savedQueries { name } }"},
        user="matrix-owner", regions=(A,))
    return {
        "victim": victim, "gang_member": ref("PERSON", gang["members"][0]),
        "pair": pair, "chain": chain,
        "variables": {
            "Entity": {"ref": victim},
            "Search": {"text": chain["victim"]},
            "Neighborhood": {"ref": victim},
            "RelationshipPaths": {"from": victim, "to": ref("PHONE", chain["victim_phone"])},
            "Gangs": {},
            "GangOf": {"person": ref("PERSON", gang["members"][0])},
            "CoTravel": {"subject": pair[0]},
            "CoTravelGroups": {},
            "Timeline": {"ref": victim},
            "SavedQueries": {},
            "RunSavedQuery": {"name": "Entity", "variables": {"ref": victim}},
            "SaveQuery": {"name": "MatrixQuery", "description": "matrix",
                          "document": saved_document("Entity")},
            "JointOperations": {},
            "CreateJointOperation": {"name": "Matrix", "regions": [A, B], "members": ["x"],
                                     "validUntil": (datetime.now(UTC) + timedelta(days=1))
                                     .isoformat()},
            "CloseJointOperation": {"id": "set below"},
            "AuditLog": {"limit": 5},
            "ApproveSavedQuery": {"name": target},
            "RevokeSavedQueryApproval": {"name": target},
        },
    }


@pytest.fixture(scope="module")
def joint(api) -> dict:
    """Joint operations over A and B: open (members: the matrix users), closed, and expired."""
    create = saved_document("CreateJointOperation")
    members = [f"{role}-user" for role in ROLES]

    def make(name: str, until: datetime) -> str:
        data = api.gql(create, {"name": name, "regions": [A, B], "members": members,
                                "validUntil": until.isoformat()}, role="admin")
        return data["createJointOperation"]["id"]
    soon = datetime.now(UTC) + timedelta(seconds=3)
    ops = {"open": make("Open", datetime.now(UTC) + timedelta(days=1)),
           "closed": make("Closed", datetime.now(UTC) + timedelta(days=1)),
           "expired": make("Expired", soon),
           "others": None}
    api.gql(saved_document("CloseJointOperation"), {"id": ops["closed"]}, role="admin")
    data = api.gql(create, {"name": "Others", "regions": [A, B], "members": ["somebody-else"],
                            "validUntil": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
                   role="admin")
    ops["others"] = data["createJointOperation"]["id"]
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
    return ops


def send(api, role: str, op: str, facts: dict, joint: dict, *, form: str = "saved",
         purpose: bool = True, regions=(A,)):
    variables = dict(facts["variables"][op])
    if op == "CloseJointOperation":
        variables["id"] = joint["closed"]
    if op == "SaveQuery":
        variables["name"] = f"Matrix_{role}"
    document = saved_document(op)
    if form == "ad hoc":
        document = ad_hoc(document)
    return api.post(document, variables, role=role, regions=regions,
                    purpose="matrix case 1" if purpose else None, operation_name=op)


def last_record(api) -> dict:
    return json.loads(audit_path(api.settings.home).read_text("utf-8").splitlines()[-1])


@pytest.mark.parametrize("purpose", [True, False], ids=["purpose", "no-purpose"])
@pytest.mark.parametrize("form", ["saved", "ad hoc"])
@pytest.mark.parametrize("op", list(KIND_OF))
@pytest.mark.parametrize("role", ROLES)
def test_role_operation_matrix(api, facts, joint, role, op, form, purpose):
    want = expected(role, op, form, purpose)
    response = send(api, role, op, facts, joint, form=form, purpose=purpose)
    assert outcome(response) == want, response.text[:500]
    record = last_record(api)
    assert record["outcome"] == ("allowed" if want == "allowed" else f"denied:{want}")
    assert (record["user"], record["role"], record["operation_name"]) == (
        f"{role}-user", role, op)


SCOPES = {
    "home": (None, "allowed"),
    "home subset": ({"regions": [A]}, "allowed"),
    "beyond home": ({"regions": [B]}, "FORBIDDEN"),
    "home and beyond": ({"regions": [A, B]}, "FORBIDDEN"),
    "empty": ({"regions": []}, "BAD_INPUT"),
    "open joint operation": ({"jointOperation": "open"}, "allowed"),
    "open joint operation, subset": ({"jointOperation": "open", "regions": [A]}, "allowed"),
    "open joint operation, outside it": ({"jointOperation": "open", "regions": [C]},
                                         "FORBIDDEN"),
    "joint operation of others": ({"jointOperation": "others"}, "FORBIDDEN"),
    "closed joint operation": ({"jointOperation": "closed"}, "FORBIDDEN"),
    "expired joint operation": ({"jointOperation": "expired"}, "FORBIDDEN"),
    "unknown joint operation": ({"jointOperation": "no-such-operation"}, "FORBIDDEN"),
}


def scope_input(name: str, joint: dict) -> dict | None:
    given, _ = SCOPES[name]
    if given is None:
        return None
    scope = dict(given)
    if "jointOperation" in scope:
        scope["jointOperation"] = joint.get(scope["jointOperation"], scope["jointOperation"])
    return scope


@pytest.mark.parametrize("scope", list(SCOPES))
@pytest.mark.parametrize("op", ["Entity", "Search", "RelationshipPaths", "CoTravel", "Gangs"])
@pytest.mark.parametrize("role", ["admin", "analyst", "service"])
def test_role_scope_matrix(api, facts, joint, role, op, scope):
    variables = {**facts["variables"][op], "scope": scope_input(scope, joint)}
    response = api.post(saved_document(op), variables, role=role, regions=(A,),
                        operation_name=op)
    assert outcome(response) == SCOPES[scope][1], response.text[:500]


def test_operator_runs_saved_queries_within_its_home_scope(api, facts, joint):
    run = saved_document("RunSavedQuery")
    inside = api.gql(run, {"name": "Entity", "variables": {"ref": facts["victim"]}},
                     role="operator", regions=(A,))
    assert inside["runSavedQuery"]["entity"]["key"] == facts["victim"]["key"]
    response = api.post(run, {"name": "Entity", "variables": {"ref": facts["victim"]}},
                        role="operator", regions=(B,))
    assert outcome(response) == "NOT_FOUND"


def test_operator_may_not_run_a_saved_audit_or_admin_query(api):
    run = saved_document("RunSavedQuery")
    for name in ("AuditLog", "JointOperations"):
        response = api.post(run, {"name": name}, role="operator", regions=(A,))
        assert outcome(response) == "FORBIDDEN", name


def test_operator_ad_hoc_document_is_refused_before_execution(api, facts):
    response = api.post(ad_hoc(saved_document("Entity")), {"ref": facts["victim"]},
                        role="operator", regions=(A,))
    assert response.status_code == 403 and outcome(response) == "FORBIDDEN"


def test_a_query_saved_by_an_analyst_joins_the_operators_allowlist_only_once_approved(
        api, facts):
    document = ("query MatrixVictimLabel($ref: EntityRef!) "
                "{ entity(ref: $ref) { key label } }")
    variables = {"ref": facts["victim"]}
    api.gql(saved_document("SaveQuery"), {"name": "MatrixVictimLabel", "description": "label",
                                          "document": document}, role="analyst", regions=(A,))
    response = api.post(document, variables, role="operator", regions=(A,))
    assert (response.status_code, outcome(response)) == (403, "FORBIDDEN")
    run = saved_document("RunSavedQuery")
    response = api.post(run, {"name": "MatrixVictimLabel", "variables": variables},
                        role="operator", regions=(A,))
    assert outcome(response) == "NOT_FOUND"
    api.gql(saved_document("ApproveSavedQuery"), {"name": "MatrixVictimLabel"}, role="admin")
    got = api.gql(document, variables, role="operator", regions=(A,))
    assert got["entity"]["key"] == facts["victim"]["key"]
    got = api.gql(run, {"name": "MatrixVictimLabel", "variables": variables}, role="operator",
                  regions=(A,))
    assert got["runSavedQuery"]["entity"]["key"] == facts["victim"]["key"]


# Documents an operator writes: allowed when every root field (through fragments, of every
# operation) lists or runs saved queries; refused before execution otherwise. Variables: $v runs
# the shipped Entity query on the victim, $r is the victim.
OPERATOR_DOCUMENTS = {
    "list": ("{ savedQueries { name } }", "allowed"),
    "typename": ("{ __typename }", "allowed"),
    "run, aliased, through a fragment": (
        "query Mine($v: JSON) { ...Run __typename } "
        "fragment Run on Query { victim: runSavedQuery(name: \"Entity\", variables: $v) "
        "all: savedQueries { name } }", "allowed"),
    "run twice, inline fragment": (
        "query Twice($v: JSON) { ... on Query { a: runSavedQuery(name: \"Entity\", "
        "variables: $v) b: runSavedQuery(name: \"Entity\", variables: $v) } }", "allowed"),
    "data field": ("query($r: EntityRef!) { entity(ref: $r) { key } }", "FORBIDDEN"),
    "data field beside a list": ("query($r: EntityRef!) { savedQueries { name } "
                                 "entity(ref: $r) { key } }", "FORBIDDEN"),
    "data field through nested fragments": (
        "query($r: EntityRef!) { ...A } fragment A on Query { savedQueries { name } ...B } "
        "fragment B on Query { entity(ref: $r) { key } }", "FORBIDDEN"),
    "data field in a second operation": (
        "query L { savedQueries { name } } query D { gangs { id } }", "FORBIDDEN"),
    "introspection": ("{ __schema { queryType { name } } }", "FORBIDDEN"),
    "mutation": ("mutation { __typename }", "FORBIDDEN"),
    "admin field": ("{ auditLog(limit: 1) { hash } }", "FORBIDDEN"),
    "syntax error": ("{ savedQueries { name }", "BAD_INPUT"),
    "over the token limit": ("{ " + "__typename " * 5000 + "}", "TOO_COMPLEX"),
    "large, list only": ("#" + "x" * 200_000 + "\n{ savedQueries { name } }", "allowed"),
    "large, data field": ("#" + "x" * 200_000 + "\n{ gangs { id } }", "FORBIDDEN"),
    "fragment bomb, data field": (
        "query { ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}"
                                      for i in range(22))
        + " fragment F22 on Query { gangs { id } }", "FORBIDDEN"),
}


@pytest.mark.parametrize("case", list(OPERATOR_DOCUMENTS))
def test_operator_documents_that_only_list_or_run_saved_queries(api, facts, case):
    document, want = OPERATOR_DOCUMENTS[case]
    variables = {name: value for name, value in (("v", {"ref": facts["victim"]}),
                                                 ("r", facts["victim"]))
                 if f"${name}:" in document}
    started = time.monotonic()
    response = api.post(document, variables, role="operator", regions=(A,),
                        operation_name="L" if " query D " in document else None)
    assert outcome(response) == want, response.text[:500]
    if want == "FORBIDDEN":
        assert response.status_code == 403  # refused before execution (fragments unexpanded)
        assert time.monotonic() - started < 2.0
    if case == "run, aliased, through a fragment":
        data = response.json()["data"]
        assert data["victim"]["entity"]["key"] == facts["victim"]["key"]
        assert data["__typename"] == "Query" and data["all"]
    record = last_record(api)
    assert record["outcome"] == ("allowed" if want == "allowed" else
                                 "denied:FORBIDDEN" if want == "FORBIDDEN" else
                                 f"failed:{want}")
    assert (record["user"], record["role"]) == ("operator-user", "operator")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz"])
def test_missing_or_malformed_token_is_401(api, header):
    headers = {"X-Purpose": "x"} | ({"Authorization": header} if header else {})
    response = api.http.post(f"{api.url}/graphql", headers=headers,
                             json={"query": saved_document("SavedQueries")})
    assert response.status_code == 401 and outcome(response) == "UNAUTHENTICATED"
    assert last_record(api)["outcome"] == "denied:UNAUTHENTICATED"


def test_expired_and_foreign_tokens_are_401(api):
    from fusion.auth import issue_token

    old = datetime.now(UTC) - timedelta(hours=2)
    expired = issue_token(api.settings.secret.get_secret_value().encode(), "analyst-user",
                          "analyst", [A], timedelta(hours=1), now=old)
    foreign = issue_token(b"f" * 32, "analyst-user", "admin", [A], timedelta(hours=1))
    for token in (expired, foreign):
        response = api.post(saved_document("SavedQueries"), token=token)
        assert response.status_code == 401 and outcome(response) == "UNAUTHENTICATED"


# -- cross-region facts: invisible alone, visible inside the joint operation ------------------

def pairs_of(api, subject: dict, **kw) -> dict:
    data = api.gql(saved_document("CoTravel"), {"subject": subject, **kw.pop("variables", {})},
                   **kw)
    return {frozenset((p["a"]["key"], p["b"]["key"])): p for p in data["coTravel"]}


def test_cross_region_co_travel_pair_needs_the_joint_operation(api, facts, joint):
    pair = facts["pair"]
    truth = api.truth["cross_region_pair"]
    key = frozenset(m["key"] for m in pair)
    for region in truth["regions"]:
        alone = pairs_of(api, pair[0], regions=(region,), user="analyst-user")
        assert key not in alone, region
    inside = pairs_of(api, pair[0], regions=(A,), user="analyst-user",
                      variables={"scope": {"jointOperation": joint["open"]}})
    assert key in inside
    assert inside[key]["meetings"] == truth["meetings_total"]
    assert inside[key]["distinctSensors"] == truth["distinct_sensors_total"]


def visible_graph(cypher, scope: set[str]) -> nx.Graph:
    """Every visible element, SEEN_AT excluded (the contract's default path types)."""
    rows = cypher("MATCH (a)-[r]->(b) WHERE type(r) <> 'SEEN_AT' "
                  "AND any(g IN a.regions WHERE g IN $s) AND any(g IN b.regions WHERE g IN $s) "
                  "AND any(g IN r.regions WHERE g IN $s) RETURN a.key AS a, b.key AS b",
                  s=sorted(scope))
    return nx.Graph([(r["a"], r["b"]) for r in rows])


def test_fraud_chain_path_needs_the_joint_operation(api, facts, joint, cypher):
    chain = facts["chain"]
    variables = {"from": facts["victim"], "to": ref("PERSON", chain["gang_member"]),
                 "maxHops": 6, "limit": 3}
    document = saved_document("RelationshipPaths")
    for region in (A, B):
        response = api.post(document, variables, role="analyst", regions=(region,))
        assert outcome(response) == "NOT_FOUND", region  # one end is outside the scope
    inside = api.gql(document, {**variables, "scope": {"jointOperation": joint["open"]}},
                     role="analyst", regions=(A,))["relationshipPaths"]
    graph = visible_graph(cypher, {A, B})
    shortest = nx.shortest_path_length(graph, chain["victim"], chain["gang_member"])
    assert inside and inside[0]["length"] == shortest
    keys = {n["key"] for n in inside[0]["nodes"]}
    assert {chain["victim"], chain["gang_member"]} <= keys
    assert all(set(n["regions"]) & {A, B} for n in inside[0]["nodes"])


def test_closed_operation_hides_the_cross_region_facts_again(api, facts):
    create, close = saved_document("CreateJointOperation"), saved_document("CloseJointOperation")
    op = api.gql(create, {"name": "Short", "regions": [A, B], "members": ["analyst-user"],
                          "validUntil": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
                 role="admin")["createJointOperation"]["id"]
    variables = {"subject": facts["pair"][0], "scope": {"jointOperation": op}}
    assert outcome(api.post(saved_document("CoTravel"), variables, regions=(A,))) == "allowed"
    api.gql(close, {"id": op}, role="admin")
    assert outcome(api.post(saved_document("CoTravel"), variables, regions=(A,))) == "FORBIDDEN"


def test_joint_operations_list_shows_members_only_their_own(api, joint):
    listed = saved_document("JointOperations")
    mine = {o["id"] for o in api.gql(listed, role="analyst")["jointOperations"]}
    everything = {o["id"] for o in api.gql(listed, role="admin")["jointOperations"]}
    assert {joint["open"], joint["closed"], joint["expired"]} <= mine
    assert joint["others"] not in mine and joint["others"] in everything
    states = {o["id"]: o["open"] for o in api.gql(listed, role="admin")["jointOperations"]}
    assert (states[joint["open"]], states[joint["closed"]], states[joint["expired"]]) == (
        True, False, False)


# -- the audit log ----------------------------------------------------------------------------

def audit_lines(api) -> list[bytes]:
    # Records are split at "\n" only: str.splitlines would also split at U+2028 inside values.
    return audit_path(api.settings.home).read_bytes().splitlines(keepends=True)


def test_every_request_gives_exactly_one_record_with_its_outcome(api, facts, joint):
    before = len(audit_lines(api))
    entity = saved_document("Entity")
    victim = {"ref": facts["victim"]}
    requests = [
        (lambda: api.post(entity, victim, regions=(A,)), "allowed"),
        (lambda: api.post(entity, victim, regions=(A,), purpose=None),
         "denied:PURPOSE_REQUIRED"),
        (lambda: api.post(entity, {**victim, "scope": {"regions": [B]}}, regions=(A,)),
         "denied:FORBIDDEN"),
        (lambda: api.post(entity, victim, role="auditor", regions=(A,)), "denied:FORBIDDEN"),
        (lambda: api.post(ad_hoc(entity), victim, role="operator", regions=(A,)),
         "denied:FORBIDDEN"),
        (lambda: api.post(entity, victim, token="not-a-token"), "denied:UNAUTHENTICATED"),
        (lambda: api.post(entity, {"ref": ref("PERSON", "nobody")}, regions=(A,)),
         "failed:BAD_INPUT"),
        (lambda: api.post("{ nonsense", {}, regions=(A,)), "failed:BAD_INPUT"),
        (lambda: api.post(saved_document("AuditLog"), {"limit": 3}, role="auditor"), "allowed"),
    ]
    for send_one, _ in requests:
        send_one()
    new = [json.loads(line) for line in audit_lines(api)[before:]]
    assert [r["outcome"] for r in new] == [want for _, want in requests]


def test_record_fields_describe_the_request(api, facts):
    entity = saved_document("Entity")
    api.post(entity, {"ref": facts["victim"]}, regions=(A,), user="fields-user",
             purpose="case 2024/77", operation_name="Entity")
    record = last_record(api)
    assert record["user"] == "fields-user" and record["role"] == "analyst"
    assert record["document_hash"] == hashlib.sha256(entity.encode()).hexdigest()
    assert record["variables"] == {"ref": facts["victim"]}
    assert (record["purpose"], record["scope"], record["result_count"]) == (
        "case 2024/77", [A], 1)
    assert abs(datetime.fromisoformat(record["at"]) - datetime.now(UTC)) < timedelta(minutes=1)


def test_audit_log_query_returns_the_newest_records_first(api):
    api.post(saved_document("SavedQueries"), user="recent-user", role="analyst")
    rows = api.gql(saved_document("AuditLog"), {"user": "recent-user", "limit": 1},
                   role="auditor")["auditLog"]
    record = last_record(api)  # the AuditLog request itself
    assert rows[0]["user"] == "recent-user"
    assert rows[0]["hash"] == json.loads(audit_lines(api)[-2])["hash"]
    assert record["user"] == "auditor-user" and record["outcome"] == "allowed"


def verify(home: Path, *args: str, settings=None) -> subprocess.CompletedProcess:
    env = {"FUSION_HOME": str(home), "PATH": "/usr/bin:/bin"}
    if settings is not None:  # the session's managed Neo4j, which holds the log's checkpoint
        env |= {"FUSION_DB_BOLT_PORT": str(settings.db_bolt_port),
                "FUSION_DB_HTTP_PORT": str(settings.db_http_port)}
    return subprocess.run([sys.executable, "-m", "fusion.cli", "audit", "verify", *args],
                          capture_output=True, text=True, env=env)


def test_the_live_log_verifies(api):
    done = verify(api.settings.home, settings=api.settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok, {len(audit_lines(api))} records" in done.stdout


@pytest.mark.parametrize("change", ["edit", "delete", "reorder", "insert"])
def test_tampering_with_a_copy_of_the_live_log_is_found(api, tmp_path, change):
    original = audit_lines(api)
    assert len(original) > 10
    k = len(original) // 2
    lines = list(original)
    if change == "edit":
        stored = json.loads(lines[k])
        stored["outcome"] = "allowed" if stored["outcome"] != "allowed" else "denied:FORBIDDEN"
        lines[k] = (json.dumps(stored, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False) + "\n").encode()
    elif change == "delete":
        del lines[k]
    elif change == "reorder":
        lines[k], lines[k + 1] = lines[k + 1], lines[k]
    else:
        lines.insert(k, original[k - 3])
    copy = audit_path(tmp_path)
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"".join(lines))
    done = verify(tmp_path, "--no-checkpoint")
    assert done.returncode == 1
    assert f"line {k + 1}:" in done.stdout
