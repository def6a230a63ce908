"""The import contracts in pyproject.toml hold, and cover every area of the tree.

`lint-imports` (import-linter) checks the layers, the pure bottom packages and the absence of
circles; running it here is what makes CI enforce them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
# Folders under fusion/ that hold data, not code.
DATA_PACKAGES = {"fusion.resources"}


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    """Run lint-imports over this tree (not an installed copy), without its cache."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    command = [sys.executable, "-c",
               "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
               "--no-cache", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def _layered() -> set[str]:
    """Every module or package named in the layers contract."""
    (layers,) = [c["layers"] for c in CONFIG["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in layers for name in layer.split("|")}


def _fusion_areas() -> set[str]:
    """fusion's direct children: its packages and modules."""
    children = {p.stem for p in (REPO / "fusion").glob("*.py") if p.stem != "__init__"}
    children |= {p.parent.name for p in (REPO / "fusion").glob("*/__init__.py")}
    return {f"fusion.{name}" for name in children}


@pytest.mark.slow
def test_the_import_contracts_hold() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.slow
def test_lint_imports_reports_a_broken_layer(tmp_path: Path) -> None:
    # errors declared above the API, which imports it: the checker must call that broken.
    (tmp_path / "inverted.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["fusion"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "inverted"\ntype = "layers"\n'
        'layers = ["fusion.errors", "fusion.api"]\n')
    result = _lint_imports(str(tmp_path / "inverted.toml"))
    assert result.returncode == 1
    assert "inverted BROKEN" in result.stdout
    assert "fusion.api" in result.stdout and "fusion.errors" in result.stdout


def test_every_area_of_fusion_has_a_layer() -> None:
    unplaced = sorted(_fusion_areas() - _layered() - DATA_PACKAGES)
    assert not unplaced, f"place these in the layers contract (pyproject.toml): {unplaced}"


def test_the_bottom_is_declared_pure() -> None:
    forbidden = {c["source_modules"][0]: set(c["forbidden_modules"])
                 for c in CONFIG["contracts"] if c["type"] == "forbidden"}
    assert {"fusion", "loaders", "neo4j"} <= forbidden["algorithms"]
    assert "fusion" in forbidden["queries"]
    assert CONFIG["include_external_packages"] is True  # or neo4j would go unchecked
