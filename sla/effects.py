"""What the engine asks the outside world to do, returned as plain values.

The engine never sends, stores or counts anything itself: it returns effects, and the Faust
agent maps each one to a topic send, a metric and a log line. Keeping effects as values makes
the clocks testable without a broker and keeps ``sla/`` free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sla.records import BreachRecord, ClockRef, OutcomeRecord, WarningRecord

__all__ = [
    "IGNORE_REASONS",
    "RECORD_EFFECTS",
    "BreachRetracted",
    "Breached",
    "ClockEnded",
    "ClockStarted",
    "Effect",
    "EventIgnored",
    "WarningDue",
]

#: Why an event changed nothing. Stable: the values are metric label values.
IGNORE_REASONS: Final = frozenset(
    {
        "duplicate",
        "unknown_event_type",
        "no_matching_clock",
        "already_running",
        "late_after_end",
        "orphan_expired",
        "missing_attribute",
        "stale_start",
    }
)


@dataclass(frozen=True)
class ClockStarted:
    """A new cycle of a clock started; ``deadline`` is None while it starts paused."""

    ref: ClockRef
    started_at: datetime
    deadline: datetime | None


@dataclass(frozen=True)
class WarningDue:
    """A running clock passed a warning threshold: send ``record`` to ``sla.warnings``."""

    record: WarningRecord


@dataclass(frozen=True)
class Breached:
    """A deadline passed with the clock still open: send ``record`` to ``sla.breaches``."""

    record: BreachRecord

    def __post_init__(self) -> None:
        if self.record.type != "breach":
            raise ValueError(f"Breached needs a record of type 'breach', got {self.record.type!r}")


@dataclass(frozen=True)
class BreachRetracted:
    """A stop from before the deadline arrived after the breach was sent: send the correction.

    The record has the breach's ``breach_id`` and ``type="breach_retracted"``.
    """

    record: BreachRecord

    def __post_init__(self) -> None:
        if self.record.type != "breach_retracted":
            raise ValueError(
                "BreachRetracted needs a record of type 'breach_retracted', "
                f"got {self.record.type!r}"
            )


@dataclass(frozen=True)
class ClockEnded:
    """A cycle ended (met, breached, cancelled or reset): send ``record`` to ``sla.outcomes``."""

    record: OutcomeRecord


@dataclass(frozen=True)
class EventIgnored:
    """An event changed no clock; ``reason`` is one of :data:`IGNORE_REASONS` (a metric label).

    ``detail`` is for logs: clock and event type, never personal data.
    """

    reason: str
    event_id: str | None
    detail: str = ""


Effect = ClockStarted | WarningDue | Breached | BreachRetracted | ClockEnded | EventIgnored

#: The effects that carry a record for the outside world (a warning, a breach, a retraction,
#: an outcome); the others only count.
RECORD_EFFECTS = (WarningDue, Breached, BreachRetracted, ClockEnded)
