"""Connections to the graph (the managed local Neo4j by default, an external one when
configured) and its schema: `fusion init` creates the constraints and indexes (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import Driver, GraphDatabase, NotificationDisabledClassification
from neo4j.exceptions import AuthError, ServiceUnavailable

from fusion.config import Settings
from fusion.errors import ConfigError, DatabaseError
from fusion.managed.server import ADMIN_USER, ManagedNeo4j
from queries.schema import AWAIT_INDEXES, CONSTRAINTS, INDEXES, SHOW_CONSTRAINTS, SHOW_INDEXES

# Fusion's statements name properties that appear only once data has them (an alert's webhook,
# a removed watchlist's removed_at): the server's "unknown property or label" warnings are
# expected, and the driver would log each one with its diagnostic record, on every alert poll
# (the loaders' sessions disable the same classification: loaders.graphwriter.QUIET).
DRIVER_OPTIONS = {"notifications_disabled_classifications":
                  [NotificationDisabledClassification.UNRECOGNIZED]}


@dataclass(frozen=True)
class Target:
    """Where Fusion's graph lives and how to log in."""

    uri: str
    user: str
    password: str
    database: str
    external: bool


def target(settings: Settings) -> Target:
    """Resolve the Neo4j to use from the settings."""
    if settings.external:
        if settings.neo4j_user is None or settings.neo4j_password is None:
            raise ConfigError(
                "FUSION_NEO4J_URI is set: "
                "FUSION_NEO4J_USER and FUSION_NEO4J_PASSWORD are needed too."
            )
        return Target(settings.neo4j_uri, settings.neo4j_user,
                      settings.neo4j_password.get_secret_value(), settings.neo4j_database, True)
    managed = ManagedNeo4j(settings)
    if not managed.password_file.exists():
        raise DatabaseError("The managed Neo4j has never been started: run `fusion db start`.")
    return Target(managed.uri, ADMIN_USER, managed.password(), settings.neo4j_database, False)


def connect(settings: Settings) -> Driver:
    """A verified driver for the configured Neo4j (close it, or use it as a context manager)."""
    t = target(settings)
    driver = GraphDatabase.driver(t.uri, auth=(t.user, t.password), **DRIVER_OPTIONS)
    try:
        driver.verify_connectivity()
    except AuthError as err:
        driver.close()
        raise DatabaseError(f"Neo4j at {t.uri} rejected Fusion's credentials.") from err
    except (ServiceUnavailable, OSError) as err:
        driver.close()
        hint = "" if t.external else " Start it with `fusion db start`."
        raise DatabaseError(f"Neo4j at {t.uri} is not reachable.{hint}") from err
    return driver


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
