"""Graph elements as the API hands them out: plain, JSON-safe values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from fusion.services.models import PathNode, PathRel
from fusion.services.values import json_value, native_time
from queries.model import KIND_LABELS, LABEL_KINDS

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
class Node:
    """One entity node: kind, key, label, regions and its other properties."""

    kind: str
    key: str
    label: str | None
    regions: tuple[str, ...]
    properties: dict = field(hash=False, compare=False)
    raw: dict = field(hash=False, compare=False, repr=False)

    @classmethod
    def from_props(cls, label_name: str, props: dict) -> Node:
        """A Node from its Neo4j label and properties."""
        return cls(kind=LABEL_KINDS[label_name], key=props["key"], label=props.get("label"),
                   regions=tuple(props.get("regions") or ()),
                   properties=json_properties(props), raw=dict(props))

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
class Rel:
    """One relationship between two entities, by kind and key."""

    type: str
    from_kind: str
    from_key: str
    to_kind: str
    to_key: str
    properties: dict = field(hash=False, compare=False)

    @classmethod
    def from_record(cls, record) -> Rel:
        """A Rel from a row with type, from_label, from, to_label, to, props."""
        return cls(record["type"], LABEL_KINDS[record["from_label"]], record["from"],
                   LABEL_KINDS[record["to_label"]], record["to"],
                   {k: json_value(v) for k, v in sorted(record["props"].items())})

    @classmethod
    def of(cls, rel: PathRel) -> Rel:
        """The API relationship of a service's relationship (properties JSON-safe, sorted)."""
        return cls(rel.type, rel.source.kind, rel.source.key, rel.target.kind, rel.target.key,
                   {k: json_value(v) for k, v in sorted(rel.properties.items())})

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """(type, from kind, from key, to kind, to key)."""
        return self.type, self.from_kind, self.from_key, self.to_kind, self.to_key

    def as_export(self) -> dict:
        """The relationship as fusion.api.export expects it."""
        return {"type": self.type, "from": {"kind": self.from_kind, "key": self.from_key},
                "to": {"kind": self.to_kind, "key": self.to_key},
                "properties": self.properties}
