"""How a resolver calls the service layer: the GraphQL ``EntityRef`` converted once to the
service's reference, and the call's Cypher statements counted on the request (and its
failures in the metrics) exactly as the resolvers' own statements are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fusion.api.cypher import REQUEST
from fusion.api.inputs import EntityRef as EntityRefInput
from fusion.api.resources import Resources
from fusion.services.cypher import OBSERVER
from fusion.services.models import EntityRef


def ref_of(ref: EntityRefInput) -> EntityRef:
    """The service's reference of a GraphQL ``EntityRef`` (BadInput when the key is invalid)."""
    return EntityRef.parse(ref.kind.value, ref.key)


class _RequestObserver:
    """Counts a service call's statements on the current request, its errors in metrics."""

    def __init__(self, services: Resources) -> None:
        self.services = services

    def statement(self) -> None:
        """One more statement for the request."""
        record = REQUEST.get()
        if record is not None:
            record.statements += 1

    def error(self, kind: str) -> None:
        """One more Neo4j error of ``kind``."""
        if self.services.metrics is not None:
            self.services.metrics.neo4j_error(kind)


@contextmanager
def observed(services: Resources) -> Iterator[None]:
    """Within: the service layer's statements count as the request's."""
    token = OBSERVER.set(_RequestObserver(services))
    try:
        yield
    finally:
        OBSERVER.reset(token)
