"""The contract's input types: EntityRef, ScopeInput, LinkWeightsInput."""

from __future__ import annotations

import strawberry

from fusion.api.enums import EntityKind
from fusion.errors import BadInput
from loaders.normalize import InvalidValue, canonical_key


@strawberry.input(description="An entity named by kind and key (canonical or any raw form).")
class EntityRef:
    kind: EntityKind = strawberry.field(description="The entity's kind.")
    key: str = strawberry.field(
        description="Its key as written anywhere (e.g. 138 0013 8000 for +8613800138000); "
        "normalized the way the loaders normalize.")

    def canonical(self) -> tuple[str, str]:
        """(kind name, canonical key); BadInput when the key cannot be normalized."""
        try:
            return self.kind.value, canonical_key(self.kind.value, self.key)
        except InvalidValue as err:
            raise BadInput(f"{self.kind.value} key {self.key!r} is not valid: {err}") from None


@strawberry.input(description="Which regions a query sees. Omitted: the caller's home regions.")
class ScopeInput:
    regions: list[str] | None = strawberry.field(
        default=None,
        description="A subset of the caller's regions (or of the joint operation's).")
    joint_operation: strawberry.ID | None = strawberry.field(
        default=None,
        description="An open joint operation the caller is a member of: its regions are the "
        "scope.")


@strawberry.input(description="Weight of one unit of each kind of evidence linking two people.")
class LinkWeightsInput:
    case: float | None = strawberry.field(default=None,
                                          description="Per shared case (default 3).")
    call: float | None = strawberry.field(default=None,
                                          description="Per call between their phones (default 1).")
    parcel: float | None = strawberry.field(
        default=None, description="Per parcel between their phones (default 2).")
    cotravel: float | None = strawberry.field(
        default=None, description="Per co-travel meeting of their vehicles/phones (default 2).")

    def as_dict(self) -> dict[str, float | None]:
        """The weights by link kind (None: the default)."""
        return {"case": self.case, "call": self.call, "parcel": self.parcel,
                "cotravel": self.cotravel}
