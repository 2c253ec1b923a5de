"""Test helpers for the clock and engine tests: a tiny working calendar and event builders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sla.calendar import Calendar
from sla.events import LifecycleEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hours: float = 0, minutes: float = 0) -> datetime:
    """``T0`` plus a number of hours and minutes."""
    return T0 + timedelta(hours=hours, minutes=minutes)


class OfficeHours(Calendar):
    """Counts 09:00-17:00 UTC every day: a working calendar simple enough to check by hand."""

    OPEN = time(9)
    CLOSE = time(17)

    def _period(self, day: date) -> tuple[datetime, datetime]:
        return datetime.combine(day, self.OPEN, UTC), datetime.combine(day, self.CLOSE, UTC)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        day, remaining = start.astimezone(UTC).date(), amount
        while True:
            opens, closes = self._period(day)
            lo = max(opens, start)
            if lo < closes:
                if remaining <= closes - lo:
                    return lo + remaining
                remaining -= closes - lo
            day += timedelta(days=1)

    def between(self, start: datetime, end: datetime) -> timedelta:
        total, day = timedelta(0), start.astimezone(UTC).date()
        while day <= end.astimezone(UTC).date():
            opens, closes = self._period(day)
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
            day += timedelta(days=1)
        return total

    def working_days(self, days: float) -> timedelta:
        return timedelta(hours=8) * days


def event(
    event_type: str,
    occurred_at: datetime,
    *,
    event_id: str | None = None,
    case_id: str = "C-1",
    case_kind: str = "complaint",
    **attributes: Any,
) -> LifecycleEvent:
    """A lifecycle event; the id defaults to type and time, so equal calls make duplicates."""
    return LifecycleEvent.model_validate(
        {
            "event_id": event_id or f"{event_type}@{occurred_at.isoformat()}",
            "case_id": case_id,
            "case_kind": case_kind,
            "event_type": event_type,
            "occurred_at": occurred_at,
            "attributes": attributes,
        }
    )
