"""The escalation ladder as data: which level is due when, for a breach nobody acknowledged.

Level 1 is sent when the breach is seen. Each further step waits its ``after`` from the
previous level; an acknowledgement or the clock stopping ends the climb.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.config import AlertsSpec

__all__ = ["Ladder", "ladder_for"]


@dataclass(frozen=True)
class Ladder:
    """Delays between levels: ``delays[0]`` from level 1 to 2, ``delays[1]`` from 2 to 3, ..."""

    delays: tuple[timedelta, ...]

    @property
    def top(self) -> int:
        """The highest level."""
        return len(self.delays) + 1

    def due_at(self, breached_at: datetime, level: int) -> datetime:
        """When ``level`` is due for a breach seen at ``breached_at``.

        >>> from datetime import UTC
        >>> lad = Ladder((timedelta(minutes=30), timedelta(hours=2)))
        >>> lad.due_at(datetime(2026, 1, 1, 9, tzinfo=UTC), 3).isoformat()
        '2026-01-01T11:30:00+00:00'
        """
        if not 1 <= level <= self.top:
            raise ValueError(f"level {level} is not on this ladder (1..{self.top})")
        return breached_at + sum(self.delays[: level - 1], timedelta())

    def next_due(
        self, breached_at: datetime, fired: int, *, acked: bool = False, stopped: bool = False
    ) -> tuple[int, datetime] | None:
        """The next level and when it is due after ``fired`` was sent; None when the climb ends."""
        if acked or stopped or fired >= self.top:
            return None
        return fired + 1, self.due_at(breached_at, fired + 1)


def ladder_for(spec: AlertsSpec, clock: str) -> Ladder:
    """The ladder configured for ``clock`` (or the default one)."""
    return Ladder(tuple(step.after for step in spec.escalation.ladder(clock)))
