"""fusion.api.scoped and the regions helper on hand-made elements: which relationships keep
their stored figures, which take recounted ones, and what a scope shows of regions."""

from __future__ import annotations

import pytest

from fusion.api.nodes import Node, Rel, regions_in
from fusion.api.scoped import _covered, _requests, _shown
from fusion.services.models import EntityRef

A, B = "330100", "440300"
SCOPE = frozenset({A})


def _called(regions: list[str], count: int = 5) -> Rel:
    return Rel("CALLED", EntityRef("PHONE", "+8613800000001"),
               EntityRef("PHONE", "+8613800000002"),
               {"count": count, "total_duration_s": 100, "first_at": "2024-09-16T00:00:00+00:00",
                "last_at": "2024-09-17T00:00:00+00:00", "regions": regions})


def test_regions_in_keeps_only_the_scope_sorted():
    assert regions_in([B, A, "510100"], frozenset({"510100", A})) == [A, "510100"]
    assert regions_in(None, SCOPE) == []


def test_a_node_in_scope_lists_only_scope_regions():
    node = Node.from_props("Phone", {"key": "+8613800000001", "regions": [A, B]})
    assert node.in_scope(SCOPE).regions == (A,)
    assert node.in_scope(SCOPE).as_export()["regions"] == [A]


@pytest.mark.parametrize(("regions", "covered"), [([A], True), ([A, B], False), (None, False)])
def test_stored_figures_count_only_when_every_region_is_in_scope(regions, covered):
    rel = _called(regions) if regions is not None else Rel(
        "CALLED", EntityRef("PHONE", "x"), EntityRef("PHONE", "y"), {"count": 1})
    assert _covered(rel, SCOPE) is covered


def test_a_covered_relationship_keeps_its_stored_figures():
    shown = _shown(_called([A]), SCOPE, None, False)
    assert shown.properties == _called([A]).properties


def test_a_recounted_relationship_takes_the_in_scope_figures():
    figures = {"count": 2, "total_duration_s": 40, "first_at": None, "last_at": None}
    shown = _shown(_called([A, B]), SCOPE, figures, True)
    assert shown.properties["count"] == 2 and shown.properties["total_duration_s"] == 40
    assert shown.properties["regions"] == [A]


def test_nothing_in_scope_gives_zero_counts_and_no_times():
    rel = Rel("CO_TRAVELED", EntityRef("VEHICLE", "浙A1"), EntityRef("VEHICLE", "粤B2"),
              {"meetings": 4, "distinct_sensors": 4, "first_at": "2024-09-16T00:00:00+00:00",
               "last_at": "2024-09-18T00:00:00+00:00", "regions": [A, B], "window_s": 120.0})
    shown = _shown(rel, SCOPE, None, True).properties
    assert (shown["meetings"], shown["distinct_sensors"]) == (0, 0)
    assert shown["first_at"] is None and shown["last_at"] is None
    assert shown["regions"] == [A] and shown["window_s"] == 120.0


def test_co_travel_recounts_use_the_run_window_and_range():
    rel = Rel("CO_TRAVELED", EntityRef("VEHICLE", "浙A1"), EntityRef("VEHICLE", "粤B2"),
              {"regions": [A, B], "window_s": 60.0, "since": "2024-09-16T00:00:00+00:00",
               "until": None})
    (key, (window, since, until)), = _requests([rel])["co_traveled"]
    assert key == rel.key and window == 60.0 and until is None
    assert since.isoformat() == "2024-09-16T00:00:00+00:00"
