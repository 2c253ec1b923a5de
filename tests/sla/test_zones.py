"""The one conversion of an instant to UTC, and its memory of the last one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import TzInfo

from sla.zones import utc, zone

_ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=8)),
        timezone(timedelta(hours=-5, minutes=-30)),
        zone("Asia/Shanghai"),
        zone("Europe/Amsterdam"),
        TzInfo(0),
        TzInfo(7200),
    ]
)
_INSTANTS = st.builds(
    lambda at, tz: at.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 1, 1)),
    _ZONES,
)


@given(st.lists(_INSTANTS, min_size=1, max_size=8), st.lists(st.integers(0, 7), max_size=24))
def test_every_conversion_is_the_instant_in_utc(instants: list[datetime], picks: list[int]) -> None:
    """Asked in any order, repeats included, each answer is that very instant in UTC."""
    for i in [*range(len(instants)), *picks]:
        value = instants[i % len(instants)]
        converted = utc(value, "at")
        assert converted == value and converted.tzinfo is UTC
        assert converted.replace(tzinfo=None) == value.astimezone(UTC).replace(tzinfo=None)


def test_the_same_instant_asked_twice_is_converted_once() -> None:
    value = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert utc(value, "at") is utc(value, "at")
    other = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert utc(other, "at") == utc(value, "at")


def test_a_naive_time_is_refused_after_an_aware_one() -> None:
    aware = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    utc(aware, "at")
    with pytest.raises(ValueError, match="occurred_at 2026-03-01T09:30:00 has no time zone"):
        utc(aware.replace(tzinfo=None), "occurred_at")


class _Silent(tzinfo):
    """A zone that gives no offset: its datetimes count as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


def test_a_zone_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        utc(datetime(2026, 3, 1, 9, 30, tzinfo=_Silent()), "occurred_at")
