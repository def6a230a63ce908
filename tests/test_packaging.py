"""The design's packages share names with unrelated PyPI distributions: they must come from here."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["fusion", "loaders", "queries", "algorithms"])
def test_package_imports_from_this_tree(name: str) -> None:
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == REPO / name


def test_distribution_name_is_unique_to_fusion() -> None:
    from importlib.metadata import distribution

    dist = distribution("fusion-intel-graph")
    assert dist.entry_points.select(group="console_scripts", name="fusion")
