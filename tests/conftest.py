"""Shared fixtures. Integration tests run against one real managed Neo4j per test session.

The server lives in a temporary FUSION_HOME on non-default ports (override with
FUSION_TEST_BOLT_PORT / FUSION_TEST_HTTP_PORT) and is stopped at the end, even on failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusion.config import Settings

TEST_BOLT_PORT = int(os.environ.get("FUSION_TEST_BOLT_PORT", "17687"))
TEST_HTTP_PORT = int(os.environ.get("FUSION_TEST_HTTP_PORT", "17474"))


def managed_settings(home: Path, bolt: int, http: int) -> Settings:
    """Settings for a managed Neo4j in ``home``, small enough for a test machine."""
    return Settings(home=home, db_bolt_port=bolt, db_http_port=http, db_heap="1g",
                    db_pagecache="512m", neo4j_uri=None)


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of the session's running managed Neo4j, schema created."""
    from fusion.db import connect, ensure_schema
    from fusion.managed import ManagedNeo4j

    settings = managed_settings(tmp_path_factory.mktemp("fusion-home"), TEST_BOLT_PORT,
                                TEST_HTTP_PORT)
    server = ManagedNeo4j(settings)
    try:
        server.start()
        with connect(settings) as driver:
            ensure_schema(driver, settings.neo4j_database)
        yield settings
    finally:
        server.stop()


@pytest.fixture(scope="session")
def driver(neo4j_settings: Settings):
    """A driver to the session's Neo4j."""
    from fusion.db import connect

    with connect(neo4j_settings) as drv:
        yield drv


@pytest.fixture
def empty_graph(driver, neo4j_settings: Settings):
    """The session's graph emptied of all data (schema kept) before the test."""
    with driver.session(database=neo4j_settings.neo4j_database) as session:
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction.
        session.run(
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
    return driver


SCENARIO_SEED = 7
SCENARIO_SCALE = 0.05


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small fixed-seed three-region scenario (``fusion generate``), generated once.

    Holds OUT/<region>/<source>.<ext>, the GBK region's profiles and OUT/truth.json (planted
    structures and the exact expected accounting of every load, in load order).
    """
    from fusion.scenario.generate import generate_scenario

    out = tmp_path_factory.mktemp("scenario")
    generate_scenario(out, regions=3, scale=SCENARIO_SCALE, seed=SCENARIO_SEED)
    return out
