"""Cypher statements per request, read from the service's own metric
``fusion_graphql_request_statements``: entities an answer already holds are never read again
one by one, and lookups of several entities are one batched statement whatever their kinds.

The tests run one request at a time against the session's server, so the change of the
metric's total across a request is that request's statements. Answers are checked against
the same entities read on their own through ``entity``.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

FIELDS = """kind key label regions properties
  ... on Person { name }
  ... on Case { caseType reportedAt summary }
  ... on Parcel { carrier shippedAt deliveredAt }
  ... on Sensor { lat lon }"""
PATHS = f"""query($from: EntityRef!, $to: EntityRef!, $maxHops: Int, $scope: ScopeInput) {{
  relationshipPaths(from: $from, to: $to, maxHops: $maxHops, limit: 3, scope: $scope) {{
    length
    nodes {{ {FIELDS} }}
    rels {{ type from {{ {FIELDS} }} to {{ {FIELDS} }} }}
  }}
}}"""
ENTITY = f"query($ref: EntityRef!) {{ entity(ref: $ref) {{ {FIELDS} }} }}"
SEARCH = f"""query($text: String!) {{
  search(text: $text, limit: 20) {{ {FIELDS} ... on Person {{ phones {{ key label }} }} }}
}}"""
COTRAVEL = f"""query($window: Int) {{
  coTravel(windowSeconds: $window, limit: 50) {{ a {{ {FIELDS} }} b {{ {FIELDS} }} }}
}}"""


def _total(api) -> float:
    body = api.http.get(f"{api.url}/metrics").text
    return sum(s.value for family in text_string_to_metric_families(body)
               if family.name == "fusion_graphql_request_statements"
               for s in family.samples if s.name.endswith("_sum"))


def _counted(api, send):
    """(what ``send()`` returned, Cypher statements the request ran)."""
    before = _total(api)
    result = send()
    return result, round(_total(api) - before)


def _ref(kind: str, key: str) -> dict:
    return {"kind": kind, "key": key}


def _alone(api, entity: dict) -> dict:
    """The entity as `entity` reads it on its own."""
    return api.gql(ENTITY, {"ref": _ref(entity["kind"], entity["key"])})["entity"]


def test_paths_are_one_statement_with_the_entities_entity_reads(api):
    chain = api.truth["fraud_chain"]
    variables = {"from": _ref("PERSON", chain["victim"]),
                 "to": _ref("PERSON", chain["gang_member"]), "maxHops": 8}
    data, statements = _counted(api, lambda: api.gql(PATHS, variables))
    paths = data["relationshipPaths"]
    entities = {(e["kind"], e["key"]): e for p in paths
                for e in [*p["nodes"], *(x for r in p["rels"] for x in (r["from"], r["to"]))]}
    assert paths and len({kind for kind, _ in entities}) >= 2
    assert statements == 1
    for entity in entities.values():
        assert entity == _alone(api, entity)


def test_paths_without_a_path_read_both_ends_in_one_statement(api):
    chain = api.truth["fraud_chain"]
    variables = {"from": _ref("PERSON", chain["victim"]),
                 "to": _ref("PHONE", chain["gang_member_phone"]), "maxHops": 1}
    data, statements = _counted(api, lambda: api.gql(PATHS, variables))
    assert data["relationshipPaths"] == [] and statements == 2


def test_paths_with_an_end_outside_scope_are_not_found_after_two_statements(api):
    chain = api.truth["fraud_chain"]
    variables = {"from": _ref("PERSON", chain["victim"]),
                 "to": _ref("PERSON", chain["gang_member"]), "maxHops": 8}
    (code, _), statements = _counted(api, lambda: api.error(
        PATHS, variables, regions=(chain["victim_region"],)))
    assert code == "NOT_FOUND" and statements == 2


def test_search_is_one_statement_whatever_the_kinds(api):
    from loaders.normalize import InvalidValue, canonical_key
    from queries.model import KIND_LABELS

    text = api.truth["fraud_chain"]["victim"]
    kinds = []
    for kind in KIND_LABELS:
        try:
            canonical_key(kind, text)
        except InvalidValue:
            continue
        kinds.append(kind)
    data, statements = _counted(api, lambda: api.gql(SEARCH, {"text": text}))
    hits = data["search"]
    assert len(kinds) >= 2 and hits[0]["key"] == text
    # exact keys (every kind at once) with the full-text index, then phones of the people
    assert statements == 2
    for hit in hits:
        alone = _alone(api, hit)
        assert {k: v for k, v in hit.items() if k != "phones"} == alone


def test_co_travel_pairs_read_their_entities_in_one_statement(api):
    window = api.truth["cotravel_defaults"]["window_s"]
    data, statements = _counted(api, lambda: api.gql(COTRAVEL, {"window": window}))
    pairs = data["coTravel"]
    entities = {(e["kind"], e["key"]): e for p in pairs for e in (p["a"], p["b"])}
    assert len(entities) >= 3
    assert statements == 1
    for entity in entities.values():
        assert entity == _alone(api, entity)
