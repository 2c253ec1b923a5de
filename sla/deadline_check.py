"""Compute a deadline for every clock at check time, so a policy that would break at run time
is refused by ``slawatch check-config`` and at worker start instead.

Parsing bounds each number; this module checks what only the calendar can tell: a limit of
working time on a calendar with one minute a week, or with years of extra holidays, has a
deadline decades away or none at all, and the engine would hang or fail on the first event.
For each clock (and each override), from the first day of every month of this year and of
every year its calendar lists days in, the deadline must exist and fall within
:data:`MAX_DEADLINE_SPAN` of the start.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from sla.calendar import CalendarDataMissing, WorkingCalendar, parse_working_hours
from sla.config_file import LineIndex, Loc, Problem, field_name
from sla.limits import Limit
from sla.policy import CalendarSpec, PolicySpec

__all__ = ["MAX_DEADLINE_SPAN", "MIN_LIMIT", "deadline_problems"]

#: The furthest a deadline may fall after its start: no customer-service promise runs longer.
MAX_DEADLINE_SPAN = timedelta(days=730)
#: The shortest limit: below it a warning fraction of the limit is less than a microsecond.
MIN_LIMIT = timedelta(seconds=1)
_WEEK = timedelta(days=7)
_MAX_YEARS = 30


def deadline_problems(spec: PolicySpec, path: str, index: LineIndex) -> list[Problem]:
    """Every clock limit whose deadline cannot be computed or falls too far from its start."""
    problems: list[Problem] = []
    calendars: dict[str, WorkingCalendar] = {}
    for key, one in spec.calendars.items():
        try:
            calendars[key] = WorkingCalendar(one, key)
        except ValueError as exc:
            where: Loc = ("calendars", key)
            problems.append(Problem(path, index.line_of(where), field_name(where), str(exc)))
    for loc, limit, name in _terms(spec):
        message = _limit_problem(
            limit,
            spec.calendars.get(name) if name else None,
            calendars.get(name) if name else None,
        )
        if message:
            problems.append(Problem(path, index.line_of(loc), field_name(loc), message))
    return problems


def _terms(spec: PolicySpec) -> Iterator[tuple[Loc, Limit, str | None]]:
    """(where, limit, calendar name) for every clock and every override that changes either."""
    for i, clock in enumerate(spec.clocks):
        yield ("clocks", i, "limit"), clock.limit, clock.calendar
        for j, override in enumerate(clock.overrides):
            if override.limit is None and override.calendar is None:
                continue
            where = "limit" if override.limit is not None else "calendar"
            yield (
                ("clocks", i, "overrides", j, where),
                override.limit or clock.limit,
                override.calendar or clock.calendar,
            )


def _limit_problem(
    limit: Limit, calendar_spec: CalendarSpec | None, calendar: WorkingCalendar | None
) -> str | None:
    """What is wrong with ``limit`` on ``calendar``, or None."""
    if limit.kind == "until":
        return None
    if limit.kind == "elapsed":
        assert limit.duration is not None
        return _span_problem(limit, limit.duration)
    if calendar is None or calendar_spec is None:
        return None  # no or unknown calendar: the cross-field check reports it
    amount = (
        limit.duration
        if limit.duration is not None
        else calendar.working_days(limit.working_days or 0)
    )
    if amount < MIN_LIMIT:
        return (
            f"{limit.text!r} is {amount.total_seconds()}s of working time on calendar "
            f"{calendar.name!r}; a limit must be at least {MIN_LIMIT.total_seconds():.0f}s "
            "(check the calendar's working_day)"
        )
    weekly = _weekly_working_time(calendar_spec)
    if amount / weekly * _WEEK > MAX_DEADLINE_SPAN:
        return (
            f"{limit.text!r} needs {amount / weekly:.0f} weeks of calendar {calendar.name!r}, "
            f"which has {weekly} of working time a week; a deadline must fall within "
            f"{MAX_DEADLINE_SPAN.days} days of its start: shorten the limit or add working hours"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarDataMissing)
        for start in _sample_starts(calendar_spec, calendar):
            try:
                deadline = calendar.add(start, amount)
            except (ValueError, OverflowError) as exc:
                return f"{limit.text!r} has no deadline from {start.isoformat()}: {exc}"
            if deadline - start > MAX_DEADLINE_SPAN:
                return (
                    f"{limit.text!r} from {start.isoformat()} ends {(deadline - start).days} days "
                    f"later on calendar {calendar.name!r}; a deadline must fall within "
                    f"{MAX_DEADLINE_SPAN.days} days of its start: check its extra_holidays"
                )
    return None


def _span_problem(limit: Limit, amount: timedelta) -> str | None:
    if amount < MIN_LIMIT:
        return f"{limit.text!r} is shorter than {MIN_LIMIT.total_seconds():.0f}s"
    if amount > MAX_DEADLINE_SPAN:
        return (
            f"{limit.text!r} is longer than {MAX_DEADLINE_SPAN.days} days; a deadline must "
            "fall within that of its start"
        )
    return None


def _weekly_working_time(spec: CalendarSpec) -> timedelta:
    minutes = sum(
        end - start
        for day, ranges in spec.working_hours.items()
        for start, end in parse_working_hours(day, ranges)
    )
    return timedelta(minutes=max(minutes, 1))


def _sample_starts(spec: CalendarSpec, calendar: WorkingCalendar) -> Iterator[datetime]:
    """09:00 local on the first of every month of this year and of the years the spec lists.

    At most :data:`_MAX_YEARS` years: the current one, then the earliest listed.
    """
    listed = {d.year for d in (*spec.extra_holidays, *spec.extra_workdays)} - {date.today().year}
    years = [date.today().year, *sorted(listed)[: _MAX_YEARS - 1]]
    for year in years:
        for month in range(1, 13):
            yield datetime.combine(date(year, month, 1), time(9), tzinfo=calendar.timezone)
