"""Schemathesis fuzzing of the running service: queries and mutations generated from the
introspected schema, at least 500 of them, never a 5xx and never a masked internal error."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

import tests.fuzz_scalars  # noqa: F401  (registers DateTime and JSON)

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]
pytest_plugins = ["tests.api_support"]

CASES_PER_OPERATION = 30
MIN_CASES = 500


def _exercise(operation, headers: dict, seen: list) -> None:
    """Run the generated cases of one operation against the server."""

    @settings(max_examples=CASES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def exercise(case) -> None:
        response = case.call(headers=headers, timeout=120)
        codes = [e.get("extensions", {}).get("code")
                 for e in (response.json().get("errors") or [])]
        seen.append((operation.label, response.status_code, codes))
        assert response.status_code < 500, (operation.label, response.text[:500])
        assert "INTERNAL" not in codes, (operation.label, case.body, response.text[:500])

    exercise()


def test_generated_operations_never_fail_on_the_server(api):
    headers = {"Authorization": f"Bearer {api.token('admin')}", "X-Purpose": "fuzzing"}
    schema = schemathesis.graphql.from_url(f"{api.url}/graphql", headers=headers)
    seen: list[tuple[str, int, list]] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        _exercise(operation, headers, seen)
    assert len(seen) >= MIN_CASES
    assert {label for label, _, _ in seen} == {op.label for op in operations}
    # 19 before the workbench, and its timePaths, workspaces, workspace, viewer, saveWorkspace
    # and deleteWorkspace; 8 of alerts (alerts, watchlists, standingQueries, addWatchlist,
    # removeWatchlist, addStandingQuery, removeStandingQuery, triageAlert); 6 paged lists
    # (searchPage, gangsPage, coTravelPage, coTravelGroupsPage, timelinePage, auditLogPage).
    assert len(operations) == 39
    answered = [label for label, status, codes in seen if status == 200 and not codes]
    print(f"{len(seen)} cases, {len(answered)} answered without error;",
          Counter(c for _, _, codes in seen for c in codes))
    # Random keys are mostly invalid (BAD_INPUT); still, real answers must be among the cases.
    assert len(answered) >= 50
