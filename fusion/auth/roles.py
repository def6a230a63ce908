"""Roles and callers: who is asking, as tokens, access rules and joint operations all see it.

Its own module so that the token codec, the access rules and the joint operations each import
it without importing one another (they once did, in a circle held by function-local imports).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fusion.errors import BadInput, Forbidden


class Role(StrEnum):
    """The contract's roles."""

    ADMIN = "admin"
    ANALYST = "analyst"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    SERVICE = "service"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the token's subject, role and home regions."""

    user: str
    role: Role
    regions: frozenset[str]


def parse_role(value: str) -> Role:
    """The Role named ``value``; BadInput when there is none."""
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise BadInput(f"Unknown role {value!r}; roles are {names}.") from None


def require_role(caller: Caller, *roles: Role) -> None:
    """Raise Forbidden unless the caller has one of ``roles``."""
    if caller.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(str(r) for r in roles)}.")
