"""Running a service's Cypher: one transaction within the runtime's timeout.

A read is one auto-commit transaction (RUN and PULL sent together, one round trip); a write is
the driver's managed, auto-retried transaction (BEGIN, RUN, PULL, then COMMIT: two round trips).
A read has nothing to roll back, and one that cannot reach Neo4j is reported at once.

A statement that outlives the timeout is stopped by Neo4j and reported as TOO_COMPLEX, an
unreachable database as UNAVAILABLE. Whoever wants to see the statements a call runs (the
GraphQL service counts them per request, and its errors by kind) sets :data:`OBSERVER` for
the duration of the call; the CLI and the benchmarks leave it unset.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

import neo4j
from neo4j import Query, RoutingControl
from neo4j.exceptions import ClientError, DriverError, ServiceUnavailable, SessionExpired

from fusion.errors import TooComplex
from fusion.services.runtime import Runtime, unavailable


class Observer(Protocol):
    """Told of each statement a service call runs, and of each failure by kind."""

    def statement(self) -> None:
        """A statement is about to run."""

    def error(self, kind: str) -> None:
        """A statement failed: ``timeout``, ``client`` or ``driver``."""


OBSERVER: ContextVar[Observer | None] = ContextVar("fusion_cypher_observer", default=None)


async def read(runtime: Runtime, statement: str, **params: object) -> list[neo4j.Record]:
    """The records of one auto-commit read transaction."""
    return await run(runtime, statement, RoutingControl.READ, params)


async def write(runtime: Runtime, statement: str, **params: object) -> list[neo4j.Record]:
    """The records of one auto-retried write transaction."""
    return await run(runtime, statement, RoutingControl.WRITE, params)


async def run(runtime: Runtime, statement: str, routing: RoutingControl, params: dict
              ) -> list[neo4j.Record]:
    """The records of one transaction routed as ``routing`` (a read: auto-commit)."""
    observer = OBSERVER.get()
    if observer is not None:
        observer.statement()
    query = Query(statement, timeout=runtime.query_timeout)
    try:
        if routing == RoutingControl.READ:
            records = await _auto_commit_read(runtime, query, params)
        else:
            records, _, _ = await runtime.driver.execute_query(
                query, params, database_=runtime.database, routing_=routing)
    except (ServiceUnavailable, SessionExpired, OSError) as err:
        if runtime.on_unavailable is not None:
            runtime.on_unavailable()
        raise unavailable(err) from err
    except ClientError as err:
        if err.code and "TransactionTimedOut" in err.code:
            _tell(observer, "timeout")
            raise TooComplex(
                f"The query took longer than {runtime.query_timeout:g} s; "
                "narrow it (fewer hops, a smaller limit or time range).") from err
        _tell(observer, "client")
        raise
    except DriverError:
        _tell(observer, "driver")
        raise
    return records


async def _auto_commit_read(runtime: Runtime, query: Query, params: dict
                            ) -> list[neo4j.Record]:
    """The records of ``query`` run as one auto-commit read transaction."""
    async with runtime.driver.session(database=runtime.database,
                                      default_access_mode=neo4j.READ_ACCESS) as session:
        result = await session.run(query, params)
        return [record async for record in result]


def _tell(observer: Observer | None, kind: str) -> None:
    if observer is not None:
        observer.error(kind)
