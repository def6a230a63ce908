"""Argument checks shared by the resolvers."""

from __future__ import annotations

from fusion.api.context import Context
from fusion.api.enums import RelType
from fusion.errors import BadInput
from queries.model import REL_TYPES


def check_limit(ctx: Context, limit: int, name: str = "limit") -> int:
    """``limit`` within 1 .. FUSION_API_MAX_RESULTS, else BadInput."""
    cap = ctx.settings.api_max_results
    if not 1 <= limit <= cap:
        raise BadInput(f"{name} must be between 1 and {cap}")
    return limit


def check_hops(ctx: Context, hops: int, name: str) -> int:
    """``hops`` within 1 .. FUSION_API_MAX_HOPS, else BadInput."""
    cap = ctx.settings.api_max_hops
    if not 1 <= hops <= cap:
        raise BadInput(f"{name} must be between 1 and {cap}")
    return hops


def rel_type_names(rel_types: list[RelType] | None, default: tuple[str, ...] = REL_TYPES
                   ) -> list[str]:
    """The requested relationship types (default when omitted); an empty list is BadInput."""
    if rel_types is None:
        return list(default)
    if not rel_types:
        raise BadInput("relTypes must name at least one relationship type (or be omitted)")
    return sorted({t.value for t in rel_types})
