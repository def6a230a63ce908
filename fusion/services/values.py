"""Property values as results carry them: JSON-safe, times as aware Python datetimes."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time


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


def native_time(value: object) -> datetime | None:
    """A Neo4j or Python datetime as an aware Python datetime (None stays None)."""
    if value is None:
        return None
    if hasattr(value, "to_native"):
        value = value.to_native()
    return value if value.tzinfo else value.replace(tzinfo=UTC)
