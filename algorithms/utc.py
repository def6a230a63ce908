"""The one rule for moments without a zone: the event store holds UTC, so a naive datetime is
taken as UTC and an aware one converted to it. Every layer that compares a caller's moment with
stored times (algorithms, services, loaders) uses this helper, so they cannot disagree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def utc(moment: datetime) -> datetime: ...
@overload
def utc(moment: None) -> None: ...


def utc(moment: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime (naive ones are taken as UTC); None stays None.

    >>> from datetime import timedelta, timezone
    >>> utc(datetime(2024, 5, 1, 8)).isoformat()
    '2024-05-01T08:00:00+00:00'
    >>> utc(datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=8)))).isoformat()
    '2024-05-01T00:00:00+00:00'
    >>> utc(None) is None
    True
    """
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
