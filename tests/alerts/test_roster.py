"""Who is on duty: hours in the roster's time zone, overnight shifts, on-call cover."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.config import RosterSpec, ShiftSpec, TeamAlerts
from alerts.roster import in_shift, is_on_duty, on_duty_members

MONDAY_0930_SHANGHAI = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
MONDAY_2300_SHANGHAI = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SATURDAY_1000_SHANGHAI = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)


class TestInShift:
    def test_office_hours_in_the_rosters_zone(self) -> None:
        """09:30 in Shanghai is inside 09:00-18:00 there, though it is 01:30 UTC."""
        assert in_shift(ShiftSpec(), "Asia/Shanghai", MONDAY_0930_SHANGHAI)

    def test_evening_is_off(self) -> None:
        """23:00 is outside 09:00-18:00."""
        assert not in_shift(ShiftSpec(), "Asia/Shanghai", MONDAY_2300_SHANGHAI)

    def test_weekend_is_off(self) -> None:
        """Saturday is not in the default Monday-to-Friday days."""
        assert not in_shift(ShiftSpec(), "Asia/Shanghai", SATURDAY_1000_SHANGHAI)

    def test_overnight_shift_belongs_to_its_start_day(self) -> None:
        """A Friday 22:00-06:00 shift covers Saturday 05:00 but not Monday 05:00."""
        night = ShiftSpec(hours="22:00-06:00", days=["fri"])
        assert in_shift(night, "UTC", datetime(2026, 3, 7, 5, 0, tzinfo=UTC))
        assert not in_shift(night, "UTC", datetime(2026, 3, 2, 5, 0, tzinfo=UTC))

    def test_whole_day(self) -> None:
        """00:00-24:00 covers the last minute of the day."""
        shift = ShiftSpec(hours="00:00-24:00", days=["mon"])
        assert in_shift(shift, "UTC", datetime(2026, 3, 2, 23, 59, 30, tzinfo=UTC))


class TestOnDuty:
    def test_personal_shift_and_on_call(self) -> None:
        """At 23:00 only the night-shift member and the on-call supervisor are on duty."""
        roster = RosterSpec(
            shifts={"night": ShiftSpec(hours="20:00-08:00", days=["mon"])}, on_call=["sup"]
        )
        team = TeamAlerts(members=["day", "night"], roster=roster)
        assert not is_on_duty(roster, "day", MONDAY_2300_SHANGHAI)
        assert ["night", "sup"] == on_duty_members(team, MONDAY_2300_SHANGHAI)
