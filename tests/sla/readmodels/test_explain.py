"""Explanations: a case's clocks told in sentences, from a replay and from a stored state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sla.calendar import build_calendars
from sla.engine import CaseState, Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from sla.readmodels.explain import Explainer, Moment, duration
from sla.readmodels.replay import Replay

SHANGHAI = ZoneInfo("Asia/Shanghai")
SPEC = PolicySpec.model_validate(
    {
        "version": "t1",
        "allowed_lateness": "5m",
        "calendars": {"office": {"timezone": "Asia/Shanghai", "holidays": "none"}},
        "clocks": [
            {
                "id": "first_response",
                "case_kind": "complaint",
                "start": ["registered"],
                "stop": ["answered"],
                "limit": "24h",
                "warn_at": [0.5],
            },
            {
                "id": "complaint_resolution",
                "case_kind": "complaint",
                "start": ["registered"],
                "stop": ["resolved"],
                "pause": ["awaiting_customer"],
                "resume": ["customer_replied"],
                "limit": "2 working days",
                "calendar": "office",
                "warn_at": [0.8],
            },
        ],
    }
)
CALENDARS = build_calendars(SPEC)
# Monday 2026-11-02, 08:00 Shanghai: before office hours (09:00-18:00).
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=SHANGHAI)


def event(kind: str, at: datetime, n: int = 0) -> LifecycleEvent:
    return LifecycleEvent(
        event_id=f"C-1-{kind}-{n}",
        case_id="C-1",
        case_kind="complaint",
        event_type=kind,
        occurred_at=at,
    )


def story(events: list[LifecycleEvent], end: datetime | None = None) -> list[str]:
    """Replay ``events`` of one case and explain them, as ``time  text`` lines."""
    driver = Replay(Engine(SPEC, CALENDARS), SPEC.allowed_lateness)
    moments: list[Moment] = []
    state: CaseState | None = None
    for e in events:
        for item in driver.tick(e.occurred_at):
            after = driver.states.get("C-1")
            moments.append(Moment(item.at, None, (item.effect,), state, after))
            state = after
        emitted = driver.feed(e)
        after = driver.states.get("C-1")
        moments.append(Moment(e.occurred_at, e, tuple(x.effect for x in emitted), state, after))
        state = after
    if end is not None:
        for item in driver.advance_to(end):
            after = driver.states.get("C-1")
            moments.append(Moment(item.at, None, (item.effect,), state, after))
            state = after
    explainer = Explainer(SPEC, CALENDARS, SHANGHAI)
    return [f"{explainer.when(s.at)}  {s.text}" for s in explainer.timeline(moments)]


class TestDuration:
    def test_days_hours_minutes(self) -> None:
        """Durations read as days, hours and minutes."""
        assert "2 d 3 h 5 min" == duration(timedelta(days=2, hours=3, minutes=5))

    def test_short_and_negative(self) -> None:
        """Under a minute in seconds; negative durations keep their sign."""
        assert ("42 s", "-1 h") == (duration(timedelta(seconds=42)), duration(timedelta(hours=-1)))


class TestTimeline:
    def test_start_tells_limit_deadline_and_late_counting(self) -> None:
        """A start says the limit and deadline; outside office hours, when counting begins."""
        lines = story([event("registered", T0)])
        assert [
            "2026-11-02 08:00  event registered",
            "2026-11-02 08:00  The first response clock started: limit 24h (calendar time, around "
            "the clock), target 95% (basic standard); deadline 2026-11-03 08:00.",
            "2026-11-02 08:00  The complaint resolution clock started: limit 2 working days "
            "(working time on calendar office), target 95% (basic standard); deadline "
            "2026-11-03 18:00. It started outside working hours: counting begins at "
            "2026-11-02 09:00.",
            "2026-11-02 08:00  At the end, the first response clock is still open; deadline "
            "2026-11-03 08:00 (1 d left).",
            "2026-11-02 08:00  At the end, the complaint resolution clock is still open; deadline "
            "2026-11-03 18:00 (1 d 10 h left).",
        ] == lines

    def test_pause_and_resume_tell_the_working_time_left_out(self) -> None:
        """A pause and its resume are told, with the working time left out and the new deadline."""
        lines = story(
            [
                event("registered", T0),
                event("answered", T0 + timedelta(hours=2)),
                event("awaiting_customer", T0 + timedelta(hours=3)),  # Mon 11:00
                event("customer_replied", T0 + timedelta(hours=27)),  # Tue 11:00
            ]
        )
        assert [
            "2026-11-02 11:00  The complaint resolution clock paused (awaiting_customer): from "
            "2026-11-02 11:00 the time does not count, and the deadline waits.",
            "2026-11-03 11:00  The complaint resolution clock resumed (customer_replied) after "
            "1 d paused (9.0 working hours left out); the deadline is now 2026-11-04 18:00.",
        ] == [line for line in lines if "paused" in line]

    def test_stop_tells_the_margin(self) -> None:
        """A stop in time tells how long before the deadline it came."""
        lines = story([event("registered", T0), event("answered", T0 + timedelta(hours=2))])
        assert (
            "2026-11-02 10:00  The first response clock stopped in time at 2026-11-02 10:00: "
            "2 h counted, 22 h before the deadline of 2026-11-03 08:00." in lines
        )

    def test_breach_and_late_stop_tell_working_hours_not_counted(self) -> None:
        """The deadline passing is a breach; the late stop says the hours outside office time."""
        lines = story(
            [event("registered", T0), event("resolved", T0 + timedelta(days=3, hours=2))],
            end=T0 + timedelta(days=4),
        )
        assert [
            "2026-11-03 18:00  Breach: the complaint resolution clock passed its deadline of "
            "2026-11-03 18:00 with the case still open.",
            "2026-11-05 10:00  The complaint resolution clock stopped late at 2026-11-05 10:00: "
            "28.0 working hours counted, 1 d 16 h after the deadline of 2026-11-03 18:00; "
            "1 d 22 h outside working hours not counted.",
        ] == [line for line in lines if "Breach: the complaint" in line or "stopped late" in line]

    def test_duplicates_are_silent_unless_verbose(self) -> None:
        """A duplicate event is left out of the story."""
        lines = story([event("registered", T0), event("registered", T0)])
        assert 1 == sum(1 for line in lines if line.endswith("event registered"))


class TestState:
    def test_live_state_tells_running_cycles_pauses_and_deadline(self) -> None:
        """From a stored state only: each clock's cycle, pauses, warnings and deadline."""
        engine = Engine(SPEC, CALENDARS)
        state = None
        for e in [
            event("registered", T0),
            event("answered", T0 + timedelta(hours=2)),
            event("awaiting_customer", T0 + timedelta(hours=3)),
        ]:
            state = engine.apply(state, e, e.occurred_at).state
        assert state is not None
        restored = CaseState.from_json(state.to_json())  # as the worker's table holds it
        explainer = Explainer(SPEC, CALENDARS, SHANGHAI)
        lines = [s.text for s in explainer.state(restored, T0 + timedelta(hours=5))]
        assert [
            "Cycle 1 of the first response clock ended at 2026-11-02 10:00: met.",
            "Cycle 1 of the complaint resolution clock started at 2026-11-02 08:00: limit 2 "
            "working days (working time on calendar office), target 95% (basic standard).",
            "Paused since 2026-11-02 11:00: the time does not count.",
            "So far 1 h fell outside working hours and was not counted.",
            "Now the complaint resolution clock is still open, paused since 2026-11-02 11:00; "
            "its deadline is set again when it resumes.",
        ] == lines

    def test_times_are_shown_in_the_chosen_zone(self) -> None:
        """The same instant reads in the supervisor's zone."""
        explainer = Explainer(SPEC, CALENDARS, UTC)
        assert "2026-11-02 00:00" == explainer.when(T0)
