"""Argument checks the services share: each service validates its arguments once, here, and
raises BadInput with the argument's name as the GraphQL schema spells it."""

from __future__ import annotations

from fusion.errors import BadInput
from queries.model import REL_TYPES


def check_range(value: int, high: int, name: str) -> int:
    """``value`` within 1 .. ``high``, else BadInput."""
    if not 1 <= value <= high:
        raise BadInput(f"{name} must be between 1 and {high}")
    return value


def check_limit(limit: int, cap: int | None) -> int:
    """A positive ``limit``, at most ``cap`` when there is one, else BadInput."""
    if cap is not None:
        return check_range(limit, cap, "limit")
    if limit < 1:
        raise BadInput("limit must be at least 1")
    return limit


def check_types(rel_types: list[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """The relationship types to follow (``default`` when omitted, else sorted); BadInput when
    empty or unknown."""
    if rel_types is None:
        return default
    if not rel_types:
        raise BadInput("relTypes must name at least one relationship type (or be omitted)")
    unknown = sorted(set(rel_types) - set(REL_TYPES))
    if unknown:
        raise BadInput(f"unknown relationship types: {unknown}")
    return tuple(sorted(set(rel_types)))
