"""How the analyses name entities: a kind and a canonical key (the contract's ``EntityRef``),
and an entity as shown in results (kind, key, label, regions)."""

from __future__ import annotations

from dataclasses import dataclass

from fusion.errors import BadInput
from loaders.normalize import InvalidValue, canonical_key
from queries.model import KIND_LABELS


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
    """An entity in a result: kind, key, display label and the regions that supplied it."""

    kind: str
    key: str
    label: str | None
    regions: tuple[str, ...]

    @property
    def ref(self) -> EntityRef:
        """The entity's reference."""
        return EntityRef(self.kind, self.key)


# The name the other analyses use for a displayed entity.
Entity = PathNode
