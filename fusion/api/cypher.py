"""Cypher a resolver runs itself, through the service layer's one runner.

:func:`fusion.services.cypher.run` holds the transaction timeout and the error mapping (a
statement that outlives ``FUSION_QUERY_TIMEOUT`` is TOO_COMPLEX, an unreachable database
UNAVAILABLE; other driver errors propagate and are masked for the client by
:mod:`fusion.api.errors`). The request's observer (:func:`fusion.api.calling.observing`, set
once per request by :mod:`fusion.api.view`) counts each statement on the request and each
failure in the metrics, whether a resolver or a service ran it.
"""

from __future__ import annotations

import neo4j
from neo4j import RoutingControl

from fusion.api.resources import Resources
from fusion.services.cypher import run


async def run_cypher(services: Resources, statement: str, write: bool = False,
                     **params: object) -> list[neo4j.Record]:
    """The records of one auto-retried read (or write) transaction."""
    routing = RoutingControl.WRITE if write else RoutingControl.READ
    return await run(services.runtime, statement, routing, params)


async def read(services: Resources, statement: str, **params: object) -> list[neo4j.Record]:
    """The records of a read statement."""
    return await run_cypher(services, statement, **params)


async def write(services: Resources, statement: str, **params: object) -> list[neo4j.Record]:
    """The records of a write statement."""
    return await run_cypher(services, statement, write=True, **params)
