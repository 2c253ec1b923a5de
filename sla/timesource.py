"""Where "now" comes from. Injected, so tests and replay drive time by hand.

A time source is never called a clock here: a clock is an SLA clock (``sla/clock.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

#: ``UTC`` as a ``Final`` name: compiled, it is a C variable instead of a dict lookup per use.
_UTC: Final = UTC

__all__ = ["ManualTime", "SystemTime", "TimeSource"]


class TimeSource(Protocol):
    """A source of the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemTime:
    """The computer's own time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualTime:
    """A time that moves only when told to: for tests and event-time replay."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"ManualTime needs an aware datetime, got naive {start!r}")
        self._now = start.astimezone(_UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when``; time never goes backwards."""
        when = when.astimezone(_UTC)
        if when > self._now:
            self._now = when

    def advance(self, by: timedelta) -> None:
        self._now += by
