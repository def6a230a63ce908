"""Prometheus metrics: the exposition parses, counters and histograms move, labels stay bounded."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from fusion.api.metrics import ANONYMOUS, INVALID, OTHER, Metrics


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset], float]:
    body, _ = metrics.render()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode("utf-8"))
        for s in family.samples
    }


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return _samples(metrics).get((name, frozenset(labels.items())), 0.0)


def test_render_parses_with_its_content_type() -> None:
    body, content_type = Metrics().render()
    assert content_type.startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(body.decode("utf-8"))}
    assert {"fusion_graphql_requests", "fusion_graphql_request_duration_seconds",
            "fusion_neo4j_errors", "fusion_build_info"} <= names


def test_process_metrics_included() -> None:
    names = {name for name, _ in _samples(Metrics())}
    assert "process_cpu_seconds_total" in names
    assert "python_info" in names


def test_request_counter_moves_per_operation_and_outcome() -> None:
    m = Metrics(process=False)
    for _ in range(3):
        m.observe_request("Entity", 0.02, "allowed")
    m.observe_request("Entity", 0.5, "denied:FORBIDDEN")
    m.observe_request("Search", 0.01, "allowed")
    total = "fusion_graphql_requests_total"
    assert _value(m, total, operation="Entity", outcome="allowed") == 3
    assert _value(m, total, operation="Entity", outcome="denied:FORBIDDEN") == 1
    assert _value(m, total, operation="Search", outcome="allowed") == 1


def test_latency_histogram_buckets_the_observations() -> None:
    m = Metrics(process=False)
    seconds = [0.003, 0.04, 0.04, 0.7, 12.0]
    for s in seconds:
        m.observe_request("RelationshipPaths", s, "allowed")
    name = "fusion_graphql_request_duration_seconds"
    labels = {"operation": "RelationshipPaths", "outcome": "allowed"}
    assert _value(m, f"{name}_count", **labels) == len(seconds)
    assert abs(_value(m, f"{name}_sum", **labels) - sum(seconds)) < 1e-9
    for le in ("0.005", "0.05", "1.0", "10.0", "+Inf"):
        expected = sum(1 for s in seconds if s <= float(le))
        assert _value(m, f"{name}_bucket", le=le, **labels) == expected, le


def test_neo4j_errors_counted_by_kind() -> None:
    m = Metrics(process=False)
    m.neo4j_error("ServiceUnavailable")
    m.neo4j_error("ServiceUnavailable")
    m.neo4j_error("Neo.TransientError.Transaction.DeadlockDetected")
    name = "fusion_neo4j_errors_total"
    assert _value(m, name, kind="ServiceUnavailable") == 2
    assert _value(m, name, kind="Neo.TransientError.Transaction.DeadlockDetected") == 1


def test_unnamed_and_malformed_operations_get_fixed_labels() -> None:
    m = Metrics(process=False)
    m.observe_request(None, 0.01, "allowed")
    m.observe_request("", 0.01, "allowed")
    m.observe_request('x"} 1\nevil_metric{', 0.01, "allowed")
    total = "fusion_graphql_requests_total"
    assert _value(m, total, operation=ANONYMOUS, outcome="allowed") == 2
    assert _value(m, total, operation=INVALID, outcome="allowed") == 1
    assert not any(name.startswith("evil") for name, _ in _samples(m))


def test_operation_label_values_are_bounded() -> None:
    m = Metrics(process=False, max_operations=5)
    for i in range(40):
        m.observe_request(f"Op{i}", 0.01, "allowed")
    operations = {dict(labels)["operation"] for name, labels in _samples(m)
                  if name == "fusion_graphql_requests_total"}
    assert operations == {f"Op{i}" for i in range(5)} | {OTHER}
    assert _value(m, "fusion_graphql_requests_total", operation=OTHER, outcome="allowed") == 35


def test_instances_do_not_share_counts() -> None:
    first, second = Metrics(process=False), Metrics(process=False)
    first.observe_request("Entity", 0.01, "allowed")
    assert _value(second, "fusion_graphql_requests_total", operation="Entity",
                  outcome="allowed") == 0


def test_statement_histogram_counts_per_operation_only_when_given() -> None:
    m = Metrics(process=False)
    counts = [1, 1, 2, 7]
    for c in counts:
        m.observe_request("RelationshipPaths", 0.01, "allowed", statements=c)
    m.observe_request("RelationshipPaths", 0.01, "failed:NOT_FOUND", statements=2)
    m.observe_request("Entity", 0.01, "allowed")
    name = "fusion_graphql_request_statements"
    assert _value(m, f"{name}_count", operation="RelationshipPaths") == len(counts) + 1
    assert _value(m, f"{name}_sum", operation="RelationshipPaths") == sum(counts) + 2
    assert _value(m, f"{name}_count", operation="Entity") == 0
    for le in ("1.0", "2.0", "6.0", "8.0"):
        expected = sum(1 for c in [*counts, 2] if c <= float(le))
        assert _value(m, f"{name}_bucket", le=le, operation="RelationshipPaths") == expected
