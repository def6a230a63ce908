"""The one UTC rule (algorithms.utc): naive moments are UTC, aware ones converted, None kept."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta, timezone

from algorithms import utc as utc_module
from algorithms.utc import utc


def test_naive_moment_is_read_as_utc() -> None:
    moment = utc(datetime(2024, 3, 1, 23, 30))
    assert moment.tzinfo is UTC
    assert (moment.year, moment.month, moment.day, moment.hour, moment.minute) == (2024, 3, 1,
                                                                                  23, 30)


def test_aware_moment_keeps_its_instant_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2024, 3, 2, 7, 30, tzinfo=beijing)
    moment = utc(local)
    assert moment.tzinfo is UTC
    assert moment == local  # the same instant
    assert moment.hour == 23 and moment.day == 1


def test_none_stays_none() -> None:
    assert utc(None) is None


def test_doctests() -> None:
    assert doctest.testmod(utc_module, raise_on_error=False).failed == 0
