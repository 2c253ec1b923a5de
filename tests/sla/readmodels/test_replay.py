"""Event-time replay: the watermark, timers at their due time, open clocks, parity with live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sla.effects import Breached, ClockEnded, ClockStarted, WarningDue
from sla.engine import Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from sla.readmodels.replay import Replay, replay, sort_events

LATENESS = timedelta(minutes=5)
SPEC = PolicySpec.model_validate(
    {
        "version": "t1",
        "allowed_lateness": "5m",
        "clocks": [
            {
                "id": "first_response",
                "case_kind": "complaint",
                "start": ["registered"],
                "stop": ["answered"],
                "pause": ["awaiting_customer"],
                "resume": ["customer_replied"],
                "limit": "24h",
                "warn_at": [0.5],
            }
        ],
    }
)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def event(case: str, kind: str, at: datetime, n: int = 0) -> LifecycleEvent:
    return LifecycleEvent(
        event_id=f"{case}-{kind}-{n}",
        case_id=case,
        case_kind="complaint",
        event_type=kind,
        occurred_at=at,
    )


def engine() -> Engine:
    return Engine(SPEC, {})


class TestSortEvents:
    def test_orders_by_time_and_keeps_ties_in_input_order(self) -> None:
        """Events come out in event-time order; equal times keep their input order."""
        a = event("A", "registered", T0 + timedelta(hours=1))
        b = event("B", "registered", T0)
        c = event("C", "registered", T0)
        assert ["B", "C", "A"] == [e.case_id for e in sort_events([a, b, c])]


class TestReplay:
    def test_watermark_trails_the_latest_event_by_the_lateness(self) -> None:
        """The watermark is the latest event time minus the allowed lateness."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0 + timedelta(hours=2)))
        driver.feed(event("B", "registered", T0))
        assert T0 + timedelta(hours=2) - LATENESS == driver.watermark

    def test_breach_fires_at_its_deadline_once_the_watermark_passes_it(self) -> None:
        """A deadline passed by the watermark breaches, stamped with the deadline itself."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0))
        out = driver.feed(event("B", "registered", T0 + timedelta(hours=24, minutes=5)))
        breaches = [e.effect for e in out if isinstance(e.effect, Breached)]
        assert [("A", T0 + timedelta(hours=24))] == [
            (b.record.case_id, b.record.emitted_at) for b in breaches
        ]

    def test_no_breach_before_the_watermark_reaches_the_deadline(self) -> None:
        """An event just past the deadline does not breach yet: lateness is waited for."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0))
        out = driver.feed(event("B", "registered", T0 + timedelta(hours=24, minutes=4)))
        assert [] == [e for e in out if isinstance(e.effect, Breached)]

    def test_late_stop_within_lateness_still_meets(self) -> None:
        """A stop from before the deadline arriving within the lateness ends the clock met."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0))
        driver.feed(event("B", "registered", T0 + timedelta(hours=24, minutes=3)))
        out = driver.feed(event("A", "answered", T0 + timedelta(hours=23)))
        ended = [e.effect.record.outcome for e in out if isinstance(e.effect, ClockEnded)]
        assert ["met"] == ended

    def test_timers_fire_in_due_order_across_cases(self) -> None:
        """Warnings and breaches of different cases fire in the order of their due times."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0 + timedelta(hours=1)))
        driver.feed(event("B", "registered", T0))
        out = driver.advance_to(T0 + timedelta(days=3))
        fired = [
            (e.case_id, type(e.effect).__name__)
            for e in out
            if isinstance(e.effect, WarningDue | Breached)
        ]
        assert [
            ("B", "WarningDue"),
            ("A", "WarningDue"),
            ("B", "Breached"),
            ("A", "Breached"),
        ] == fired

    def test_open_clocks_at_the_end_say_whether_breached(self) -> None:
        """Clocks still running are open, or breached once the watermark passed the deadline."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0))
        driver.feed(event("B", "registered", T0 + timedelta(hours=30)))
        assert {("A", True), ("B", False)} == {
            (c.ref.case_id, c.breached) for c in driver.open_clocks()
        }

    def test_ended_clocks_are_not_open(self) -> None:
        """A clock that stopped is no longer listed as open."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0))
        driver.feed(event("A", "answered", T0 + timedelta(hours=1)))
        assert [] == driver.open_clocks()

    def test_tick_moves_time_without_an_event(self) -> None:
        """Ticking with another case's event time fires this case's due timers."""
        driver = Replay(engine(), LATENESS)
        driver.feed(event("A", "registered", T0))
        out = driver.tick(T0 + timedelta(days=2))
        assert ["WarningDue", "Breached"] == [type(e.effect).__name__ for e in out]

    def test_listener_sees_every_effect(self) -> None:
        """The listener is called with each effect, as feed returns them."""
        seen: list[str] = []
        driver = Replay(engine(), LATENESS, listener=lambda e: seen.append(type(e.effect).__name__))
        returned = driver.feed(event("A", "registered", T0))
        assert [type(e.effect).__name__ for e in returned] == seen == ["ClockStarted"]

    def test_negative_lateness_is_refused(self) -> None:
        """A negative allowed lateness is a mistake, reported with the value."""
        with pytest.raises(ValueError, match="-1 day"):
            Replay(engine(), timedelta(seconds=-1))

    def test_paused_time_moves_the_deadline(self) -> None:
        """Time waiting on the customer does not count: the outcome's deadline moved by it."""
        events = [
            event("A", "registered", T0),
            event("A", "awaiting_customer", T0 + timedelta(hours=10)),
            event("A", "customer_replied", T0 + timedelta(hours=40)),
            event("A", "answered", T0 + timedelta(hours=50)),
        ]
        ended = [
            e.effect.record
            for e in replay(events, engine(), LATENESS)
            if isinstance(e.effect, ClockEnded)
        ]
        assert [("met", T0 + timedelta(hours=54), 30 * 3600.0)] == [
            (r.outcome, r.deadline, r.paused_seconds) for r in ended
        ]


class TestParityWithLive:
    def test_same_events_give_the_same_outcomes_as_the_live_engine(self) -> None:
        """Applying events live (now = arrival time) and replaying them give equal outcomes."""
        events = [
            event("A", "registered", T0),
            event("B", "registered", T0 + timedelta(minutes=30)),
            event("A", "awaiting_customer", T0 + timedelta(hours=2)),
            event("B", "answered", T0 + timedelta(hours=30)),
            event("A", "customer_replied", T0 + timedelta(hours=40)),
            event("A", "answered", T0 + timedelta(hours=41)),
        ]
        live = engine()
        states: dict[str, object] = {}
        live_outcomes = []
        for e in events:  # live: each event arrives one second after it happened
            step = live.apply(states.get(e.case_id), e, e.occurred_at + timedelta(seconds=1))
            states[e.case_id] = step.state
            live_outcomes += [x.record for x in step.effects if isinstance(x, ClockEnded)]
        replayed = [
            x.effect.record
            for x in replay(list(reversed(events)), engine(), LATENESS)
            if isinstance(x.effect, ClockEnded)
        ]
        assert sorted(live_outcomes, key=lambda r: r.outcome_id) == sorted(
            replayed, key=lambda r: r.outcome_id
        )

    def test_clock_started_is_reported_once_per_cycle(self) -> None:
        """Each case's clock starts once however the events are ordered."""
        events = [event("A", "registered", T0), event("A", "registered", T0, n=1)]
        started = [
            x for x in replay(events, engine(), LATENESS) if isinstance(x.effect, ClockStarted)
        ]
        assert 1 == len(started)


class TestForgottenCases:
    def test_a_case_seen_again_after_retention_numbers_its_cycles_on(self) -> None:
        """Retention (1 day) forgets A after its first cycle; its next cycle is 2, not 1 again."""
        short = Engine(SPEC, {}, retention=timedelta(days=1))
        driver = Replay(short, LATENESS)
        events = [
            event("A", "registered", T0),
            event("A", "answered", T0 + timedelta(hours=1)),
            event("B", "registered", T0 + timedelta(days=3)),
            event("A", "registered", T0 + timedelta(days=3), n=1),
            event("A", "answered", T0 + timedelta(days=3, hours=1), n=1),
            event("B", "answered", T0 + timedelta(days=3, hours=2)),
        ]
        ids = [
            item.effect.record.outcome_id
            for e in events
            for item in driver.feed(e)
            if isinstance(item.effect, ClockEnded)
        ]
        assert ids == [
            "A/first_response/1/outcome",
            "A/first_response/2/outcome",
            "B/first_response/1/outcome",
        ]
        assert driver.revived == 1

    def test_a_case_kept_by_retention_is_not_counted(self) -> None:
        driver = Replay(engine(), LATENESS)
        for e in [
            event("A", "registered", T0),
            event("A", "answered", T0 + timedelta(hours=1)),
            event("A", "registered", T0 + timedelta(days=3), n=1),
        ]:
            driver.feed(e)
        assert driver.revived == 0
