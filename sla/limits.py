"""Time limits as policies write them: ``24h``, ``3 working days``, or a time from the event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

__all__ = [
    "MAX_DURATION",
    "MAX_WORKING_DAYS",
    "MAX_WORKING_HOURS",
    "Duration",
    "Limit",
    "LimitField",
    "parse_duration",
    "parse_limit",
]

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
#: The longest duration read (100 years): beyond it ``timedelta`` overflows, and no setting
#: of slawatch means anything that long. Clock limits are held shorter (sla/deadline_check.py).
MAX_DURATION = timedelta(days=36500)
#: The most working days and working hours a limit may name (a deadline must also fall within
#: two years of its start, which the policy check computes on the calendar).
MAX_WORKING_DAYS = 1000
MAX_WORKING_HOURS = 20000
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_WORKING = re.compile(r"^(\d+(?:\.\d+)?)\s*working\s+(day|days|hour|hours|h)$")


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """Parse a calendar duration such as ``24h``, ``1h30m``, ``2 days`` or ``90s``.

    ``allow_zero`` accepts ``0`` and ``0s`` (an allowed lateness of none); limits refuse them.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration("0s", allow_zero=True)
    datetime.timedelta(0)
    """
    cleaned = text.strip().lower()
    if allow_zero and cleaned == "0":
        return timedelta(0)
    pos, total = 0, 0.0
    for match in _PART.finditer(cleaned):
        if cleaned[pos : match.start()].strip():
            break
        unit = _UNITS.get(match.group(2))
        if unit is None:
            raise ValueError(
                f"unknown unit {match.group(2)!r} in duration {text!r}; use s, m, h, d or w"
            )
        total += float(match.group(1)) * unit
        pos = match.end()
    if pos == 0 or cleaned[pos:].strip():
        raise ValueError(
            f"cannot read duration {text!r}; write e.g. '24h', '30m', '1h30m' or '2 days'"
        )
    if total < 0 or (total == 0 and not allow_zero):
        raise ValueError(f"duration {text!r} must be longer than zero")
    if total > MAX_DURATION.total_seconds():
        raise ValueError(
            f"duration {text!r} is longer than {MAX_DURATION.days} days; write a shorter one"
        )
    duration = timedelta(seconds=total)
    if not duration and total:  # a positive amount below timedelta's resolution
        raise ValueError(f"duration {text!r} is shorter than a microsecond; write a longer one")
    return duration


@dataclass(frozen=True)
class Limit:
    """How long a clock may run before it breaches.

    ``elapsed``: calendar time. ``working``: working time on the clock's calendar, given as
    hours (``duration``) or working days (``working_days``, each one calendar working day long).
    ``until``: an absolute deadline read from the event attribute ``attribute``.
    """

    kind: Literal["elapsed", "working", "until"]
    text: str
    duration: timedelta | None = None
    working_days: float | None = None
    attribute: str | None = None

    def __str__(self) -> str:
        return self.text


def parse_limit(text: str) -> Limit:
    """Parse ``24h``, ``3 working days``, ``16 working hours`` or ``until promised_by``.

    >>> parse_limit("3 working days").working_days
    3.0
    >>> parse_limit("until promised_by").attribute
    'promised_by'
    """
    cleaned = " ".join(text.strip().lower().split())
    if cleaned.startswith("until "):
        attribute = cleaned.removeprefix("until ").strip()
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", attribute):
            raise ValueError(
                f"'until' needs an attribute name, got {text!r}; e.g. 'until promised_by'"
            )
        return Limit(kind="until", text=text, attribute=attribute)
    working = _WORKING.match(cleaned)
    if working:
        amount = float(working.group(1))
        if amount <= 0:
            raise ValueError(f"limit {text!r} must be longer than zero")
        days = working.group(2).startswith("day")
        most = MAX_WORKING_DAYS if days else MAX_WORKING_HOURS
        if amount > most:
            unit = "working days" if days else "working hours"
            raise ValueError(f"limit {text!r} is more than {most} {unit}; write a shorter one")
        if days:
            return Limit(kind="working", text=text, working_days=amount)
        return Limit(kind="working", text=text, duration=timedelta(hours=amount))
    if "working" in cleaned:
        raise ValueError(f"cannot read {text!r}; write e.g. '3 working days' or '16 working hours'")
    return Limit(kind="elapsed", text=text, duration=parse_duration(cleaned))


def _read_duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _read_limit(value: Any) -> Any:
    return parse_limit(value) if isinstance(value, str) else value


#: A config field holding a duration, written ``30m``, ``1h30m``, ``2 days`` (or a timedelta).
Duration = Annotated[timedelta, BeforeValidator(_read_duration)]
#: A config field holding a clock limit, written as :func:`parse_limit` reads it.
LimitField = Annotated[Limit, BeforeValidator(_read_limit)]
