"""Who is on duty now: working hours and time zone per team, shifts per person, on-call cover.

A warning must not wake someone at 3 a.m.; it goes to whoever is on duty for the team instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.config import WEEKDAYS, RosterSpec, ShiftSpec, TeamAlerts

__all__ = ["in_shift", "is_on_duty", "on_duty_members"]


def in_shift(shift: ShiftSpec, zone: str, now: datetime) -> bool:
    """Whether ``now`` falls in ``shift``; an overnight shift belongs to the day it starts on.

    >>> from datetime import UTC
    >>> night = ShiftSpec(hours="22:00-06:00", days=["mon"])
    >>> in_shift(night, "UTC", datetime(2026, 3, 3, 5, 0, tzinfo=UTC))  # Tuesday 05:00
    True
    """
    local = now.astimezone(ZoneInfo(zone))
    start, end = shift.bounds()
    moment = local.time()
    today = WEEKDAYS[local.weekday()]
    if start <= end:
        return today in shift.days and start <= moment < end
    if moment >= start:
        return today in shift.days
    yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
    return moment < end and yesterday in shift.days


def is_on_duty(roster: RosterSpec, recipient: str, now: datetime) -> bool:
    """Whether ``recipient`` works at ``now`` by this roster (on-call people always do)."""
    if recipient in roster.on_call:
        return True
    shift = roster.shifts.get(recipient, roster)
    return in_shift(shift, roster.timezone, now)


def on_duty_members(team: TeamAlerts, now: datetime) -> list[str]:
    """The team's members on duty at ``now``, then its on-call people, without repeats."""
    people = [m for m in team.members if is_on_duty(team.roster, m, now)]
    people += [p for p in team.roster.on_call if p not in people]
    return people
