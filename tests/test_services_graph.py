"""The graph services as every caller runs them (fusion.services.paths, .neighbourhood,
.entities): answers checked against a small hand-built graph, statements counted through
the observer the GraphQL service uses, arguments checked once."""

from __future__ import annotations

import pytest

from fusion.errors import BadInput, NotFound, TooComplex
from fusion.services.blocking import blocking_calls
from fusion.services.cypher import OBSERVER, read
from fusion.services.entities import lucene_query, search
from fusion.services.models import EntityRef
from fusion.services.neighbourhood import RELS_PER_NODE, neighbourhood
from fusion.services.paths import relationship_paths

pytestmark = pytest.mark.neo4j

# A star: hub phone h called by five phones a..e; e also called f. Regions: r everywhere, f
# only in s. Every node has a property `n` (its position) beside key, label and regions.
STAR = """
CREATE (h:Phone {key: 'h', label: 'hub', regions: ['r'], n: 0})
WITH h
UNWIND range(1, 5) AS i
CREATE (p:Phone {key: ['a','b','c','d','e'][i - 1], regions: ['r'], n: i})
CREATE (p)-[:CALLED {regions: ['r'], count: i}]->(h)
WITH collect(p) AS ps
MATCH (e:Phone {key: 'e'})
CREATE (e)-[:CALLED {regions: ['s'], count: 9}]->(:Phone {key: 'f', regions: ['s'], n: 6})
"""


class Counter:
    """Counts what the observer is told."""

    def __init__(self) -> None:
        self.statements = 0
        self.errors: list[str] = []

    def statement(self) -> None:
        self.statements += 1

    def error(self, kind: str) -> None:
        self.errors.append(kind)


@pytest.fixture(scope="module")
def call(neo4j_settings):
    with blocking_calls(neo4j_settings) as run:
        yield run


@pytest.fixture
def star(empty_graph, neo4j_settings):
    empty_graph.execute_query(STAR, database_=neo4j_settings.neo4j_database)
    return empty_graph


@pytest.fixture
def counter():
    counted = Counter()
    token = OBSERVER.set(counted)
    yield counted
    OBSERVER.reset(token)


def _phone(key: str) -> EntityRef:
    return EntityRef("PHONE", key)


def test_a_path_is_one_statement_and_carries_properties_when_asked(star, call, counter):
    (path,) = call(relationship_paths, _phone("a"), _phone("b"), scope=frozenset({"r"}),
                   properties=True)
    assert counter.statements == 1
    assert [n.key for n in path.nodes] == ["a", "h", "b"]
    assert [n.props["n"] for n in path.nodes] == [1, 0, 2]
    assert [r.properties["count"] for r in path.rels] == [1, 2]
    (bare,) = call(relationship_paths, _phone("a"), _phone("b"), scope=None)
    assert bare == path and all(n.props is None for n in bare.nodes)


def test_path_arguments_are_checked_before_any_statement(call, counter):
    a, b = _phone("a"), _phone("b")
    for kwargs in ({"max_hops": 0}, {"max_hops": 9, "hop_limit": 8}, {"limit": 0},
                   {"limit": 11, "limit_cap": 10}, {"rel_types": []},
                   {"rel_types": ["KNOWS"]}):
        with pytest.raises(BadInput):
            call(relationship_paths, a, b, scope=None, **kwargs)
    assert call(relationship_paths, a, a, scope=None) == []
    assert counter.statements == 0


def test_the_neighbourhood_is_exact_and_cut_at_the_limit(star, call, counter):
    scope = frozenset({"r"})
    whole = call(neighbourhood, _phone("h"), hops=2, scope=scope, hop_limit=8)
    assert [n.key for n in whole.nodes][0] == "h"
    assert sorted(n.key for n in whole.nodes) == ["a", "b", "c", "d", "e", "h"]  # f: scope s
    assert sorted((r.source.key, r.target.key) for r in whole.rels) == [
        (k, "h") for k in "abcde"]
    assert not whole.truncated and whole.nodes[1].props["n"] in range(1, 6)
    # centre, one expansion, a second that finds nothing new, the relationships
    assert counter.statements == 4
    cut = call(neighbourhood, _phone("h"), hops=1, limit=3, scope=scope, hop_limit=8)
    assert cut.truncated and len(cut.nodes) == 4 and len(cut.rels) <= RELS_PER_NODE * 3
    wider = call(neighbourhood, _phone("e"), hops=1, scope=frozenset({"r", "s"}),
                 hop_limit=8, rel_types=["CALLED"])
    assert sorted(n.key for n in wider.nodes) == ["e", "f", "h"]


def test_a_centre_outside_scope_is_not_found_and_bad_hops_are_bad_input(star, call):
    with pytest.raises(NotFound):
        call(neighbourhood, _phone("f"), scope=frozenset({"r"}), hop_limit=8)
    with pytest.raises(BadInput):
        call(neighbourhood, _phone("h"), hops=9, scope=frozenset({"r"}), hop_limit=8)
    with pytest.raises(BadInput):
        call(neighbourhood, _phone("h"), limit=0, scope=frozenset({"r"}), hop_limit=8)


def test_search_puts_the_exact_key_first_and_stays_in_scope(star, call, counter,
                                                            neo4j_settings):
    star.execute_query("CREATE (:Phone {key: '+8613800000001', label: 'hub line', "
                       "regions: ['r'], n: 7})", database_=neo4j_settings.neo4j_database)
    scope = frozenset({"r"})
    exact = call(search, "138 0000 0001", scope=scope)
    assert exact[0].key == "+8613800000001" and exact[0].props["n"] == 7
    assert counter.statements == 1  # the exact keys and the full-text index, in one statement
    assert sorted(h.key for h in call(search, "hub", scope=scope)) == ["+8613800000001", "h"]
    assert len(call(search, "hub", scope=scope, limit=1)) == 1
    assert call(search, "f", kinds=["PHONE"], scope=scope) == []
    assert [h.key for h in call(search, "f", kinds=["PHONE"], scope=frozenset({"s"}))] == ["f"]
    with pytest.raises(BadInput):
        call(search, "   ", scope=scope)


def test_lucene_query_quotes_every_word():
    assert lucene_query('ab "c') == '"ab" OR ab* OR "\\"c"'
    with pytest.raises(BadInput):
        lucene_query("x " * 17)


def test_a_statement_past_the_timeout_is_too_complex_and_observed(neo4j_settings, counter):
    slow = "UNWIND range(1, 200000000) AS x RETURN sum(x) AS s"
    with blocking_calls(neo4j_settings, query_timeout=0.05) as hurried:
        with pytest.raises(TooComplex):
            hurried(read, slow)
        assert hurried(read, "RETURN 1 AS one")[0]["one"] == 1
    assert counter.statements == 2 and counter.errors == ["timeout"]
