"""What the engine asks the outside world to do, returned as plain values.

The engine never sends, stores or counts anything itself: it returns effects, and the Faust
agent maps each one to a topic send, a metric and a log line. Keeping effects as values makes
the clocks testable without a broker and keeps ``sla/`` free of I/O.

The hot value classes of ``sla/`` spell out their ``__init__`` (``init=False``): mypyc compiles
a written one, not the one ``dataclass`` generates, and an effect is built per event and timer
(a tenth of the time to build one; tests/sla/test_inits.py keeps each in step with its fields).
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


@dataclass(frozen=True, init=False)
class ClockStarted:
    """A new cycle of a clock started; ``deadline`` is None while it starts paused."""

    ref: ClockRef
    started_at: datetime
    deadline: datetime | None

    def __init__(self, ref: ClockRef, started_at: datetime, deadline: datetime | None) -> None:
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "started_at", started_at)
        object.__setattr__(self, "deadline", deadline)


@dataclass(frozen=True, init=False)
class WarningDue:
    """A running clock passed a warning threshold: send ``record`` to ``sla.warnings``."""

    record: WarningRecord

    def __init__(self, record: WarningRecord) -> None:
        object.__setattr__(self, "record", record)


@dataclass(frozen=True, init=False)
class Breached:
    """A deadline passed with the clock still open: send ``record`` to ``sla.breaches``."""

    record: BreachRecord

    def __init__(self, record: BreachRecord) -> None:
        if record.type != "breach":
            raise ValueError(f"Breached needs a record of type 'breach', got {record.type!r}")
        object.__setattr__(self, "record", record)


@dataclass(frozen=True, init=False)
class BreachRetracted:
    """A stop from before the deadline arrived after the breach was sent: send the correction.

    The record has the breach's ``breach_id`` and ``type="breach_retracted"``.
    """

    record: BreachRecord

    def __init__(self, record: BreachRecord) -> None:
        if record.type != "breach_retracted":
            raise ValueError(
                f"BreachRetracted needs a record of type 'breach_retracted', got {record.type!r}"
            )
        object.__setattr__(self, "record", record)


@dataclass(frozen=True, init=False)
class ClockEnded:
    """A cycle ended (met, breached, cancelled or reset): send ``record`` to ``sla.outcomes``."""

    record: OutcomeRecord

    def __init__(self, record: OutcomeRecord) -> None:
        object.__setattr__(self, "record", record)


@dataclass(frozen=True, init=False)
class EventIgnored:
    """An event changed no clock; ``reason`` is one of :data:`IGNORE_REASONS` (a metric label).

    ``detail`` is for logs: clock and event type, never personal data.
    """

    reason: str
    event_id: str | None
    detail: str = ""

    def __init__(self, reason: str, event_id: str | None, detail: str = "") -> None:
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "event_id", event_id)
        object.__setattr__(self, "detail", detail)


Effect = ClockStarted | WarningDue | Breached | BreachRetracted | ClockEnded | EventIgnored

#: The effects that carry a record for the outside world (a warning, a breach, a retraction,
#: an outcome); the others only count.
RECORD_EFFECTS: Final = (WarningDue, Breached, BreachRetracted, ClockEnded)
