"""Running Cypher for a request: the per-request transaction timeout and error mapping.

A statement that outlives ``FUSION_QUERY_TIMEOUT`` is stopped by Neo4j and reported as
TOO_COMPLEX; an unreachable database as UNAVAILABLE. Other driver errors propagate (and are
masked for the client by :mod:`fusion.api.errors`).

Each statement is counted on the request it runs for (:data:`REQUEST`, set by
:mod:`fusion.api.view`), so the metrics show how many statements each operation costs.

A read runs as one auto-commit transaction: RUN and PULL go out together and one answer comes
back, where the driver's managed transaction (``execute_query``: BEGIN, RUN, PULL, then COMMIT)
takes two round trips and about twice the driver's CPU — most of a cached Entity lookup's cost
(docs/api.md, Performance). A read has nothing to roll back, and a request that cannot reach
Neo4j is answered UNAVAILABLE rather than retried for up to 30 s. Writes keep the managed,
retried transaction.
"""

from __future__ import annotations

from contextvars import ContextVar

import neo4j
from neo4j import Query, RoutingControl
from neo4j.exceptions import ClientError, DriverError, ServiceUnavailable, SessionExpired

from fusion.api.requests import RequestRecord
from fusion.api.resources import Resources
from fusion.errors import TooComplex
from fusion.services.runtime import unavailable

# The request whose resolvers run in this context (None outside a request).
REQUEST: ContextVar[RequestRecord | None] = ContextVar("fusion_request", default=None)


async def run_cypher(services: Resources, statement: str, write: bool = False,
                     **params: object) -> list[neo4j.Record]:
    """The records of one read (auto-commit) or write (managed, auto-retried) transaction."""
    routing = RoutingControl.WRITE if write else RoutingControl.READ
    record = REQUEST.get()
    if record is not None:
        record.statements += 1
    query = Query(statement, timeout=services.settings.query_timeout)
    try:
        if write:
            records, _, _ = await services.driver.execute_query(
                query, params, database_=services.database, routing_=routing)
        else:
            records = await _auto_commit_read(services, query, params)
    except (ServiceUnavailable, SessionExpired, OSError) as err:
        _count_error(services, "unavailable")
        raise unavailable(err) from err
    except ClientError as err:
        if err.code and "TransactionTimedOut" in err.code:
            _count_error(services, "timeout")
            raise TooComplex(
                f"The query took longer than {services.settings.query_timeout:g} s; "
                "narrow it (fewer hops, a smaller limit or time range).") from err
        _count_error(services, "client")
        raise
    except DriverError:
        _count_error(services, "driver")
        raise
    return records


async def _auto_commit_read(services: Resources, query: Query, params: dict
                            ) -> list[neo4j.Record]:
    """The records of ``query`` run as one auto-commit read transaction."""
    async with services.driver.session(database=services.database,
                                       default_access_mode=neo4j.READ_ACCESS) as session:
        result = await session.run(query, params)
        return [record async for record in result]


async def read(services: Resources, statement: str, **params: object) -> list[neo4j.Record]:
    """The records of a read statement."""
    return await run_cypher(services, statement, **params)


async def write(services: Resources, statement: str, **params: object) -> list[neo4j.Record]:
    """The records of a write statement."""
    return await run_cypher(services, statement, write=True, **params)


def _count_error(services: Resources, kind: str) -> None:
    if services.metrics is not None:
        services.metrics.neo4j_error(kind)
