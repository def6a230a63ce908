"""The service's drivers do not log the server's "unknown property" warnings: Fusion's
statements name properties that exist only once data has them, and the alert loop runs such
statements every half second (the driver formatted and logged each warning, 22 % of the main
thread's samples during a page walk)."""

from __future__ import annotations

import logging

from neo4j import GraphDatabase

from fusion.db import connect, target
from fusion.services.blocking import blocking_calls
from fusion.services.cypher import read

UNKNOWN = "MATCH (n:LoadRecord) WHERE n.not_a_property_of_fusion IS NULL RETURN count(n) AS n"


def notifications(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("neo4j.notifications")]


def test_a_plain_driver_logs_the_warning_the_service_drivers_do_not(neo4j_settings, caplog):
    caplog.set_level(logging.INFO, logger="neo4j.notifications")
    t = target(neo4j_settings)
    with GraphDatabase.driver(t.uri, auth=(t.user, t.password)) as plain:
        plain.execute_query(UNKNOWN, database_=neo4j_settings.neo4j_database)
    assert any("not_a_property_of_fusion" in r.getMessage() for r in notifications(caplog))
    caplog.clear()
    with connect(neo4j_settings) as driver:
        records, _, _ = driver.execute_query(UNKNOWN, database_=neo4j_settings.neo4j_database)
    with blocking_calls(neo4j_settings) as call:
        rows = call(read, UNKNOWN)
    assert records[0]["n"] == rows[0]["n"]
    assert notifications(caplog) == []
