"""The service layer's result models: one per concept, shared by every caller.

The CLI prints these, the GraphQL types adapt them, the benchmarks time the calls that return
them. Fields marked ``repr=False`` carry what a caller may reuse but is not part of the answer
(a node's raw properties, which the GraphQL service uses to prime its node cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from algorithms.temporal import TimePath
from fusion.errors import BadInput
from loaders.normalize import InvalidValue, canonical_key
from queries.model import KIND_LABELS, LABEL_KINDS


@dataclass(frozen=True, order=True)
class EntityRef:
    """An entity named by kind (``PERSON``, ``PHONE`` …) and canonical key."""

    kind: str
    key: str

    @classmethod
    def parse(cls, kind: str, raw_key: str) -> EntityRef:
        """Resolve a key given in any raw form to the canonical one (BadInput if invalid)."""
        if kind not in KIND_LABELS:
            raise BadInput(f"unknown entity kind {kind!r}; expected one of {sorted(KIND_LABELS)}")
        try:
            return cls(kind, canonical_key(kind, raw_key))
        except InvalidValue as err:
            raise BadInput(f"{kind} key {raw_key!r} is not valid: {err}") from err


@dataclass(frozen=True)
class PathNode:
    """An entity in a result: kind, key, display label and the regions that supplied it
    (``props``: all its stored properties, when the caller asked for them)."""

    kind: str
    key: str
    label: str | None
    regions: tuple[str, ...]
    props: dict | None = field(default=None, hash=False, compare=False, repr=False)

    @classmethod
    def from_props(cls, label: str, props: dict) -> PathNode:
        """An entity read whole: its Neo4j label and all its properties."""
        return cls(LABEL_KINDS[label], props["key"], props.get("label"),
                   tuple(props.get("regions") or ()), dict(props))

    @property
    def ref(self) -> EntityRef:
        """The entity's reference."""
        return EntityRef(self.kind, self.key)


# The name the other analyses use for a displayed entity.
Entity = PathNode


@dataclass(frozen=True)
class PathRel:
    """A relationship on a path: type, its own start and end, its properties."""

    type: str
    source: EntityRef
    target: EntityRef
    properties: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class Path:
    """A path: ``length`` hops, ``nodes`` in walking order, ``rels`` between them."""

    length: int
    nodes: tuple[PathNode, ...]
    rels: tuple[PathRel, ...]


@dataclass(frozen=True)
class TimedHop:
    """One event on a path: its relationship type, the relationship's own start and end
    entities (caller -> callee, phone -> parcel, subject -> sensor, a -> b) and its time."""

    type: str
    source: EntityRef
    target: EntityRef
    at: datetime


# A time-respecting route (entities in walking order) and the events of its earliest-arriving
# walk: the algorithm's one path model, with entities and events for its nodes and hops.
TimedPath = TimePath[PathNode, TimedHop]


@dataclass(frozen=True)
class Neighbourhood:
    """Entities around a centre (the centre first, then in the order the expansion met
    them, each with its properties), relationships between them, and whether the cap cut
    anything off."""

    nodes: tuple[PathNode, ...]
    rels: tuple[PathRel, ...]
    truncated: bool
