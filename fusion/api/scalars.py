"""The contract's scalars: DateTime (ISO 8601 with a UTC offset, always) and JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from fusion.errors import BadInput


def parse_datetime(value: object) -> datetime:
    """An aware UTC datetime from ISO 8601 text; text without an offset is refused."""
    if not isinstance(value, str):
        raise BadInput("DateTime must be an ISO 8601 string with an offset")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"DateTime {value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise BadInput(f"DateTime {value!r} has no UTC offset (e.g. +08:00 or Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 lies before year 1 in UTC
        raise BadInput(f"DateTime {value!r} is out of range") from None


def serialize_datetime(value: datetime) -> str:
    """ISO 8601 with offset; naive values are UTC (the event store's convention)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


DATETIME = strawberry.scalar(
    name="DateTime",
    description="A moment in time: ISO 8601 with a UTC offset, e.g. 2024-05-01T08:30:00+08:00.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

JSON_SCALAR = strawberry.scalar(
    name="JSON",
    description="Any JSON value (objects keyed by property name; times as ISO 8601 text).",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)

SCALAR_MAP = {datetime: DATETIME, JSON: JSON_SCALAR}
