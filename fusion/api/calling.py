"""How a request calls the service layer: the GraphQL ``EntityRef`` converted once to the
service's reference, and one observer per request (:func:`observing`) that counts every Cypher
statement run for it — by a resolver or by a service — on its record, and their failures in
the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fusion.api.inputs import EntityRef as EntityRefInput
from fusion.api.requests import RequestRecord
from fusion.api.resources import Resources
from fusion.services.cypher import OBSERVER
from fusion.services.models import EntityRef

# The request whose resolvers run in this context (None outside a request).
REQUEST: ContextVar[RequestRecord | None] = ContextVar("fusion_request", default=None)


def ref_of(ref: EntityRefInput) -> EntityRef:
    """The service's reference of a GraphQL ``EntityRef`` (BadInput when the key is invalid)."""
    return EntityRef.parse(ref.kind.value, ref.key)


class _RequestObserver:
    """Counts a request's statements on its record, their errors in metrics."""

    def __init__(self, services: Resources, record: RequestRecord) -> None:
        self.services = services
        self.record = record

    def statement(self) -> None:
        """One more statement for the request."""
        self.record.statements += 1

    def error(self, kind: str) -> None:
        """One more Neo4j error of ``kind``."""
        if self.services.metrics is not None:
            self.services.metrics.neo4j_error(kind)


@contextmanager
def observing(services: Resources, record: RequestRecord) -> Iterator[None]:
    """Within: ``record`` is the current request, and every statement counts as its own."""
    request = REQUEST.set(record)
    observer = OBSERVER.set(_RequestObserver(services, record))
    try:
        yield
    finally:
        OBSERVER.reset(observer)
        REQUEST.reset(request)
