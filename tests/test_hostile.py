"""The hostile-input suite: what an attacker with (or without) a token sends, against the
running service.

Over a thousand malformed requests — raw bodies (non-UTF-8, deep JSON, wrong JSON types, huge
strings), documents (fragment cycles and bombs, alias and depth tricks through fragments and
variables, garbage), variables of the wrong shape and bogus operation names — from seeded
hand-written generators and hypothesis strategies, then schemathesis cases from the schema.
Every answer must be below 500 and free of tracebacks, Cypher and file paths, and the audit log
must hold exactly one record per request sent. A flood of fragment bombs from 32 clients must
leave /healthz answering promptly.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.fuzz_scalars  # noqa: F401  (registers DateTime and JSON)
from fusion.auth.audit import audit_path

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]
pytest_plugins = ["tests.api_support"]

MIN_MALFORMED = 1000
SEED = 13
# What must never reach a client unless the client sent it itself.
LEAKS = {
    "traceback": re.compile(r"Traceback|File \"|line \d+, in "),
    "cypher": re.compile(r"\b(MATCH|RETURN|MERGE|UNWIND|DETACH|OPTIONAL MATCH)\b|\(\w*:\w+\)"),
    "path": re.compile(r"(/[\w.-]+){2,}\.py|/work/|/tmp/|/home/|site-packages|\.venv"),
}


@dataclass
class Sent:
    """Requests sent to /graphql and what was wrong with their answers."""

    count: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)

    def check(self, label: str, request_text: str, response: httpx.Response) -> None:
        """Count one answered request; note a 5xx or a leak."""
        self.count += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.failures.append((label, response.status_code, response.text[:300]))
        for kind, pattern in LEAKS.items():
            if pattern.search(response.text) and not pattern.search(request_text):
                self.failures.append((label, kind, response.text[:300]))


def _audit_count(api) -> int:
    """Outcome records in the audit log: one per request (a mutation that passed its guard
    also leaves an ``intent`` record before it runs; those are not requests)."""
    lines = audit_path(api.settings.home).read_bytes().splitlines()
    return sum(1 for line in lines if json.loads(line)["outcome"] != "intent")


# -- hand-written generators -------------------------------------------------------------------

def _bombs(rng: random.Random) -> Iterator[str]:
    """Fragment bombs of several widths and heights, at the root and inside fields."""
    for _ in range(40):
        levels, width = rng.randint(5, 40), rng.randint(2, 5)
        spreads = " ".join(["...F{}"] * width)
        parts = [f"fragment F{i} on Query {{ {spreads.format(*[i + 1] * width)} }}"
                 for i in range(levels)]
        parts.append(f"fragment F{levels} on Query {{ savedQueries {{ name }} }}")
        yield "query Bomb { ...F0 } " + " ".join(parts)
    for _ in range(20):
        levels = rng.randint(8, 30)
        parts = [f"fragment P{i} on Person {{ ...P{i + 1} ...P{i + 1} name }}"
                 for i in range(levels)]
        parts.append(f"fragment P{levels} on Person {{ key }}")
        yield ('query($r: EntityRef!) { entity(ref: $r) { ... on Person { ...P0 } } } '
               + " ".join(parts))


def _cycles(rng: random.Random) -> Iterator[str]:
    """Fragment graphs with a cycle somewhere, and spreads of fragments never defined."""
    for _ in range(60):
        n = rng.randint(1, 12)
        edges = {i: rng.sample(range(n), rng.randint(1, min(n, 4))) for i in range(n)}
        body = " ".join(
            f"fragment C{i} on Query {{ {' '.join(f'...C{j}' for j in edges[i])} __typename }}"
            for i in range(n))
        yield "{ ...C0 } " + body
    for _ in range(20):
        yield "{ ...Missing" + str(rng.randint(0, 999)) + " __typename }"


def _alias_and_depth_tricks(rng: random.Random, max_aliases: int, max_depth: int
                            ) -> Iterator[str]:
    """Aliases spread over fragments, depth hidden in fragments, introspection nesting."""
    for _ in range(40):
        per, copies = rng.randint(1, 8), rng.randint(2, 12)
        fragment = "fragment A on Query { " + " ".join(
            f"a{i}: savedQueries {{ name }}" for i in range(per)) + " }"
        spreads = " ".join("... on Query { ...A }" for _ in range(copies))
        yield f"query Aliases {{ {spreads} }} {fragment}"
    for _ in range(40):
        depth = rng.randint(max_depth - 2, max_depth * 4)
        inner = "key"
        for i in range(depth):
            inner = f"phones {{ ...D{i % 3} users {{ {inner} }} }}" if i % 4 == 0 else \
                f"phones {{ users {{ {inner} }} }}"
        yield ("query Deep($r: EntityRef!) { entity(ref: $r) { ... on Person { " + inner
               + " } } } fragment D0 on Phone { key } fragment D1 on Phone { key } "
               "fragment D2 on Phone { key }")
    for _ in range(20):
        levels = rng.randint(5, 60)
        yield "{ __schema { types { " + "fields { type { " * levels + "name" + " } }" * levels \
            + " } } }"
    for _ in range(10):
        yield "{ " + " ".join(f"x{i}: __typename" for i in range(max_aliases + rng.randint(
            1, 500))) + " }"
    for _ in range(15):   # quadratic for graphql-core's overlapping-fields rule
        n = rng.randint(50, 700)
        yield "{ " + " ".join("savedQueries { name }" for _ in range(n)) + " }"
        k = rng.randint(20, 300)
        yield ("{ " + " ".join(f"...R{i}" for i in range(k)) + " } "
               + " ".join(f"fragment R{i} on Query {{ savedQueries {{ name }} }}"
                          for i in range(k)))


def _garbage_documents(rng: random.Random) -> Iterator[str]:
    """Documents that do not parse or do not validate."""
    alphabet = "{}()[]:$@!.,=\"'\\ \n\tabcxyz0123456789#…é中"
    for _ in range(80):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 200)))
    for depth in (50, 300, 1500, 4000):
        yield "{ a" * depth + " }" * depth
        yield "query { search(text: " + "[" * depth + '"x"' + "]" * depth + ") { key } }"
    yield "subscription { savedQueries { name } }"
    yield "query A { __typename } query B { __typename }"
    yield "{ __typename " + "@skip(if: false) " * 2000 + "}"
    yield "query(" + ", ".join(f"$v{i}: String" for i in range(1500)) + ") { __typename }"
    yield '{ search(text: "' + "x" * 900_000 + '") { key } }'
    yield "mutation { createJointOperation }"
    yield "{ " + "__typename " * 10_000 + "}"


def _variables(rng: random.Random) -> Iterator[tuple[str, dict]]:
    """Valid documents with variables of the wrong shape, null, huge or deep."""
    entity = "query E($ref: EntityRef!) { entity(ref: $ref) { key } }"
    search = "query S($t: String!, $l: Int) { search(text: $t, limit: $l) { key } }"
    values = [None, 0, -1, 2 ** 63, 1e308, True, "", "x" * 100_000, [], {}, [[[]]],
              {"kind": "PLANET", "key": "x"}, {"kind": "PERSON"}, {"kind": "PERSON", "key": 5},
              {"kind": "PERSON", "key": "x", "extra": 1}, "\u0000", "🙂" * 1000]
    for _ in range(80):
        yield entity, {"ref": rng.choice(values)}
        yield search, {"t": rng.choice(values), "l": rng.choice(values)}
    deep: object = "x"
    for _ in range(60):
        deep = {"d": deep}
    yield entity, {"ref": deep}
    yield '{ runSavedQuery(name: "Entity", variables: {ref: {kind: PERSON, key: "x"}}) }', {}
    yield "query R($v: JSON) { runSavedQuery(name: \"Entity\", variables: $v) }", {"v": deep}


def _operation_names(rng: random.Random) -> Iterator[tuple[str, object]]:
    """Bogus operation names: absent from the document, huge, not names, not strings."""
    document = "query A { __typename } query B { __typename }"
    names = ["C", "", " ", "A B", "x" * 50_000, "\u202e", "../../etc", 'x"} 1\nevil{', "🙂",
             "__typename", "A\x00"]
    for _ in range(40):
        yield document, rng.choice(names)
    yield "{ __typename }", "NotThere"


def _raw_bodies(rng: random.Random) -> Iterator[bytes]:
    """Bodies that are not a well-formed JSON request."""
    for _ in range(60):
        yield bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    for depth in (65, 100, 999, 1000, 5000, 100_000):
        yield b"[" * depth + b"]" * depth
        yield b'{"a":' * depth + b"1" + b"}" * depth
        yield b'{"query": "{ __typename }", "variables": ' + b'{"a":' * depth + b"1" \
            + b"}" * depth + b"}"
    for value in ("null", "1", "-0", "1e999", "true", '"x"', "[]", "[{}]", "{}", '{"query": null}',
                  '{"query": ""}', '{"query": []}', '{"query": {}}', '{"query": true}',
                  '{"query": "{ __typename }", "variables": "x"}',
                  '{"query": "{ __typename }", "variables": 1}',
                  '{"query": "{ __typename }", "operationName": []}',
                  '{"query": "{ __typename }", "extensions": 1}',
                  '[{"query": "{ __typename }"}, {"query": "{ __typename }"}]'):
        yield value.encode()
    for _ in range(20):
        good = json.dumps({"query": "{ __typename }", "variables": {"a": "b"}}).encode()
        cut = rng.randint(0, len(good) - 1)
        yield good[:cut]
    yield b'{"query": "{ __typename }", "variables": {"x": "\\udc00\\ud800"}}'
    yield b'{"query": "{ __typename \\ud800 }"}'
    yield b'\xef\xbb\xbf{"query": "{ __typename }"}'
    yield b'{"query": "' + b"y" * 1_000_000 + b'"}'
    yield json.dumps({"query": "{ __typename }", "variables": {
        f"k{i}": i for i in range(60_000)}}).encode()


# -- the suite ---------------------------------------------------------------------------------

def _post(api, sent: Sent, label: str, body: bytes, token: str | None) -> None:
    headers = {"Content-Type": "application/json", "X-Purpose": "hostile input"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = api.http.post(f"{api.url}/graphql", content=body, headers=headers)
    sent.check(label, body.decode("utf-8", "replace"), response)


def _request(document: str, variables: object = None, name: object = None) -> bytes:
    body: dict = {"query": document, "variables": variables}
    if name is not None:
        body["operationName"] = name
    return json.dumps(body).encode()


def _hand_written(api) -> Iterator[tuple[str, bytes]]:
    """(category, body) of every hand-written malformed request."""
    rng, s = random.Random(SEED), api.settings
    for doc in _bombs(rng):
        yield "bomb", _request(doc, {"r": {"kind": "PERSON", "key": "x"}})
    for doc in _cycles(rng):
        yield "cycle", _request(doc)
    for doc in _alias_and_depth_tricks(rng, s.api_max_aliases, s.api_max_depth):
        yield "trick", _request(doc, {"r": {"kind": "PERSON", "key": "x"}})
    for doc in _garbage_documents(rng):
        yield "garbage", _request(doc)
    for doc, variables in _variables(rng):
        yield "variables", _request(doc, variables)
    for doc, name in _operation_names(rng):
        yield "operationName", _request(doc, None, name)
    for body in _raw_bodies(rng):
        yield "raw", body


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
_bodies = st.one_of(
    st.binary(max_size=400),
    _json.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"query": st.text(max_size=200)},
                          optional={"variables": _json, "operationName": _json}
                          ).map(lambda v: json.dumps(v).encode()),
    st.builds(lambda d, v: _request(d, v),
              st.sampled_from(["query E($ref: EntityRef!) { entity(ref: $ref) { key } }",
                               "query($t: String!) { search(text: $t) { key } }",
                               "query($v: JSON) { runSavedQuery(name: \"Entity\", "
                               "variables: $v) }"]),
              st.dictionaries(st.sampled_from(["ref", "t", "v", "x"]), _json, max_size=3)),
)


def test_malformed_requests_never_fail_on_the_server_and_are_each_audited(api):
    sent, before = Sent(), _audit_count(api)
    # Mostly an analyst (whose documents reach validation and execution), some other roles
    # and some requests without a valid token.
    tokens = [api.token()] * 6 + [api.token("operator"), api.token("auditor"), None, "junk"]
    categories: Counter = Counter()
    for i, (category, body) in enumerate(_hand_written(api)):
        categories[category] += 1
        _post(api, sent, category, body, tokens[i % len(tokens)])

    @settings(max_examples=400, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=_bodies, who=st.sampled_from(tokens))
    def generated(body: bytes, who: str | None) -> None:
        categories["hypothesis"] += 1
        _post(api, sent, "hypothesis", body, who)

    generated()
    print(f"malformed: {sent.count} requests {dict(categories)}; statuses "
          f"{dict(sent.statuses)}; failures {len(sent.failures)}")
    assert sent.count >= MIN_MALFORMED
    assert not sent.failures, sent.failures[:5]
    assert _audit_count(api) - before == sent.count


def _exercise(operation, headers: dict, sent: Sent) -> None:
    """Send schemathesis' generated cases of one operation, checking each answer."""

    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def exercise(case) -> None:
        response = case.call(headers=headers, timeout=120)
        sent.check(operation.label, json.dumps(case.body), response)

    exercise()


def test_schemathesis_cases_never_fail_leak_or_go_unaudited(api):
    headers = {"Authorization": f"Bearer {api.token('admin')}", "X-Purpose": "fuzzing"}
    before = _audit_count(api)
    schema = schemathesis.graphql.from_url(f"{api.url}/graphql", headers=headers)
    sent = Sent(count=_audit_count(api) - before)    # the introspection request
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        _exercise(operation, headers, sent)
    print(f"schemathesis: {sent.count} requests; statuses {dict(sent.statuses)}")
    assert not sent.failures, sent.failures[:5]
    assert sent.count > 5 * len(operations)
    assert _audit_count(api) - before == sent.count


_FLOOD = """
import sys, threading, time, httpx
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
parts = [f"fragment F{i} on Query {{ ...F{i+1} ...F{i+1} }}" for i in range(22)]
doc = "query Bomb { ...F0 } " + " ".join(parts) + " fragment F22 on Query { __typename }"
sent = []
def flood():
    with httpx.Client(timeout=60) as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            c.post(url, json={"query": doc}, headers={"Authorization": "Bearer " + token})
            sent.append(1)
threads = [threading.Thread(target=flood) for _ in range(32)]
[t.start() for t in threads]; [t.join() for t in threads]
print(len(sent))
"""


def test_health_stays_prompt_during_a_fragment_bomb_flood(api):
    flood = subprocess.Popen([sys.executable, "-c", _FLOOD, f"{api.url}/graphql", api.token(),
                              "4"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    latencies = []
    with httpx.Client(timeout=60) as client:
        while flood.poll() is None and len(latencies) < 200:
            started = time.perf_counter()
            assert client.get(f"{api.url}/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    bombs = int(flood.communicate(timeout=120)[0])
    p50 = statistics.median(latencies)
    print(f"flood: {bombs} bombs from 32 clients; /healthz p50 {p50 * 1000:.1f} ms, max "
          f"{max(latencies) * 1000:.1f} ms over {len(latencies)} probes")
    assert bombs > 32 and len(latencies) >= 10
    assert p50 < 0.25
