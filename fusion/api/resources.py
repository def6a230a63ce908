"""What every request shares: settings, the one async Neo4j driver, the signing secret, joint
operations, the audit log, saved queries and metrics. Built once in the app's lifespan.

The service layer (:mod:`fusion.services`) runs with :attr:`Resources.runtime`: the same driver,
the event store's home, the query timeout and the slots of CPU-heavy analyses (worker threads,
never the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import neo4j
from neo4j import AsyncGraphDatabase, GraphDatabase

from fusion.auth import AuditLog, JointOperations, load_secret
from fusion.auth.audit import audit_path
from fusion.auth.auditcheckpoint import CheckpointStore, checkpoint_key
from fusion.config import Settings
from fusion.db import DRIVER_OPTIONS, target
from fusion.services.runtime import Runtime

logger = logging.getLogger("fusion.api")


@dataclass
class Resources:
    """Process-wide resources of the GraphQL service."""

    settings: Settings
    driver: neo4j.AsyncDriver
    sync_driver: neo4j.Driver
    secret: bytes
    joint_operations: JointOperations
    audit: AuditLog
    metrics: object | None = None
    runtime: Runtime = field(init=False)

    def __post_init__(self) -> None:
        self.runtime = Runtime(
            driver=self.driver, database=self.settings.neo4j_database, home=self.settings.home,
            query_timeout=self.settings.query_timeout, sync_driver=self.sync_driver,
            on_unavailable=self._count_unavailable)

    @property
    def database(self) -> str:
        """The Neo4j database holding the graph."""
        return self.settings.neo4j_database

    @property
    def analysis_slots(self) -> threading.BoundedSemaphore:
        """How many CPU-heavy analyses may run at once (the runtime's slots)."""
        return self.runtime.slots

    def _count_unavailable(self) -> None:
        if self.metrics is not None:
            self.metrics.neo4j_error("unavailable")


@asynccontextmanager
async def open_services(settings: Settings, metrics: object | None = None,
                        worker: str | None = None) -> AsyncIterator[Resources]:
    """Connect to Neo4j, open the audit log (checked against its checkpoint in Neo4j; its
    records naming ``worker`` when given) and load the secret; close all on exit."""
    t = target(settings)
    driver = AsyncGraphDatabase.driver(t.uri, auth=(t.user, t.password), **DRIVER_OPTIONS)
    sync_driver = GraphDatabase.driver(t.uri, auth=(t.user, t.password), **DRIVER_OPTIONS)
    path = audit_path(settings.home)
    audit = AuditLog(path, CheckpointStore(driver, settings.neo4j_database,
                                           checkpoint_key(path)), worker=worker)
    secret = None
    try:
        problem = await audit.problem()  # a log that lost records is refused from the start
        if problem is not None:
            logger.error("audit log not ready at start-up: %s", problem)
        secret = load_secret(settings)
        services = Resources(settings=settings, driver=driver, sync_driver=sync_driver,
                            secret=secret,
                            joint_operations=JointOperations(driver, settings.neo4j_database),
                            audit=audit, metrics=metrics)
        yield services
    finally:
        revocations = getattr(secret, "revocations", None)
        if revocations is not None:  # its refresh thread and driver
            await asyncio.to_thread(revocations.close)
        await audit.aclose()
        await driver.close()
        await asyncio.to_thread(sync_driver.close)


async def neo4j_ready(services: Resources) -> bool:
    """True when Neo4j answers a query."""
    try:
        await services.driver.execute_query("RETURN 1", database_=services.database,
                                            routing_=neo4j.RoutingControl.READ)
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
        return False
    return True
