"""`fusion init`: create the graph's constraints and indexes (idempotent)."""

from __future__ import annotations

from neo4j import Driver

from queries.schema import AWAIT_INDEXES, CONSTRAINTS, INDEXES, SHOW_CONSTRAINTS, SHOW_INDEXES


def ensure_schema(driver: Driver, database: str) -> list[str]:
    """Create every missing constraint and index; return the names that were created now."""
    existing = _existing_names(driver, database)
    created = []
    for name, statement in (*CONSTRAINTS.items(), *INDEXES.items()):
        if name not in existing:
            driver.execute_query(statement, database_=database)
            created.append(name)
    if created:
        driver.execute_query(AWAIT_INDEXES, database_=database)
    return created


def _existing_names(driver: Driver, database: str) -> set[str]:
    names: set[str] = set()
    for statement in (SHOW_CONSTRAINTS, SHOW_INDEXES):
        records, _, _ = driver.execute_query(statement, database_=database, routing_="r")
        names.update(r["name"] for r in records)
    return names
