"""Working time: when a clock counts, and how a limit in working time becomes a deadline.

A clock's limit is measured on a calendar. :class:`ElapsedCalendar` counts every second;
:class:`WorkingCalendar` counts only working hours: a weekly pattern of hours in a time zone,
minus China's statutory holidays, plus the weekend days worked in exchange (调休), adjusted by
extra days from the policy file. The engine sees both through their base class :class:`Calendar`,
so deadlines stay deterministic functions of event times, the policy and the calendar.

Example:
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> from sla.policy import CalendarSpec
    >>> cal = WorkingCalendar(CalendarSpec())
    >>> friday = datetime(2026, 3, 6, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> cal.add(friday, cal.working_days(3)).isoformat()
    '2026-03-11T15:00:00+08:00'
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final

from mypy_extensions import mypyc_attr

from sla._holidays import YearNotCovered, china_day
from sla.limits import parse_duration
from sla.zones import utc, zone

if TYPE_CHECKING:
    from sla.policy import CalendarSpec, PolicySpec, Weekday

__all__ = [
    "Calendar",
    "CalendarDataMissing",
    "ElapsedCalendar",
    "WorkingCalendar",
    "build_calendars",
    "parse_working_hours",
]

_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
#: How many days in a row may have no working time before ``add`` gives up (a guard against a
#: calendar whose extra holidays swallow everything; China's longest break is about 9 days).
_MAX_IDLE_DAYS: Final = 1000
_ZERO: Final = timedelta(0)
_ONE_MICROSECOND: Final = timedelta(microseconds=1)
#: How many dates a calendar keeps the working intervals of (about 11 years of days).
_DAYS_KEPT: Final = 4096

#: Minutes after local midnight: ``(start, end)``, end exclusive, ``end`` up to 1440 (24:00).
Minutes = tuple[int, int]
Interval = tuple[datetime, datetime]


@mypyc_attr(allow_interpreted_subclasses=True)  # a test's hand-checkable calendar
class Calendar:
    """Counts time the way a clock's limit is measured.

    A base class rather than a Protocol: compiled, a method called on a class is a native
    call, one called on a Protocol a Python one (about 1,100 instructions; the engine asks a
    calendar for due times several times per event).
    """

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of counted time has passed after ``start``."""
        raise NotImplementedError

    def add_each(self, start: datetime, amounts: list[timedelta]) -> list[datetime]:
        """``[self.add(start, amount) for amount in amounts]``, amounts in ascending order: a
        cycle's warnings and deadline, which a calendar may find in one pass."""
        return [self.add(start, amount) for amount in amounts]

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Counted time in ``[start, end)``; zero when ``end <= start``."""
        raise NotImplementedError

    def working_days(self, days: float) -> timedelta:
        """Counted time of ``days`` working days."""
        raise NotImplementedError


class ElapsedCalendar(Calendar):
    """Calendar time: every second counts."""

    def add(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount

    def between(self, start: datetime, end: datetime) -> timedelta:
        counted = end - start
        return counted if counted > _ZERO else _ZERO

    def working_days(self, days: float) -> timedelta:
        return timedelta(days=days)


class CalendarDataMissing(UserWarning):
    """China's holiday data does not cover a year a deadline falls in.

    That year counts by the weekly pattern and the policy's extra days only, so a statutory
    holiday is counted as working time until ``chinesecalendar`` is updated or the holidays are
    listed under ``extra_holidays``/``extra_workdays``. Emitted once per calendar and year.
    """


def parse_working_hours(weekday: str, ranges: Sequence[str]) -> tuple[Minutes, ...]:
    """Read one weekday's ``"HH:MM-HH:MM"`` ranges into sorted minutes after midnight.

    ``24:00`` may end a range. Ranges must not overlap; ranges that touch are merged.

    Raises:
        ValueError: a range is unreadable, empty or reversed, or two ranges overlap; the
            message names the weekday and the bad value.

    >>> parse_working_hours("mon", ["13:00-18:00", "09:00-12:00"])
    ((540, 720), (780, 1080))
    """
    parsed: list[tuple[Minutes, str]] = []
    for text in ranges:
        match = _RANGE.match(text)
        if match is None:
            raise ValueError(f"{weekday}: cannot read working hours {text!r}; write '09:00-18:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{weekday}: {text!r} is not a time of day; use 00:00 to 24:00")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start >= end:
            raise ValueError(
                f"{weekday}: working hours {text!r} end before they start; a range is "
                "'start-end' within one day (use '22:00-24:00' and the next day's '00:00-06:00' "
                "for a night shift)"
            )
        parsed.append(((start, end), text))
    parsed.sort()
    merged: list[Minutes] = []
    for index, ((start, end), text) in enumerate(parsed):
        if merged and start < merged[-1][1]:
            raise ValueError(f"{weekday}: working hours {text!r} overlap {parsed[index - 1][1]!r}")
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


class WorkingCalendar(Calendar):
    """Working time of one team: weekly hours in a zone, minus holidays, plus make-up days.

    Which days are worked, in this order:

    1. a date in ``extra_workdays`` is worked (it wins over ``extra_holidays``);
    2. a date in ``extra_holidays`` is off;
    3. with ``holidays: china``, a statutory holiday is off and a weekend day worked in exchange
       (调休) is worked; every other day follows the weekly pattern, so a service open on
       Saturdays keeps its ordinary Saturdays. For a year ``chinesecalendar`` has no data for,
       this step is skipped and :class:`CalendarDataMissing` is warned once per year;
    4. otherwise the weekday's ``working_hours`` decide (a weekday left out has none).

    A day worked although its weekday has no hours (a make-up Saturday, an extra workday on a
    Sunday) uses the *standard day*: Monday's hours, or the first weekday that has hours.

    Hours are wall-clock times in ``timezone``; they are turned into UTC instants per date, so
    days across a daylight-saving change are as long as the clocks on the wall say.

    Instants passed in must be aware; results are in the time zone of the argument. Results
    are exact to the microsecond, so ``between(s, add(s, d)) == d``.
    """

    def __init__(self, spec: CalendarSpec, name: str = "default") -> None:
        """Check and index ``spec``.

        Raises:
            ValueError: unknown time zone, unreadable or overlapping hours, no working hours on
                any weekday, or an unreadable ``working_day``.
        """
        self.name = name
        self.timezone = zone(spec.timezone)
        self._weekly = tuple(
            parse_working_hours(day, spec.working_hours.get(day, [])) for day in _WEEKDAYS
        )
        worked = [hours for hours in self._weekly if hours]
        if not worked:
            raise ValueError(
                f"calendar {name!r} has no working hours on any weekday; give at least one "
                "weekday ranges such as mon: ['09:00-18:00']"
            )
        self._standard = worked[0]
        if spec.working_day is not None:
            self.day_length = parse_duration(spec.working_day)
        else:
            self.day_length = timedelta(minutes=sum(end - start for start, end in self._standard))
        self._china = spec.holidays == "china"
        self._extra_workdays = frozenset(spec.extra_workdays)
        self._extra_holidays = frozenset(spec.extra_holidays)
        self._warned_years: set[int] = set()
        #: date ordinal -> (its UTC working intervals, their total, its local midnight in
        #: UTC): see :meth:`_day`.
        self._days: dict[int, tuple[tuple[Interval, ...], timedelta, datetime]] = {}
        #: working days -> their counted time, for the limits asked for (few).
        self._day_lengths: dict[float, timedelta] = {}

    def __repr__(self) -> str:
        return f"WorkingCalendar(name={self.name!r}, timezone={self.timezone.key!r})"

    # -- the Calendar interface --------------------------------------------------------------

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant by which ``amount`` of working time has passed after ``start``.

        Counting begins at ``start`` or, outside working time, at the next working instant. A
        result that falls exactly on the end of working hours is that end (18:00 on the day,
        not 09:00 the next morning). ``amount == 0`` returns ``start`` unchanged.

        Raises:
            ValueError: ``start`` is naive or ``amount`` is negative.
        """
        return self.add_each(start, [amount])[0]

    def add_each(self, start: datetime, amounts: list[timedelta]) -> list[datetime]:
        """``[self.add(start, amount) for amount in amounts]`` in one walk over the days.

        Whole days after ``start`` that cannot hold the rest of the smallest amount not yet
        reached are counted from their cached total, so limits of days cost O(days); a
        cycle's deadline and warnings (three amounts, usually) cost about one :meth:`add`
        instead of three. Results are each :meth:`add`'s to the microsecond
        (``tests/sla/test_calendar.py``).

        Raises:
            ValueError: ``start`` is naive, an amount is negative, or the amounts are not in
                ascending order.
        """
        cursor = utc(start, "start")
        results: list[datetime] = []
        previous = _ZERO
        for amount in amounts:
            if amount < previous:
                if amount < _ZERO:
                    raise ValueError(f"cannot add a negative working time, got {amount}")
                raise ValueError(f"amounts must ascend, got {amount} after {previous}")
            previous = amount
        count = len(amounts)
        k = 0
        while k < count and amounts[k] == _ZERO:
            results.append(start)  # as :meth:`add`: zero is ``start`` itself
            k += 1
        if k == count:
            return results
        zone = start.tzinfo
        target = amounts[k]
        used = _ZERO  # working time from ``cursor`` to where the walk is
        ordinal = self._local_ordinal(cursor) - 1
        idle = 0
        while True:
            intervals, whole, _ = self._day(ordinal)
            if intervals and intervals[0][0] >= cursor and whole < target - used:
                used += whole
                idle = 0
                ordinal += 1
                continue
            found = False
            for begin, end in intervals:
                if end > cursor:
                    found = True
                    begin = max(begin, cursor)
                    length = end - begin
                    while length >= target - used:
                        results.append((begin + (target - used)).astimezone(zone))
                        k += 1
                        if k == count:
                            return results
                        target = amounts[k]
                    used += length
            idle = 0 if found else idle + 1
            if idle > _MAX_IDLE_DAYS:
                raise self._no_working_time(cursor)
            ordinal += 1

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in ``[start, end)``; zero when ``end <= start``."""
        low, high = utc(start, "start"), utc(end, "end")
        total = _ZERO
        if high <= low:
            return total
        # ``end`` is excluded: a range ending at midnight needs nothing of the next day.
        ordinal = self._local_ordinal(low) - 1
        last = self._local_ordinal(high - _ONE_MICROSECOND)
        while ordinal <= last:
            intervals, whole, _ = self._day(ordinal)
            if intervals and intervals[0][0] >= low and intervals[-1][1] <= high:
                total += whole  # the whole day lies inside [start, end)
            else:
                for begin, finish in intervals:
                    overlap = min(finish, high) - max(begin, low)
                    if overlap > _ZERO:
                        total += overlap
            ordinal += 1
        return total

    def working_days(self, days: float) -> timedelta:
        """``days`` times the working-day length (``working_day``, else the standard day's hours).

        Raises:
            ValueError: ``days`` is negative.
        """
        found = self._day_lengths.get(days)
        if found is not None:
            return found
        if days < 0:
            raise ValueError(f"working days cannot be negative, got {days}")
        # a timedelta times a float takes the float apart each time; limits are a handful
        found = self.day_length * days
        if len(self._day_lengths) < 256:
            self._day_lengths[days] = found
        return found

    # -- questions about one instant ---------------------------------------------------------

    def is_working_time(self, when: datetime) -> bool:
        """Whether ``when`` is inside working hours (start included, end excluded)."""
        instant = utc(when, "when")
        today = self._local_ordinal(instant)
        for ordinal in (today - 1, today):
            for begin, end in self._day(ordinal)[0]:
                if begin <= instant < end:
                    return True
        return False

    def next_working_instant(self, when: datetime) -> datetime:
        """``when`` itself in working time, else the start of the next working hours."""
        instant = utc(when, "when")
        begin, _ = next(self._intervals_after(instant))
        return when if begin <= instant else begin.astimezone(when.tzinfo)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date in the calendar's zone) has any working hours."""
        return bool(self._hours_on(day))

    # -- internals ---------------------------------------------------------------------------

    def _local_ordinal(self, instant: datetime) -> int:
        """The ordinal of ``instant``'s date in the calendar's zone (``instant`` in UTC).

        The last date whose local midnight is not after ``instant``, from the midnights kept
        with each day's intervals: ``instant.astimezone(zone)`` spends most of its time looking
        up the zone's ``utcoffset`` by name (about 3,500 instructions a call, a fifth of the
        engine's work on a registered complaint). No zone is 24 hours or more ahead of UTC, so
        the search starts at the day after the UTC date.
        """
        ordinal = instant.toordinal() + 1
        while self._day(ordinal)[2] > instant:
            ordinal -= 1
        return ordinal

    def _intervals_after(self, instant: datetime) -> Iterator[Interval]:
        """Working intervals (UTC) that end after ``instant``, in order, without end."""
        ordinal = self._local_ordinal(instant) - 1
        idle = 0
        while True:
            found = False
            for begin, end in self._day(ordinal)[0]:
                if end > instant:
                    found = True
                    yield begin, end
            idle = 0 if found else idle + 1
            if idle > _MAX_IDLE_DAYS:
                raise self._no_working_time(instant)
            ordinal += 1

    def _no_working_time(self, instant: datetime) -> ValueError:
        return ValueError(
            f"calendar {self.name!r} has no working time in the {_MAX_IDLE_DAYS} days "
            f"after {instant.isoformat()}; check extra_holidays"
        )

    def _day(self, ordinal: int) -> tuple[tuple[Interval, ...], timedelta, datetime]:
        """The UTC working intervals of the date with this ordinal, their total, and the
        date's local midnight in UTC.

        Remembered for the last :data:`_DAYS_KEPT` dates asked for. Keyed by ordinal, so a
        walk over days adds integers instead of dates, and the compiled calendar calls this
        natively (an ``lru_cache`` wrapper is a Python call with argument parsing: it was
        most of the cost of :meth:`add`).
        """
        found = self._days.get(ordinal)
        if found is None:
            day = date.fromordinal(ordinal)
            midnight = datetime.combine(day, time(0), tzinfo=self.timezone)
            intervals = self._compute_intervals(day, midnight)
            total = _ZERO
            for begin, end in intervals:
                total += end - begin
            if len(self._days) >= _DAYS_KEPT:
                self._days.clear()
            found = self._days[ordinal] = (intervals, total, midnight.astimezone(UTC))
        return found

    def _compute_intervals(self, day: date, midnight: datetime) -> tuple[Interval, ...]:
        """The UTC intervals of ``day``'s working hours (remembered by :meth:`_day`);
        ``midnight`` is the day's start in the calendar's zone."""
        intervals: list[Interval] = []
        for start, end in self._hours_on(day):
            # Wall-clock arithmetic on an aware datetime, then resolve the offset: DST-safe.
            begin = (midnight + timedelta(minutes=start)).astimezone(UTC)
            finish = (midnight + timedelta(minutes=end)).astimezone(UTC)
            if intervals:
                begin = max(begin, intervals[-1][1])
            if finish > begin:
                intervals.append((begin, finish))
        return tuple(intervals)

    def _hours_on(self, day: date) -> tuple[Minutes, ...]:
        weekly = self._weekly[day.weekday()]
        if day in self._extra_workdays:
            return weekly or self._standard
        if day in self._extra_holidays:
            return ()
        if self._china:
            try:
                kind = china_day(day)
            except YearNotCovered:
                self._warn_missing(day.year)
                kind = "ordinary"
            if kind == "holiday":
                return ()
            if kind == "makeup":
                return weekly or self._standard
        return weekly

    def _warn_missing(self, year: int) -> None:
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        warnings.warn(
            f"calendar {self.name!r}: chinesecalendar has no holiday data for {year}; counting "
            f"{year} by the weekly pattern and extra_holidays/extra_workdays only. Upgrade "
            "chinesecalendar or list that year's holidays and make-up days in the policy.",
            CalendarDataMissing,
            stacklevel=2,
        )


def build_calendars(spec: PolicySpec) -> dict[str, Calendar]:
    """One :class:`WorkingCalendar` per entry of the policy's ``calendars``, by name.

    Raises:
        ValueError: a calendar is invalid; the message names it.
    """
    calendars: dict[str, Calendar] = {}
    for name, calendar_spec in spec.calendars.items():
        try:
            calendars[name] = WorkingCalendar(calendar_spec, name)
        except ValueError as exc:
            raise ValueError(f"calendars.{name}: {exc}") from exc
    return calendars
