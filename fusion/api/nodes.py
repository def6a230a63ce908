"""Graph elements as the API hands them out: plain, JSON-safe values."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time

from queries.model import LABEL_KINDS

# Properties every node has, shown as their own fields rather than in `properties`.
_OWN_FIELDS = ("key", "label", "regions")


def regions_in(regions: Iterable[str] | None, scope: frozenset[str]) -> list[str]:
    """The regions of a ``regions`` list that ``scope`` covers, sorted: what a caller is shown
    of where an element came from (regions outside the scope are not the caller's to see)."""
    return sorted(set(regions or ()) & scope)


def json_value(value: object) -> object:
    """A property value as JSON: times as ISO 8601 text, non-finite floats as null."""
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


def json_properties(props: dict) -> dict:
    """Every property but the node's own fields, JSON-safe, sorted by name."""
    return {k: json_value(props[k]) for k in sorted(props) if k not in _OWN_FIELDS}


def native_time(value: object) -> datetime | None:
    """A Neo4j or Python datetime as an aware Python datetime (None stays None)."""
    if value is None:
        return None
    if hasattr(value, "to_native"):
        value = value.to_native()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """(type, from kind, from key, to kind, to key)."""
        return self.type, self.from_kind, self.from_key, self.to_kind, self.to_key

    def as_export(self) -> dict:
        """The relationship as fusion.api.export expects it."""
        return {"type": self.type, "from": {"kind": self.from_kind, "key": self.from_key},
                "to": {"kind": self.to_kind, "key": self.to_key},
                "properties": self.properties}
