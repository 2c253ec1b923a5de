"""Working-time calendars: weekly hours, China's holidays and make-up days, and their algebra."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sla.calendar import (
    CalendarDataMissing,
    ElapsedCalendar,
    WorkingCalendar,
    build_calendars,
    parse_working_hours,
    zone,
)
from sla.policy import CalendarSpec, PolicySpec

SHANGHAI = zone("Asia/Shanghai")
BERLIN = zone("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Shanghai."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def be(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Berlin."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


OFFICE = WorkingCalendar(CalendarSpec(), "office")
LUNCH = WorkingCalendar(
    CalendarSpec(working_hours={d: ["09:00-12:00", "13:30-18:00"] for d in WEEKDAYS}), "lunch"
)
#: Europe/Berlin changes clocks on Sundays at 02:00/03:00: the Sunday shift shows it.
BERLIN_SHIFTS = WorkingCalendar(
    CalendarSpec(
        timezone="Europe/Berlin",
        holidays="none",
        working_hours={
            **{d: ["08:00-12:00", "13:00-17:00"] for d in WEEKDAYS},
            "sat": ["22:00-24:00"],
            "sun": ["00:00-04:00"],
        },
    ),
    "berlin",
)
CALENDARS = [OFFICE, LUNCH, BERLIN_SHIFTS]
IGNORE_MISSING = pytest.mark.filterwarnings("ignore::sla.calendar.CalendarDataMissing")


class TestWorkingHours:
    """Reading "HH:MM-HH:MM" ranges."""

    def test_sorted_minutes(self) -> None:
        """Ranges come back sorted, as minutes after midnight."""
        assert ((540, 720), (810, 1080)) == parse_working_hours(
            "mon", ["13:30-18:00", "09:00-12:00"]
        )

    def test_touching_ranges_merge(self) -> None:
        """Ranges that touch become one."""
        assert ((540, 1080),) == parse_working_hours("mon", ["09:00-12:00", "12:00-18:00"])

    def test_midnight_end(self) -> None:
        """24:00 may end a range."""
        assert ((1320, 1440),) == parse_working_hours("sat", ["22:00-24:00"])

    @pytest.mark.parametrize(
        ("ranges", "fragment"),
        [
            (["9-18"], "cannot read working hours '9-18'"),
            (["18:00-09:00"], "'18:00-09:00' end before they start"),
            (["09:00-09:00"], "'09:00-09:00' end before they start"),
            (["09:00-25:00"], "'09:00-25:00' is not a time of day"),
            (["09:00-12:30", "12:00-18:00"], "'12:00-18:00' overlap '09:00-12:30'"),
        ],
    )
    def test_bad_ranges_named(self, ranges: list[str], fragment: str) -> None:
        """A bad range is refused with the weekday and the bad value in the message."""
        with pytest.raises(ValueError) as caught:
            parse_working_hours("wed", ranges)
        assert str(caught.value).startswith("wed: ")
        assert fragment in str(caught.value)

    def test_spec_refuses_overlap(self) -> None:
        """The policy model itself refuses overlapping hours, so the loader can give a line."""
        with pytest.raises(ValidationError) as caught:
            CalendarSpec(working_hours={"tue": ["09:00-12:00", "11:00-13:00"]})
        assert "tue: working hours '11:00-13:00' overlap '09:00-12:00'" in str(caught.value)

    def test_spec_refuses_no_hours(self) -> None:
        """A calendar with no working hours on any weekday is refused."""
        with pytest.raises(ValidationError, match="no working hours on any weekday"):
            CalendarSpec(working_hours={"mon": [], "sat": []})

    def test_spec_refuses_unknown_zone(self) -> None:
        """An unknown time zone is refused with its name."""
        with pytest.raises(ValidationError, match="unknown time zone 'Asia/Shang'"):
            CalendarSpec(timezone="Asia/Shang")

    def test_calendar_refuses_no_hours(self) -> None:
        """A spec that skipped validation still cannot make a calendar that never works."""
        spec = CalendarSpec.model_construct(working_hours={"mon": []})
        with pytest.raises(ValueError, match="calendar 'empty' has no working hours"):
            WorkingCalendar(spec, "empty")


class TestWorkingCalendar:
    """Concrete deadlines on the default Shanghai office calendar and variants."""

    def test_three_working_days_from_friday_afternoon(self) -> None:
        """Three working days from Friday 15:00 end on Wednesday 15:00."""
        assert sh(2026, 3, 11, 15) == OFFICE.add(sh(2026, 3, 6, 15), OFFICE.working_days(3))

    def test_working_day_is_mondays_hours(self) -> None:
        """By default a working day is as long as Monday's hours."""
        assert timedelta(hours=9) == OFFICE.working_days(1)
        assert timedelta(hours=7, minutes=30) == LUNCH.working_days(1)

    def test_configured_working_day(self) -> None:
        """``working_day`` overrides the length of one working day."""
        calendar = WorkingCalendar(CalendarSpec(working_day="8h"))
        assert timedelta(hours=12) == calendar.working_days(1.5)

    def test_spring_festival_skipped(self) -> None:
        """From the make-up Saturday before Spring Festival 2026, work resumes on 24 February."""
        start = sh(2026, 2, 14, 17)
        assert sh(2026, 2, 24, 10) == OFFICE.add(start, timedelta(hours=2))
        assert timedelta(0) == OFFICE.between(sh(2026, 2, 14, 18), sh(2026, 2, 24, 9))

    def test_national_day_skipped(self) -> None:
        """A working day started on 30 September 2026 ends on 8 October."""
        assert sh(2026, 10, 8, 17) == OFFICE.add(sh(2026, 9, 30, 17), OFFICE.working_days(1))

    def test_makeup_sunday_counted(self) -> None:
        """Sunday 20 September 2026 is worked in exchange for Mid-autumn: nine hours count."""
        assert timedelta(hours=9) == OFFICE.between(sh(2026, 9, 20), sh(2026, 9, 21))
        assert OFFICE.is_working_time(sh(2026, 9, 20, 10))

    def test_makeup_saturday_in_deadline(self) -> None:
        """A deadline running over Saturday 10 October 2026 counts that make-up day."""
        assert sh(2026, 10, 10, 16) == OFFICE.add(sh(2026, 10, 9, 16), OFFICE.working_days(1))

    def test_no_holidays_ignores_china(self) -> None:
        """With ``holidays: none`` make-up days are not worked and holidays are."""
        plain = WorkingCalendar(CalendarSpec(holidays="none"))
        assert timedelta(0) == plain.between(sh(2026, 9, 20), sh(2026, 9, 21))
        assert timedelta(hours=9) == plain.between(sh(2026, 10, 1), sh(2026, 10, 2))

    def test_matches_chinese_calendar_workdays(self) -> None:
        """The default calendar works exactly the days chinese_calendar calls workdays."""
        day, mismatches = date(2024, 1, 1), []
        while day <= date(2026, 12, 31):
            if OFFICE.is_working_day(day) != chinese_calendar.is_workday(day):
                mismatches.append(day)
            day += timedelta(days=1)
        assert [] == mismatches

    def test_ordinary_saturday_kept(self) -> None:
        """A Monday-to-Saturday service works ordinary Saturdays but not holiday Saturdays."""
        hours = {d: ["09:00-18:00"] for d in (*WEEKDAYS, "sat")}
        calendar = WorkingCalendar(CalendarSpec(working_hours=hours))
        assert calendar.is_working_day(date(2026, 3, 7))
        assert not calendar.is_working_day(date(2026, 2, 21))

    def test_makeup_day_uses_standard_hours(self) -> None:
        """A make-up Saturday without hours of its own uses Monday's (lunch break included)."""
        assert timedelta(hours=7, minutes=30) == LUNCH.between(sh(2026, 2, 14), sh(2026, 2, 15))
        assert not LUNCH.is_working_time(sh(2026, 2, 14, 12, 30))

    def test_extra_days(self) -> None:
        """Extra holidays are off; extra workdays are worked and win over extra holidays."""
        spec = CalendarSpec(
            extra_holidays=[date(2026, 3, 9), date(2026, 3, 15)],
            extra_workdays=[date(2026, 3, 15)],
        )
        calendar = WorkingCalendar(spec)
        assert not calendar.is_working_day(date(2026, 3, 9))
        assert timedelta(hours=9) == calendar.between(sh(2026, 3, 15), sh(2026, 3, 16))

    def test_lunch_break_excluded(self) -> None:
        """Two ranges a day leave the lunch break out of working time."""
        assert timedelta(hours=7, minutes=30) == LUNCH.between(
            sh(2026, 3, 9, 9), sh(2026, 3, 9, 18)
        )
        assert sh(2026, 3, 9, 14, 30) == LUNCH.add(sh(2026, 3, 9, 11), timedelta(hours=2))
        assert not LUNCH.is_working_time(sh(2026, 3, 9, 12, 30))

    def test_ends_at_end_of_hours(self) -> None:
        """Work that ends with the working hours ends then, not when the next hours start."""
        assert sh(2026, 3, 9, 12) == LUNCH.add(sh(2026, 3, 9, 11), timedelta(hours=1))
        assert sh(2026, 3, 6, 18) == OFFICE.add(sh(2026, 3, 6, 17), timedelta(hours=1))

    def test_start_outside_hours(self) -> None:
        """Counting from a Saturday begins on Monday at 09:00."""
        assert sh(2026, 3, 9, 10) == OFFICE.add(sh(2026, 3, 7, 11), timedelta(hours=1))

    def test_zero_amount_returns_start(self) -> None:
        """Adding nothing returns the start itself, even outside working hours."""
        night = sh(2026, 3, 7, 23, 59)
        assert night == OFFICE.add(night, timedelta(0))

    def test_result_in_zone_of_start(self) -> None:
        """Results keep the time zone of the argument."""
        start = datetime(2026, 3, 9, 1, tzinfo=UTC)
        result = OFFICE.add(start, timedelta(hours=1))
        assert (UTC, datetime(2026, 3, 9, 2, tzinfo=UTC)) == (result.tzinfo, result)

    def test_between_reversed_is_zero(self) -> None:
        """Working time between a later and an earlier instant is zero."""
        assert timedelta(0) == OFFICE.between(sh(2026, 3, 10, 12), sh(2026, 3, 9, 12))

    def test_working_time_boundaries(self) -> None:
        """Working hours include their start and exclude their end."""
        assert (True, False) == (
            OFFICE.is_working_time(sh(2026, 3, 9, 9)),
            OFFICE.is_working_time(sh(2026, 3, 9, 18)),
        )

    def test_next_working_instant(self) -> None:
        """Inside working hours the instant itself; else the next start of working hours."""
        inside = sh(2026, 3, 9, 10, 15)
        assert inside == OFFICE.next_working_instant(inside)
        assert sh(2026, 3, 9, 9) == OFFICE.next_working_instant(sh(2026, 3, 6, 18))
        assert sh(2026, 3, 9, 13, 30) == LUNCH.next_working_instant(sh(2026, 3, 9, 12))

    def test_naive_refused(self) -> None:
        """A naive datetime is refused: working hours need a zone to mean anything."""
        with pytest.raises(ValueError, match="has no time zone"):
            OFFICE.add(datetime(2026, 3, 9, 10), timedelta(hours=1))

    def test_negative_refused(self) -> None:
        """Negative amounts are refused with the value."""
        with pytest.raises(ValueError, match="negative working time, got -1 day"):
            OFFICE.add(sh(2026, 3, 9, 10), timedelta(hours=-1))

    def test_daylight_saving(self) -> None:
        """A Sunday night shift is an hour shorter in spring and an hour longer in autumn."""
        spring = BERLIN_SHIFTS.between(be(2026, 3, 29), be(2026, 3, 30))
        autumn = BERLIN_SHIFTS.between(be(2026, 10, 25), be(2026, 10, 26))
        assert (timedelta(hours=3), timedelta(hours=5)) == (spring, autumn)

    def test_night_shift_spans_midnight(self) -> None:
        """Saturday 22:00-24:00 and Sunday 00:00-04:00 count as one stretch of work."""
        assert be(2026, 3, 15, 1) == BERLIN_SHIFTS.add(be(2026, 3, 14, 23), timedelta(hours=2))

    def test_long_deadline(self) -> None:
        """A whole working year from 2025 lands where 250 days of counting say."""
        start = sh(2025, 1, 2, 9)
        end = OFFICE.add(start, OFFICE.working_days(250))
        assert OFFICE.working_days(250) == OFFICE.between(start, end)


class TestMissingYear:
    """Years chinese_calendar does not know."""

    def test_2027_falls_back_and_warns_once(self) -> None:
        """2027 uses the weekly pattern and extra holidays, warning once for the year."""
        calendar = WorkingCalendar(CalendarSpec(extra_holidays=[date(2027, 1, 1)]), "hq")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = calendar.between(sh(2026, 12, 31), sh(2027, 1, 8))
            calendar.add(sh(2027, 3, 1, 9), calendar.working_days(20))
        missing = [w for w in caught if issubclass(w.category, CalendarDataMissing)]
        assert timedelta(hours=9 * 5) == first
        assert 1 == len(missing)
        assert "calendar 'hq'" in str(missing[0].message)
        assert "for 2027" in str(missing[0].message)

    def test_each_calendar_warns(self) -> None:
        """Every calendar warns for itself."""
        with pytest.warns(CalendarDataMissing, match="calendar 'a'"):
            WorkingCalendar(CalendarSpec(), "a").is_working_day(date(2030, 5, 1))
        with pytest.warns(CalendarDataMissing, match="calendar 'b'"):
            WorkingCalendar(CalendarSpec(), "b").is_working_day(date(2030, 5, 1))

    def test_no_warning_without_china(self) -> None:
        """A calendar that does not use China's holidays has nothing to miss."""
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            plain = WorkingCalendar(CalendarSpec(holidays="none"))
            assert plain.is_working_day(date(2027, 10, 1))


class TestBuildCalendars:
    """Calendars from a policy."""

    def test_one_per_entry(self) -> None:
        """Every named calendar becomes a working calendar of that name."""
        spec = PolicySpec.model_construct(
            version="test",
            clocks=[],
            calendars={"hq": CalendarSpec(), "night": CalendarSpec(timezone="UTC")},
        )
        built = build_calendars(spec)
        assert ["hq", "night"] == sorted(built)
        assert "night" == getattr(built["night"], "name", None)

    def test_bad_calendar_named(self) -> None:
        """A calendar that cannot be built is named in the error."""
        spec = PolicySpec.model_construct(
            version="test",
            clocks=[],
            calendars={"hq": CalendarSpec.model_construct(working_hours={"mon": []})},
        )
        with pytest.raises(ValueError, match=r"^calendars.hq: calendar 'hq' has no working hours"):
            build_calendars(spec)

    def test_elapsed_counts_everything(self) -> None:
        """The elapsed calendar counts every second and a day is 24 hours."""
        elapsed = ElapsedCalendar()
        start = sh(2026, 10, 1)
        assert (sh(2026, 10, 2), timedelta(days=1)) == (
            elapsed.add(start, timedelta(days=1)),
            elapsed.working_days(1),
        )


_BOUNDARIES = [time(0), time(4), time(8), time(9), time(12), time(13, 30), time(18), time(22)]
instants = st.one_of(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda day, at: datetime.combine(day, at, tzinfo=SHANGHAI),
        st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
        st.sampled_from(_BOUNDARIES),
    ),
)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(hours=300)),
    st.integers(min_value=1, max_value=100).map(lambda n: timedelta(minutes=30 * n)),
)
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60))
calendars = pytest.mark.parametrize("calendar", CALENDARS, ids=lambda c: c.name)
bounded = settings(max_examples=200, deadline=None)


@IGNORE_MISSING
class TestProperties:
    """Algebra every working calendar obeys."""

    @calendars
    @bounded
    @given(start=instants, amount=durations)
    def test_between_undoes_add(
        self, calendar: WorkingCalendar, start: datetime, amount: timedelta
    ) -> None:
        """The working time from a start to its deadline is the amount added."""
        assert amount == calendar.between(start, calendar.add(start, amount))

    @calendars
    @bounded
    @given(start=instants, amount=durations)
    def test_add_ends_in_working_time(
        self, calendar: WorkingCalendar, start: datetime, amount: timedelta
    ) -> None:
        """A deadline is the end of a working instant: the microsecond before it is worked."""
        end = calendar.add(start, amount)
        assert end > start
        assert calendar.is_working_time(end - timedelta(microseconds=1))

    @calendars
    @bounded
    @given(
        start=instants,
        amount=durations,
        fraction=st.floats(min_value=0, max_value=0.999),
        paused=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=40)),
    )
    def test_pause_shifts_deadline_by_paused_working_time(
        self,
        calendar: WorkingCalendar,
        start: datetime,
        amount: timedelta,
        fraction: float,
        paused: timedelta,
    ) -> None:
        """Pausing moves the deadline by exactly the working time the pause covered."""
        deadline = calendar.add(start, amount)
        pause = start + (deadline - start) * fraction
        assume(pause < deadline)
        resume = pause + paused
        used = calendar.between(start, pause)
        expected = calendar.add(start, amount + calendar.between(pause, resume))
        assert expected == calendar.add(resume, amount - used)

    @calendars
    @bounded
    @given(a=instants, first=spans, second=spans)
    def test_between_is_additive(
        self, calendar: WorkingCalendar, a: datetime, first: timedelta, second: timedelta
    ) -> None:
        """Working time over [a, c) is the sum over [a, b) and [b, c)."""
        b, c = a + first, a + first + second
        assert calendar.between(a, c) == calendar.between(a, b) + calendar.between(b, c)

    @calendars
    @bounded
    @given(when=instants)
    def test_working_time_agrees_with_between(
        self, calendar: WorkingCalendar, when: datetime
    ) -> None:
        """An instant is working time exactly when the microsecond from it counts."""
        tick = timedelta(microseconds=1)
        assert calendar.is_working_time(when) == (tick == calendar.between(when, when + tick))

    @calendars
    @bounded
    @given(when=instants)
    def test_next_working_instant_is_first(self, calendar: WorkingCalendar, when: datetime) -> None:
        """The next working instant is worked and nothing before it since ``when`` is."""
        found = calendar.next_working_instant(when)
        assert calendar.is_working_time(found)
        assert timedelta(0) == calendar.between(when, found)

    @calendars
    @bounded
    @given(
        start=instants,
        amounts=st.lists(st.one_of(st.just(timedelta(0)), durations), min_size=1, max_size=5),
    )
    def test_add_each_is_add_of_each(
        self, calendar: WorkingCalendar, start: datetime, amounts: list[timedelta]
    ) -> None:
        """One walk for several amounts gives what one ``add`` per amount gives, in order."""
        amounts.sort()
        assert [calendar.add(start, a) for a in amounts] == calendar.add_each(start, amounts)

    def test_add_each_refuses_what_add_refuses_and_disorder(self) -> None:
        start = sh(2026, 3, 6, 15)
        with pytest.raises(ValueError, match="negative"):
            OFFICE.add_each(start, [timedelta(hours=-1), timedelta(hours=1)])
        with pytest.raises(ValueError, match="must ascend"):
            OFFICE.add_each(start, [timedelta(hours=2), timedelta(hours=1)])
        with pytest.raises(ValueError, match="no time zone"):
            OFFICE.add_each(datetime(2026, 3, 6, 15), [timedelta(0)])


#: Zones far from UTC either way, at quarter hours, with DST at midnight or at 24:00 (Chile
#: and Cuba turn their clocks around midnight), and with a half-hour DST step (Lord Howe).
ODD_ZONES = [
    "Asia/Shanghai",
    "Europe/Berlin",
    "America/Santiago",
    "America/Havana",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
]


class TestLocalDate:
    """The calendar finds an instant's local date from the local midnights it keeps."""

    @pytest.mark.parametrize("name", ODD_ZONES)
    @settings(max_examples=300, deadline=None)
    @given(
        instant=st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
        )
    )
    def test_as_the_zone_says(self, name: str, instant: datetime) -> None:
        calendar = WorkingCalendar(CalendarSpec(timezone=name, holidays="none"), name)
        local = instant.astimezone(zone(name)).date()
        assert local.toordinal() == calendar._local_ordinal(instant)

    @pytest.mark.parametrize("name", ODD_ZONES)
    def test_around_every_change_of_2026(self, name: str) -> None:
        """Each second around each of the zone's clock changes in 2026 (and each midnight)."""
        calendar = WorkingCalendar(CalendarSpec(timezone=name, holidays="none"), name)
        tz = zone(name)
        hour = datetime(2026, 1, 1, tzinfo=UTC)
        changes = []
        while hour.year == 2026:
            after = hour + timedelta(hours=1)
            if hour.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
                changes.append(hour)
            hour = after
        assert changes or name in (
            "Asia/Shanghai",
            "Pacific/Kiritimati",
            "Asia/Kathmandu",
            "Pacific/Pago_Pago",
        )
        for change in changes:
            for second in range(0, 2 * 3600, 7):
                instant = change + timedelta(seconds=second)
                expected = instant.astimezone(tz).date().toordinal()
                assert expected == calendar._local_ordinal(instant), instant
