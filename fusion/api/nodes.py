"""Graph elements as the API hands them out: the service's models (fusion.services.models)
with their properties made JSON-safe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from fusion.services.models import PathNode, PathRel
from fusion.services.values import json_value, native_time
from queries.model import KIND_LABELS

# Properties every node has, shown as their own fields rather than in `properties`.
_OWN_FIELDS = ("key", "label", "regions")

__all__ = ["Node", "Rel", "json_properties", "json_value", "native_time", "regions_in"]


def regions_in(regions: Iterable[str] | None, scope: frozenset[str]) -> list[str]:
    """The regions of a ``regions`` list that ``scope`` covers, sorted: what a caller is shown
    of where an element came from (regions outside the scope are not the caller's to see)."""
    return sorted(set(regions or ()) & scope)


def json_properties(props: dict) -> dict:
    """Every property but the node's own fields, JSON-safe, sorted by name."""
    return {k: json_value(props[k]) for k in sorted(props) if k not in _OWN_FIELDS}


@dataclass(frozen=True)
class Node(PathNode):
    """One entity as the API hands it out: the service's entity (kind, key, label, regions and
    ``props``, all its stored properties) with ``properties``, the others made JSON-safe."""

    properties: dict = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def from_props(cls, label_name: str, props: dict) -> Node:
        """A Node from its Neo4j label and properties."""
        whole = PathNode.from_props(label_name, props)
        return cls(whole.kind, whole.key, whole.label, whole.regions, whole.props,
                   json_properties(props))

    @classmethod
    def of(cls, node: PathNode) -> Node:
        """The API node of a service's entity (read with its properties, or bare)."""
        props = node.props if node.props is not None else {
            "key": node.key, "label": node.label, "regions": list(node.regions)}
        return cls.from_props(KIND_LABELS[node.kind], props)

    def in_scope(self, scope: frozenset[str]) -> Node:
        """This node as shown in ``scope``: its regions cut to the scope's."""
        return replace(self, regions=tuple(regions_in(self.regions, scope)))

    def as_export(self) -> dict:
        """The node as fusion.api.export expects it."""
        return {"kind": self.kind, "key": self.key, "label": self.label,
                "regions": list(self.regions), "properties": self.properties}


@dataclass(frozen=True)
class Rel(PathRel):
    """One relationship as the API hands it out: the service's relationship (type, its own
    start and end, properties) with its properties JSON-safe and sorted by name."""

    @classmethod
    def of(cls, rel: PathRel) -> Rel:
        """The API relationship of a service's relationship."""
        return cls(rel.type, rel.source, rel.target,
                   {k: json_value(v) for k, v in sorted(rel.properties.items())})

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """(type, from kind, from key, to kind, to key)."""
        return self.type, self.source.kind, self.source.key, self.target.kind, self.target.key

    def as_export(self) -> dict:
        """The relationship as fusion.api.export expects it."""
        return {"type": self.type, "from": {"kind": self.source.kind, "key": self.source.key},
                "to": {"kind": self.target.kind, "key": self.target.key},
                "properties": self.properties}
