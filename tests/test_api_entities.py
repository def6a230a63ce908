"""entity and search through real HTTP against the fixture scenario (expected values by Cypher)."""

from __future__ import annotations

import pytest

from fusion.api.nodes import json_properties

pytestmark = pytest.mark.neo4j
pytest_plugins = ["tests.api_support"]

ENTITY = """query($ref: EntityRef!, $scope: ScopeInput) {
  entity(ref: $ref, scope: $scope) { kind key label regions properties }
}"""
SEARCH = """query($text: String!, $kinds: [EntityKind!], $limit: Int, $scope: ScopeInput) {
  search(text: $text, kinds: $kinds, limit: $limit, scope: $scope) { kind key label regions }
}"""


def _node(cypher, label: str, key: str) -> dict:
    rows = cypher(f"MATCH (n:{label} {{key: $key}}) RETURN properties(n) AS p", key=key)
    return rows[0]["p"]


def test_entity_by_canonical_key_returns_the_node(api, cypher):
    key = api.truth["fraud_chain"]["victim"]
    props = _node(cypher, "Person", key)
    got = api.gql(ENTITY, {"ref": {"kind": "PERSON", "key": key}})["entity"]
    assert got == {"kind": "PERSON", "key": key, "label": props["label"],
                   "regions": props["regions"], "properties": json_properties(props)}


def test_entity_by_raw_phone_key_finds_the_canonical_phone(api):
    phone = api.truth["fraud_chain"]["victim_phone"]          # +86 1xx xxxx xxxx
    national = phone.removeprefix("+86")
    raw = f"{national[:3]} {national[3:7]}-{national[7:]}"
    got = api.gql(ENTITY, {"ref": {"kind": "PHONE", "key": raw}})["entity"]
    assert got["key"] == phone


def test_entity_that_does_not_exist_is_not_found(api, cypher):
    phone = "+8613000000001"
    assert not cypher("MATCH (n:Phone {key: $k}) RETURN n", k=phone)
    code, error = api.error(ENTITY, {"ref": {"kind": "PHONE", "key": phone}})
    assert code == "NOT_FOUND" and error["path"] == ["entity"]


def test_entity_key_that_cannot_be_normalized_is_bad_input(api):
    code, _ = api.error(ENTITY, {"ref": {"kind": "PHONE", "key": "not a phone"}})
    assert code == "BAD_INPUT"


def test_entity_outside_the_callers_regions_is_not_found(api, cypher):
    key = api.truth["fraud_chain"]["victim"]
    regions = _node(cypher, "Person", key)["regions"]
    other = next(r for r in ("330100", "440300", "510100") if r not in regions)
    code, _ = api.error(ENTITY, {"ref": {"kind": "PERSON", "key": key}}, regions=(other,))
    assert code == "NOT_FOUND"


def test_scope_beyond_the_callers_regions_is_forbidden(api):
    key = api.truth["fraud_chain"]["victim"]
    code, _ = api.error(ENTITY, {"ref": {"kind": "PERSON", "key": key},
                                 "scope": {"regions": ["510100"]}}, regions=("330100",))
    assert code == "FORBIDDEN"


def test_search_finds_a_person_by_name(api, cypher):
    key = api.truth["fraud_chain"]["gang_member"]
    name = _node(cypher, "Person", key)["name"]
    hits = api.gql(SEARCH, {"text": name, "kinds": ["PERSON"], "limit": 50})["search"]
    assert key in [h["key"] for h in hits]
    assert {h["kind"] for h in hits} == {"PERSON"}


def test_search_by_raw_key_puts_the_exact_match_first(api):
    phone = api.truth["fraud_chain"]["mule_phone"]
    hits = api.gql(SEARCH, {"text": phone.removeprefix("+86")})["search"]
    assert hits[0] == {**hits[0], "kind": "PHONE", "key": phone}


def test_search_hits_stay_inside_scope(api, cypher):
    rows = cypher("MATCH (p:Person) WHERE p.regions = ['440300'] RETURN p.name AS name LIMIT 20")
    surname = rows[0]["name"][0]                    # a common one-character surname
    for regions in (("330100",), ("440300",), ("330100", "510100")):
        hits = api.gql(SEARCH, {"text": surname, "limit": 200}, regions=regions)["search"]
        assert all(set(h["regions"]) & set(regions) for h in hits)
    inside = api.gql(SEARCH, {"text": surname, "limit": 200}, regions=("440300",))["search"]
    assert inside, "the surname of a 440300 person is found in 440300"


@pytest.mark.parametrize("text", ['a:(b', '"', '*', 'AND OR NOT', '\\', 'x~2 ^3 [a TO b]',
                                  '!!!', '/regex/', '+8613 && ||'])
def test_search_text_with_lucene_syntax_is_safe(api, text):
    response = api.post(SEARCH, {"text": text})
    assert response.status_code == 200 and "errors" not in response.json()


def test_search_of_empty_text_is_bad_input(api):
    code, _ = api.error(SEARCH, {"text": "   "})
    assert code == "BAD_INPUT"


def test_person_phones_are_the_visible_uses_relationships(api, cypher):
    key = api.truth["fraud_chain"]["gang_member"]
    expected = {r["k"] for r in cypher(
        "MATCH (:Person {key: $key})-[:USES]->(f:Phone) RETURN f.key AS k", key=key)}
    data = api.gql("""query($ref: EntityRef!) {
      entity(ref: $ref) { ... on Person { phones { key users { key } } } } }""",
                   {"ref": {"kind": "PERSON", "key": key}})
    phones = data["entity"]["phones"]
    assert {p["key"] for p in phones} == expected
    assert all(key in {u["key"] for u in p["users"]} for p in phones)
