"""Working time: when the clock counts, and how a limit in working time becomes a deadline.

CONTRACT (implemented by the calendar work; the engine relies only on this):

* ``Calendar`` protocol: ``add(start, amount) -> datetime`` and ``between(a, b) -> timedelta``,
  both in *counted* time (working time for a working calendar, plain time for elapsed);
  ``working_days(n) -> timedelta`` converts "N working days" into counted time.
* ``ElapsedCalendar``: counts every second (calendar-time clocks).
* ``WorkingCalendar(spec: CalendarSpec)``: working hours per weekday in a time zone, China's
  statutory holidays and make-up working days (chinesecalendar), extra days from config;
  a year the library does not know falls back to config and the weekly pattern and warns once.
* ``build_calendars(spec: PolicySpec) -> dict[str, Calendar]``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

__all__ = ["Calendar", "ElapsedCalendar"]


class Calendar(Protocol):
    """Counts time the way a clock's limit is measured."""

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of counted time has passed after ``start``."""
        ...

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Counted time in ``[start, end)``; zero when ``end <= start``."""
        ...

    def working_days(self, days: float) -> timedelta:
        """Counted time of ``days`` working days."""
        ...


class ElapsedCalendar:
    """Calendar time: every second counts."""

    def add(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))

    def working_days(self, days: float) -> timedelta:
        return timedelta(days=days)
