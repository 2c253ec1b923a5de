"""One cycle of one clock: deadlines around pauses, warnings, the end judgement, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla.calendar import ElapsedCalendar
from sla.clock import (
    Cycle,
    Due,
    Mark,
    MarkKind,
    format_time,
    parse_time,
    terms_from_json,
    terms_to_json,
)
from sla.limits import parse_limit
from sla.policy import ClockTerms
from tests.sla._clock_fakes import OfficeHours, at

ELAPSED = ElapsedCalendar()


def terms(limit: str = "4h", warn_at: tuple[float, ...] = (0.5, 0.8)) -> ClockTerms:
    return ClockTerms(
        limit=parse_limit(limit), calendar=None, target=0.95, standard="basic", warn_at=warn_at
    )


def cycle(
    limit: str = "4h",
    *marks: tuple[float, MarkKind],
    fixed_deadline: datetime | None = None,
    warned: list[float] | None = None,
    breach_emitted: bool = False,
) -> Cycle:
    """A cycle started at T0; marks are (hours after T0, "pause" | "resume")."""
    made = Cycle(
        number=1,
        started_at=at(0),
        start_event_id="s",
        policy_version="v1",
        terms=terms(limit),
        fixed_deadline=fixed_deadline,
        warned=warned or [],
        breach_emitted=breach_emitted,
    )
    for index, (hours, kind) in enumerate(marks):
        made.add_mark(Mark(at(hours), kind, f"m{index}"))
    return made


class TestDeadline:
    def test_without_pauses_the_deadline_is_start_plus_limit(self) -> None:
        """An elapsed limit runs from the start event's time."""
        assert at(4) == cycle("4h").due_at(ELAPSED)

    def test_a_pause_moves_the_deadline_by_its_length(self) -> None:
        """Paused 1h30m, the 4h deadline moves from 13:00 to 14:30."""
        assert at(5.5) == cycle("4h", (1, "pause"), (2.5, "resume")).due_at(ELAPSED)

    def test_two_pauses_add_up(self) -> None:
        """Every pause before the deadline counts."""
        made = cycle("4h", (1, "pause"), (2, "resume"), (3, "pause"), (3.5, "resume"))
        assert at(5.5) == made.due_at(ELAPSED)

    def test_an_open_pause_leaves_the_deadline_unknown(self) -> None:
        """While paused before the deadline, there is no deadline."""
        assert cycle("4h", (1, "pause")).due_at(ELAPSED) is None

    def test_a_pause_after_the_deadline_does_not_move_it(self) -> None:
        """A pause that starts after the deadline passed cannot save the clock."""
        assert at(4) == cycle("4h", (5, "pause")).due_at(ELAPSED)

    def test_a_pause_exactly_at_the_deadline_does_not_move_it(self) -> None:
        """The deadline was reached at the instant the pause began."""
        assert at(4) == cycle("4h", (4, "pause"), (6, "resume")).due_at(ELAPSED)

    def test_pause_while_paused_and_resume_while_running_change_nothing(self) -> None:
        """Repeated pauses keep the first; a stray resume is ignored."""
        made = cycle("4h", (0.5, "resume"), (1, "pause"), (1.5, "pause"), (2, "resume"))
        assert [(at(1), at(2))] == made.pauses()

    def test_marks_are_ordered_by_event_time_whatever_the_arrival(self) -> None:
        """A resume that arrived before its pause still closes it."""
        assert at(5) == cycle("4h", (2, "resume"), (1, "pause")).due_at(ELAPSED)

    def test_same_event_marking_twice_is_refused(self) -> None:
        """add_mark is idempotent per event id and kind."""
        made = cycle("4h")
        assert [True, False] == [made.add_mark(Mark(at(1), "pause", "p")) for _ in range(2)]

    def test_working_limit_counts_only_working_time(self) -> None:
        """2 working hours from 16:00 on an office-hours calendar end at 10:00 next day."""
        made = Cycle(1, at(7), "s", "v1", terms("2 working hours"))
        assert at(25) == made.due_at(OfficeHours())

    def test_working_pause_moves_by_working_time_only(self) -> None:
        """A pause over the night costs the working hours it covered, not the night."""
        made = Cycle(1, at(6), "s", "v1", terms("4 working hours"))  # 15:00, 2h left today
        made.add_mark(Mark(at(7), "pause", "p"))  # 16:00: 1h used
        made.add_mark(Mark(at(24.5), "resume", "r"))  # 09:30 next day: 3h left
        assert at(24.5 + 3) == made.due_at(OfficeHours())

    def test_the_deadline_brings_its_warnings_in_one_walk(self) -> None:
        """A cycle's first question (its deadline, at its start) asks the calendar once for
        the deadline and every warning; the warnings are then those asked one by one."""

        class Counting(OfficeHours):
            walks = 0

            def add_each(self, start: datetime, amounts: list[timedelta]) -> list[datetime]:
                self.walks += 1
                return super().add_each(start, amounts)

        calendar = Counting()
        made = Cycle(1, at(7), "s", "v1", terms("4 working hours", (0.5, 0.8)))
        deadline = made.due_at(calendar)
        warnings = [made.due_at(calendar, 0.5), made.due_at(calendar, 0.8)]
        assert calendar.walks == 1
        alone = Cycle(1, at(7), "s", "v1", terms("4 working hours", (0.5, 0.8)))
        office = OfficeHours()
        assert [deadline, *warnings] == [
            alone._compute_due_at(office, f, None) for f in (1, 0.5, 0.8)
        ]

    def test_working_days_use_the_calendar_day_length(self) -> None:
        """'1 working days' is one office day of 8 hours."""
        made = Cycle(1, at(0), "s", "v1", terms("1 working days"))
        assert at(8) == made.due_at(OfficeHours())

    def test_until_limit_is_the_promised_time_and_ignores_pauses(self) -> None:
        """A promise to the customer does not wait for a pause."""
        made = cycle("until promised_by", (1, "pause"), fixed_deadline=at(10))
        assert at(10) == made.due_at(ELAPSED)


class TestWarnings:
    def test_warning_fraction_of_the_limit(self) -> None:
        """80 % of 4h is 3h12m after the start."""
        assert at(3, 12) == cycle("4h").due_at(ELAPSED, 0.8)

    def test_warning_counts_around_pauses(self) -> None:
        """The 50 % warning moves by a pause before it."""
        assert at(3) == cycle("4h", (1, "pause"), (2, "resume")).due_at(ELAPSED, 0.5)

    def test_until_warning_is_a_fraction_of_start_to_promise(self) -> None:
        """Half of a 10h promise is 5h."""
        assert at(5) == cycle("until promised_by", fixed_deadline=at(10)).due_at(ELAPSED, 0.5)

    def test_pending_lists_warnings_then_breach(self) -> None:
        """Pending items in time order, the breach (threshold None) last."""
        expected = [Due(at(2), 0.5), Due(at(3, 12), 0.8), Due(at(4), None)]
        assert expected == cycle("4h").pending(ELAPSED)

    def test_pending_skips_passed_thresholds(self) -> None:
        """A threshold in ``warned`` is not due again."""
        assert [Due(at(3, 12), 0.8), Due(at(4), None)] == cycle("4h", warned=[0.5]).pending(ELAPSED)

    def test_nothing_is_pending_while_paused(self) -> None:
        """A paused clock neither warns nor breaches."""
        assert [] == cycle("4h", (1, "pause")).pending(ELAPSED)

    def test_nothing_is_pending_after_the_breach(self) -> None:
        """No warning follows a breach, even if a late pause moved the deadline."""
        assert [] == cycle("4h", (1, "pause"), (9, "resume"), breach_emitted=True).pending(ELAPSED)


class TestStatus:
    def test_running(self) -> None:
        """Open, not paused, before the deadline."""
        assert "running" == cycle("4h").status(ELAPSED, at(1))

    def test_paused(self) -> None:
        """Open with an open pause."""
        assert "paused" == cycle("4h", (1, "pause")).status(ELAPSED, at(2))

    def test_breached_once_the_deadline_passed(self) -> None:
        """Open at or after the deadline."""
        assert "breached" == cycle("4h").status(ELAPSED, at(4))


class TestClose:
    def test_stop_before_deadline_is_met(self) -> None:
        """Stopped at 3h of 4h: met, 3h elapsed, nothing paused."""
        closing = cycle("4h").close(ELAPSED, at(3), "stop")
        expected = ("met", "met", at(4), timedelta(hours=3), timedelta(0), False)
        actual = (
            closing.status,
            closing.outcome,
            closing.deadline,
            closing.elapsed,
            closing.paused,
            closing.late,
        )
        assert expected == actual

    def test_stop_exactly_at_deadline_is_met(self) -> None:
        """The limit is inclusive."""
        assert "met" == cycle("4h").close(ELAPSED, at(4), "stop").outcome

    def test_stop_after_deadline_is_met_late_and_breached(self) -> None:
        """Late by one minute: state met_late, outcome breached."""
        closing = cycle("4h").close(ELAPSED, at(4, 1), "stop")
        assert ("met_late", "breached", True) == (closing.status, closing.outcome, closing.late)

    def test_pauses_are_left_out_of_elapsed_and_counted_as_paused(self) -> None:
        """5h wall time with a 1h pause: 4h elapsed, 1h paused."""
        closing = cycle("4h", (1, "pause"), (2, "resume")).close(ELAPSED, at(5), "stop")
        assert (timedelta(hours=4), timedelta(hours=1)) == (closing.elapsed, closing.paused)

    def test_stop_while_paused_closes_the_pause_at_the_stop(self) -> None:
        """Stopped during a pause: the pause ends there, the cycle is met."""
        closing = cycle("4h", (1, "pause")).close(ELAPSED, at(9), "stop")
        expected = ("met", timedelta(hours=1), timedelta(hours=8), at(12))
        assert expected == (closing.outcome, closing.elapsed, closing.paused, closing.deadline)

    def test_marks_after_the_end_are_ignored(self) -> None:
        """A pause after the stop does not count."""
        closing = cycle("4h", (3, "pause")).close(ELAPSED, at(2), "stop")
        assert timedelta(0) == closing.paused

    def test_cancel_and_reset_outcomes(self) -> None:
        """Cancel gives cancelled, reset gives reset, late or not."""
        made = cycle("4h")
        actual = [made.close(ELAPSED, at(5), k).outcome for k in ("cancel", "reset")]
        assert ["cancelled", "reset"] == actual

    def test_working_elapsed_counts_working_time(self) -> None:
        """From 16:00 to 10:00 next day is 2 working hours."""
        made = Cycle(1, at(7), "s", "v1", terms("2 working hours"))
        assert timedelta(hours=2) == made.close(OfficeHours(), at(25), "stop").elapsed


class TestJson:
    def test_round_trip_keeps_everything(self) -> None:
        """to_json survives json.dumps and from_json rebuilds an equal cycle."""
        made = cycle("4h", (1, "pause"), (2, "resume"), warned=[0.5], breach_emitted=True)
        assert made == Cycle.from_json(json.loads(json.dumps(made.to_json())))

    def test_round_trip_of_until_and_working_terms(self) -> None:
        """Every limit kind is rebuilt without re-parsing its text."""
        for limit in ("until promised_by", "3 working days", "16 working hours", "1h30m"):
            made = terms(limit)
            assert made == terms_from_json(json.loads(json.dumps(terms_to_json(made))))

    def test_times_are_stored_in_utc(self) -> None:
        """Offsets are normalised; parse_time refuses a naive time."""
        assert "2026-03-02T09:00:00+00:00" == format_time(at(0))
        with pytest.raises(ValueError, match="no UTC offset"):
            parse_time("2026-03-02T09:00:00")

    @given(
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
        st.sampled_from(
            [UTC, timezone(timedelta(0)), timezone(timedelta(hours=8)), ZoneInfo("Asia/Shanghai")]
        ),
    )
    def test_times_are_written_as_isoformat_writes_them(self, local: datetime, zone: Any) -> None:
        """format_time joins the fields itself: the text is isoformat's, in UTC, for every
        instant and zone (whole seconds without a fraction, years below 1000 padded)."""
        value = local.replace(tzinfo=zone)
        expected = value.astimezone(UTC).isoformat()
        assert format_time(value) == expected
        assert format_time(value) == expected  # the remembered text, too
        assert parse_time(expected) == value

    def test_equal_terms_read_back_are_one_object(self) -> None:
        """States read back share their terms (the engine's memos are keyed by the object);
        terms that differ in any value stay apart."""
        stored = json.loads(json.dumps(terms_to_json(terms("3 working days"))))
        first = terms_from_json(stored)
        assert first is terms_from_json(json.loads(json.dumps(stored)))
        for other in (terms("3 working days", (0.5,)), terms("4 working days")):
            read = terms_from_json(json.loads(json.dumps(terms_to_json(other))))
            assert read == other
            assert read is not first

    def test_terms_read_back_keep_their_own_numbers(self) -> None:
        """3 and 3.0 working days are equal keys but not equal JSON: each reads back as read."""
        stored = terms_to_json(terms("3 working days"))
        as_float = {**stored, "limit": {**stored["limit"], "working_days": 3.0}}
        as_int = {**stored, "limit": {**stored["limit"], "working_days": 3}}
        assert json.dumps(terms_to_json(terms_from_json(as_float))) == json.dumps(as_float)
        assert json.dumps(terms_to_json(terms_from_json(as_int))) == json.dumps(as_int)

    def test_a_cycle_read_back_keeps_its_text_and_equality(self) -> None:
        """The start time written once per cycle is the one its state was read with."""
        made = cycle("4h", (1, "pause"))
        read = Cycle.from_json(json.loads(json.dumps(made.to_json())))
        assert read == made
        assert read.to_json() == made.to_json()
        read.started_at = at(2)
        assert read.to_json()["started_at"] == format_time(at(2))

    def test_unknown_stored_limit_kind_is_refused(self) -> None:
        """A corrupted state names the bad value."""
        data = terms_to_json(terms("4h"))
        data["limit"]["kind"] = "lunar"
        with pytest.raises(ValueError, match="'lunar'"):
            terms_from_json(data)


def test_parse_time_returns_utc() -> None:
    """Stored times come back as UTC datetimes."""
    assert datetime(2026, 3, 2, 1, 0, tzinfo=UTC) == parse_time("2026-03-02T09:00:00+08:00")
