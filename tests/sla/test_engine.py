"""The case engine: events and time drive every clock of a case into records, deterministically."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import ElapsedCalendar
from sla.effects import (
    IGNORE_REASONS,
    Breached,
    BreachRetracted,
    ClockEnded,
    ClockStarted,
    Effect,
    EventIgnored,
    WarningDue,
)
from sla.engine import SEEN_LIMIT, CaseState, Engine, Step
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from tests.sla._clock_fakes import OfficeHours, at, event

POLICY: dict[str, Any] = {
    "version": "test-1",
    "allowed_lateness": "10m",
    "clocks": [
        {
            "id": "first_response",
            "case_kind": "complaint",
            "start": ["complaint_registered"],
            "stop": ["reply_sent"],
            "pause": ["waiting_customer"],
            "resume": ["customer_replied"],
            "cancel": ["complaint_withdrawn"],
            "reset": ["complaint_reopened"],
            "limit": "4h",
            "team": "front_desk",
        },
        {
            "id": "department_contact",
            "case_kind": "complaint",
            "when": {"complaint_class": "transport"},
            "start": ["complaint_assigned"],
            "stop": ["department_contacted"],
            "limit": "2 working hours",
            "calendar": "office",
            "warn_at": [],
            "overrides": [{"when": {"priority": "high"}, "standard": "expedited", "target": 0.99}],
        },
        {
            "id": "tracking_gap",
            "case_kind": "shipment",
            "start": ["scanned"],
            "stop": ["scanned", {"event": "delivered", "when": {"result": "signed"}}],
            "limit": "6h",
            "warn_at": [],
        },
        {
            "id": "promised_delivery",
            "case_kind": "shipment",
            "start": ["picked_up"],
            "stop": [{"event": "delivered", "when": {"result": "signed"}}],
            "limit": "until promised_by",
            "standard": "expedited",
            "warn_at": [0.5],
        },
    ],
}
LATENESS = timedelta(minutes=10)


def make_engine(version: str = "test-1", **overrides: Any) -> Engine:
    spec = PolicySpec.model_validate({**POLICY, "version": version, **overrides})
    return Engine(spec, {"office": OfficeHours()}, retention=timedelta(days=2))


class Case:
    """Drives one case through an engine the way the worker does: store, apply, advance."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine()
        self.state: CaseState | None = None
        self.step: Step | None = None

    def send(self, ev: LifecycleEvent, now: datetime | None = None) -> list[Effect]:
        """Apply ``ev`` at ``now`` (default: its own time) and keep the new state."""
        self.step = self.engine.apply(self.state, ev, now or ev.occurred_at)
        self.state = self.step.state
        return self.step.effects

    def tick(self, now: datetime) -> list[Effect]:
        """Advance to ``now`` and keep the new state."""
        assert self.state is not None
        self.step = self.engine.advance(self.state, now)
        self.state = self.step.state
        return self.step.effects

    @property
    def current(self) -> CaseState:
        """The stored state, which must exist."""
        assert self.state is not None
        return self.state

    @property
    def next_due(self) -> datetime | None:
        assert self.step is not None
        return self.step.next_due


def kinds(effects: list[Effect]) -> list[str]:
    """Effect class names, with the ignore reason or outcome where there is one."""
    names = []
    for effect in effects:
        if isinstance(effect, EventIgnored):
            names.append(f"EventIgnored:{effect.reason}")
        elif isinstance(effect, ClockEnded):
            names.append(f"ClockEnded:{effect.record.outcome}")
        else:
            names.append(type(effect).__name__)
    return names


def outcome(effects: list[Effect]) -> Any:
    """The single outcome record among ``effects``."""
    records = [e.record for e in effects if isinstance(e, ClockEnded)]
    assert 1 == len(records)
    return records[0]


def registered(hours: float = 0, minutes: float = 0, **attributes: Any) -> LifecycleEvent:
    return event("complaint_registered", at(hours, minutes), **attributes)


def replied(hours: float, minutes: float = 0, **attributes: Any) -> LifecycleEvent:
    return event("reply_sent", at(hours, minutes), **attributes)


class TestStartAndStop:
    def test_start_reports_the_deadline_from_the_event_time(self) -> None:
        """A start that arrives an hour late still counts from when it happened."""
        case = Case()
        effects = case.send(registered(0), now=at(1))
        started = effects[0]
        assert isinstance(started, ClockStarted)
        assert (at(0), at(4), 1) == (started.started_at, started.deadline, started.ref.cycle)

    def test_stop_before_the_deadline_is_met(self) -> None:
        """Reply after 3h of a 4h limit: met, 3h elapsed."""
        case = Case()
        case.send(registered(0))
        record = outcome(case.send(replied(3)))
        expected = ("met", at(0), at(4), at(3), 10800.0, 0.0)
        actual = (
            record.outcome,
            record.started_at,
            record.deadline,
            record.ended_at,
            record.elapsed_seconds,
            record.paused_seconds,
        )
        assert expected == actual

    def test_breach_fires_at_the_deadline(self) -> None:
        """advance at the deadline sends the breach with its deterministic id."""
        case = Case()
        case.send(registered(0))
        assert at(2) == case.next_due  # the 50 % warning
        case.tick(at(2))
        case.tick(at(3, 12))
        effects = case.tick(at(4))
        assert ["Breached"] == kinds(effects)
        breach = effects[0]
        assert isinstance(breach, Breached)
        assert ("C-1/first_response/1", at(4), at(4)) == (
            breach.record.breach_id,
            breach.record.deadline,
            breach.record.emitted_at,
        )

    def test_stop_after_the_breach_is_a_breached_outcome(self) -> None:
        """The clock met late: outcome breached, no second breach record."""
        case = Case()
        case.send(registered(0))
        case.tick(at(4))
        assert ["ClockEnded:breached"] == kinds(case.send(replied(5)))

    def test_late_stop_and_deadline_together_breach_first_then_end(self) -> None:
        """The timer never fired: the stop after the deadline sends the breach, then the outcome."""
        case = Case()
        case.send(registered(0))
        effects = case.send(replied(5))
        assert ["Breached", "ClockEnded:breached"] == kinds(effects)
        breach = effects[0]
        assert isinstance(breach, Breached)
        assert at(5) == breach.record.stopped_at

    def test_late_start_breaches_at_once(self) -> None:
        """A start whose deadline passed before it arrived breaches immediately, no warnings."""
        case = Case()
        assert ["ClockStarted", "Breached"] == kinds(case.send(registered(0), now=at(5)))

    def test_stop_arriving_before_its_timer_avoids_the_breach(self) -> None:
        """A stop from before the deadline, applied before the timer fired, is simply met."""
        case = Case()
        case.send(registered(0))
        assert ["ClockEnded:met"] == kinds(case.send(replied(3.9), now=at(4, 5)))


class TestWarnings:
    def test_warnings_at_half_and_eighty_percent(self) -> None:
        """Each threshold fires once at its time, then the breach."""
        case = Case()
        case.send(registered(0))
        fired: list[tuple[str, datetime | None]] = []
        for now in (at(1), at(2), at(2, 30), at(3, 12), at(3, 30), at(4)):
            fired += [(name, case.next_due) for name in kinds(case.tick(now))]
        assert [("WarningDue", at(3, 12)), ("WarningDue", at(4)), ("Breached", None)] == fired

    def test_warning_record(self) -> None:
        """The warning names its threshold, due time, deadline and a deterministic id."""
        case = Case()
        case.send(registered(0))
        warning = case.tick(at(3, 12))[0]
        assert isinstance(warning, WarningDue)
        record = warning.record
        expected = ("C-1/first_response/1/w80", 0.8, at(3, 12), at(4), at(3, 12))
        assert expected == (
            record.warning_id,
            record.threshold,
            record.due_at,
            record.deadline,
            record.emitted_at,
        )

    def test_catching_up_sends_only_the_latest_warning(self) -> None:
        """After downtime past both thresholds, only the 80 % warning is sent."""
        case = Case()
        case.send(registered(0))
        effects = case.tick(at(3, 30))
        assert [0.8] == [e.record.threshold for e in effects if isinstance(e, WarningDue)]
        assert at(4) == case.next_due

    def test_no_warning_after_the_stop(self) -> None:
        """A stopped clock leaves nothing due but the purge."""
        case = Case()
        case.send(registered(0))
        case.send(replied(1))
        assert [] == case.tick(at(3, 30))


class TestPauses:
    def test_pause_extends_the_deadline_exactly(self) -> None:
        """Paused 1h30m: the 4h deadline moves to 5h30m and the outcome counts the pause."""
        case = Case()
        case.send(registered(0))
        case.send(event("waiting_customer", at(1)))
        assert None is case.next_due  # paused: nothing is due until the resume
        case.send(event("customer_replied", at(2, 30)))
        assert at(3, 30) == case.next_due  # 50 %: 1h before the pause + 1h after the resume
        record = outcome(case.send(replied(5, minutes=30)))
        assert ("met", at(5, 30), 4 * 3600.0, 5400.0) == (
            record.outcome,
            record.deadline,
            record.elapsed_seconds,
            record.paused_seconds,
        )

    def test_paused_clock_does_not_breach(self) -> None:
        """Past the original deadline while paused: nothing fires."""
        case = Case()
        case.send(registered(0))
        case.send(event("waiting_customer", at(1)))
        assert [] == case.tick(at(10))

    def test_pause_arriving_after_its_resume_is_slotted_in(self) -> None:
        """Out of order within the running cycle: the pause is ordered in and all recomputed."""
        case = Case()
        case.send(registered(0))
        case.send(event("customer_replied", at(2)))
        case.send(event("waiting_customer", at(1)), now=at(2, 5))
        record = outcome(case.send(replied(5)))
        assert ("met", at(5), 3600.0) == (record.outcome, record.deadline, record.paused_seconds)

    def test_stop_while_paused(self) -> None:
        """A reply while paused ends the pause there and is met."""
        case = Case()
        case.send(registered(0))
        case.send(event("waiting_customer", at(1)))
        record = outcome(case.send(replied(9)))
        assert ("met", 3600.0, 8 * 3600.0) == (
            record.outcome,
            record.elapsed_seconds,
            record.paused_seconds,
        )


class TestLateAndOutOfOrder:
    def test_breach_then_late_stop_from_before_the_deadline_retracts(self) -> None:
        """The reply happened at 3h but arrived after the breach: retract, outcome met."""
        case = Case()
        case.send(registered(0))
        case.tick(at(4))
        effects = case.send(replied(3), now=at(4, 30))
        assert ["BreachRetracted", "ClockEnded:met"] == kinds(effects)
        retraction = effects[0]
        assert isinstance(retraction, BreachRetracted)
        expected = ("breach_retracted", "C-1/first_response/1", at(3), at(4, 30))
        assert expected == (
            retraction.record.type,
            retraction.record.breach_id,
            retraction.record.stopped_at,
            retraction.record.emitted_at,
        )

    def test_late_pause_makes_a_later_stop_met_and_retracts(self) -> None:
        """A pause that arrived after the breach moves the deadline; the stop then retracts."""
        case = Case()
        case.send(registered(0))
        case.tick(at(4))
        case.send(event("waiting_customer", at(1)), now=at(4, 1))
        case.send(event("customer_replied", at(3)), now=at(4, 2))
        assert ["BreachRetracted", "ClockEnded:met"] == kinds(case.send(replied(5)))

    def test_stop_before_start_within_lateness_is_met(self) -> None:
        """The reply arrived first; the registration 5 minutes later starts and ends the cycle."""
        case = Case()
        assert [] == case.send(replied(1), now=at(1))
        assert at(1, 10) == case.next_due
        effects = case.send(registered(0), now=at(1, 5))
        assert ["ClockStarted", "ClockEnded:met"] == kinds(effects)
        assert (at(0), at(1)) == (outcome(effects).started_at, outcome(effects).ended_at)
        assert [] == case.current.orphans

    def test_waiting_pause_and_stop_apply_in_event_order(self) -> None:
        """Pause, resume and stop all before their start: applied in time order after it."""
        case = Case(make_engine(allowed_lateness="6h"))
        case.send(replied(5), now=at(5))
        case.send(event("customer_replied", at(3)), now=at(5))
        case.send(event("waiting_customer", at(1)), now=at(5))
        record = outcome(case.send(registered(0), now=at(5, 5)))
        assert ("met", 7200.0, at(6)) == (record.outcome, record.paused_seconds, record.deadline)

    def test_orphan_expires_after_the_allowed_lateness(self) -> None:
        """A stop whose start never comes is dropped and counted once."""
        case = Case()
        case.send(replied(1), now=at(1))
        assert [] == case.tick(at(1, 9))
        effects = case.tick(at(1, 10))
        assert ["EventIgnored:orphan_expired"] == kinds(effects)
        ignored = effects[0]
        assert isinstance(ignored, EventIgnored)
        assert "reply_sent@" + at(1).isoformat() == ignored.event_id

    def test_orphan_older_than_the_lateness_expires_at_once(self) -> None:
        """A stop arriving an hour after it happened, with no start, is dropped on arrival."""
        case = Case()
        assert ["EventIgnored:orphan_expired"] == kinds(case.send(replied(1), now=at(2)))

    def test_overdue_orphan_is_not_adopted_even_before_its_expiry_ran(self) -> None:
        """The timer had not fired yet: the start still ignores the stop whose wait is over."""
        case = Case()
        case.send(replied(1), now=at(1))
        effects = case.send(registered(0.5), now=at(2))
        assert ["ClockStarted", "EventIgnored:orphan_expired"] == kinds(effects)

    def test_start_after_the_orphan_expired_runs_normally(self) -> None:
        """Once dropped, the old stop does not end a later cycle."""
        case = Case()
        case.send(replied(1), now=at(1))
        case.tick(at(2))
        assert ["ClockStarted"] == kinds(case.send(registered(0.5), now=at(2)))[:1]

    def test_event_for_an_ended_cycle_is_late(self) -> None:
        """A pause from before the reply, arriving after the outcome, is ignored as late."""
        case = Case()
        case.send(registered(0))
        case.send(replied(3))
        effects = case.send(event("waiting_customer", at(2)), now=at(3, 1))
        assert ["EventIgnored:late_after_end"] == kinds(effects)

    def test_stop_earlier_than_the_running_start_waits_then_expires(self) -> None:
        """A stop older than the running cycle cannot end it."""
        case = Case()
        case.send(registered(0, 10))
        assert [] == case.send(replied(0, 5), now=at(0, 10))
        assert ["EventIgnored:orphan_expired"] == kinds(case.tick(at(0, 15)))


class TestDuplicatesAndIgnored:
    def test_duplicate_changes_nothing(self) -> None:
        """The same event twice: the second is ignored and the state is unchanged."""
        case = Case()
        case.send(registered(0))
        before = case.current.to_json()
        effects = case.send(registered(0), now=at(0, 1))
        assert ["EventIgnored:duplicate"] == kinds(effects)
        assert before == case.current.to_json()

    def test_duplicate_stop_after_the_end_is_a_duplicate(self) -> None:
        """Redelivery of the stop does not end anything again."""
        case = Case()
        case.send(registered(0))
        case.send(replied(1))
        assert ["EventIgnored:duplicate"] == kinds(case.send(replied(1), now=at(2)))

    def test_seen_ids_are_bounded(self) -> None:
        """Only the last SEEN_LIMIT ids are kept."""
        case = Case()
        case.send(registered(0))
        for n in range(SEEN_LIMIT + 5):
            case.send(event("waiting_customer", at(1), event_id=f"p{n}"))
        assert SEEN_LIMIT == len(case.current.seen)
        assert ["EventIgnored:duplicate"] == kinds(
            case.send(event("waiting_customer", at(1), event_id=f"p{SEEN_LIMIT}"))
        )

    def test_unknown_event_type(self) -> None:
        """No clock of the case kind knows it: ignored, no state created."""
        case = Case()
        effects = case.send(event("coffee_break", at(0)))
        assert (["EventIgnored:unknown_event_type"], None) == (kinds(effects), case.state)

    def test_type_known_only_to_another_case_kind_is_unknown(self) -> None:
        """'scanned' is a shipment event; on a complaint it is unknown."""
        assert ["EventIgnored:unknown_event_type"] == kinds(Case().send(event("scanned", at(0))))

    def test_no_matching_clock_still_merges_attributes(self) -> None:
        """Assignment of a non-transport complaint starts nothing but keeps its attributes."""
        case = Case()
        effects = case.send(event("complaint_assigned", at(0), complaint_class="service"))
        assert ["EventIgnored:no_matching_clock"] == kinds(effects)
        assert "service" == case.current.attributes["complaint_class"]

    def test_start_while_running(self) -> None:
        """A second registration does not restart the clock."""
        case = Case()
        case.send(registered(0))
        effects = case.send(registered(1))
        assert ["EventIgnored:already_running"] == kinds(effects)

    def test_start_before_the_last_end_is_stale(self) -> None:
        """A start at or before the end of the last cycle starts nothing."""
        case = Case()
        case.send(registered(0))
        case.send(replied(2))
        assert ["EventIgnored:stale_start"] == kinds(case.send(registered(1), now=at(2, 1)))

    def test_until_limit_without_the_attribute(self) -> None:
        """A promised-delivery clock needs promised_by on its start."""
        effects = Case().send(event("picked_up", at(0), case_kind="shipment"))
        assert ["EventIgnored:missing_attribute"] == kinds(effects)

    def test_condition_filter_on_the_event(self) -> None:
        """A failed delivery does not stop a clock that waits for a signed one."""
        case = Case()
        case.send(event("picked_up", at(0), case_kind="shipment", promised_by=at(24)))
        effects = case.send(event("delivered", at(5), case_kind="shipment", result="failed"))
        assert ["EventIgnored:no_matching_clock"] == kinds(effects)

    def test_every_reason_is_a_declared_label(self) -> None:
        """The reasons used in these tests are all in IGNORE_REASONS."""
        assert {"duplicate", "orphan_expired", "late_after_end", "stale_start"} <= IGNORE_REASONS


class TestCyclesAndEnds:
    def test_reopen_starts_cycle_two_reported_separately(self) -> None:
        """Met in cycle 1, reopened, met late in cycle 2: two outcomes, two ids."""
        case = Case()
        case.send(registered(0))
        first = outcome(case.send(replied(1)))
        started = case.send(event("complaint_reopened", at(10)))
        assert ["ClockStarted"] == kinds(started)
        case.tick(at(14))
        second = outcome(case.send(replied(15)))
        assert [
            (1, "met", "C-1/first_response/1/outcome"),
            (2, "breached", "C-1/first_response/2/outcome"),
        ] == [(r.cycle, r.outcome, r.outcome_id) for r in (first, second)]
        assert at(10) == second.started_at

    def test_reset_while_running_ends_with_reset_and_restarts(self) -> None:
        """A reset ends cycle 1 with outcome reset and starts cycle 2 at the reset time."""
        case = Case()
        case.send(registered(0))
        effects = case.send(event("complaint_reopened", at(2)))
        assert ["ClockEnded:reset", "ClockStarted"] == kinds(effects)
        started = effects[1]
        assert isinstance(started, ClockStarted)
        assert (2, at(2), at(6)) == (started.ref.cycle, started.started_at, started.deadline)

    def test_cancel(self) -> None:
        """A withdrawn complaint ends with outcome cancelled and nothing more is due."""
        case = Case()
        case.send(registered(0))
        record = outcome(case.send(event("complaint_withdrawn", at(1))))
        assert ("cancelled", at(1)) == (record.outcome, record.ended_at)
        assert at(1) + timedelta(days=2) == case.next_due  # only the purge is left

    def test_cancel_after_the_deadline_keeps_the_breach(self) -> None:
        """A case cancelled when already late: the breach stands, outcome cancelled."""
        case = Case()
        case.send(registered(0))
        assert ["Breached", "ClockEnded:cancelled"] == kinds(
            case.send(event("complaint_withdrawn", at(5)))
        )

    def test_tracking_scan_stops_and_starts(self) -> None:
        """Each scan ends the gap since the last one and opens the next."""
        case = Case()

        def scan(hours: float) -> list[str]:
            return kinds(case.send(event("scanned", at(hours), case_kind="shipment")))

        assert ["ClockStarted"] == scan(0)
        assert ["ClockEnded:met", "ClockStarted"] == scan(2)
        assert ["Breached", "ClockEnded:breached", "ClockStarted"] == scan(9)
        assert 3 == case.current.clocks["tracking_gap"].cycles

    def test_one_event_drives_two_clocks(self) -> None:
        """A signed delivery stops both the tracking gap and the promised delivery."""
        case = Case()
        case.send(event("picked_up", at(0), case_kind="shipment", promised_by=at(24)))
        case.send(event("scanned", at(1), case_kind="shipment"))
        effects = case.send(event("delivered", at(3), case_kind="shipment", result="signed"))
        clocks = [(e.record.clock, e.record.outcome) for e in effects if isinstance(e, ClockEnded)]
        assert [("tracking_gap", "met"), ("promised_delivery", "met")] == clocks

    def test_until_deadline_is_the_promise(self) -> None:
        """Promised delivery breaches at promised_by, warns at half of the way."""
        case = Case()
        started = case.send(
            event("picked_up", at(0), case_kind="shipment", promised_by=at(10).isoformat())
        )[0]
        assert isinstance(started, ClockStarted)
        assert (at(10), at(5)) == (started.deadline, case.next_due)

    def test_working_time_clock_and_override_terms(self) -> None:
        """High-priority transport complaint at 16:00: expedited terms, deadline 10:00 next day."""
        case = Case()
        effects = case.send(
            event("complaint_assigned", at(7), complaint_class="transport", priority="high")
        )
        started = effects[0]
        assert isinstance(started, ClockStarted)
        assert ("expedited", 0.99, at(25)) == (
            started.ref.standard,
            started.ref.target,
            started.deadline,
        )
        record = outcome(case.send(event("department_contacted", at(24, 30))))
        assert ("met", 1.5 * 3600) == (record.outcome, record.elapsed_seconds)


class TestRecords:
    def test_records_carry_owner_version_and_terms(self) -> None:
        """Team falls back to the clock's team; assignee and region come from the case."""
        case = Case()
        case.send(registered(0, assignee="staff-7", region="GD"))
        record = outcome(case.send(replied(1)))
        expected = ("test-1", "basic", 0.95, "front_desk", "staff-7", "GD", "complaint")
        actual = (
            record.policy_version,
            record.standard,
            record.target,
            record.team,
            record.assignee,
            record.region,
            record.case_kind,
        )
        assert expected == actual

    def test_case_team_wins_over_clock_team(self) -> None:
        """An explicit team attribute is used."""
        case = Case()
        case.send(registered(0, team="night_shift"))
        assert "night_shift" == outcome(case.send(replied(1))).team

    def test_latest_event_time_wins_per_attribute(self) -> None:
        """An older assignment arriving late does not overwrite a newer one."""
        case = Case()
        case.send(registered(0, assignee="new"))
        case.send(event("waiting_customer", at(-1), assignee="old"), now=at(0))
        assert "new" == case.current.attributes["assignee"]

    def test_cycle_keeps_the_policy_version_that_started_it(self) -> None:
        """A cycle started under test-1 is judged as test-1 after a deploy of test-2."""
        case = Case()
        case.send(registered(0))
        state = case.state
        newer = Case(make_engine("test-2"))
        newer.state = state
        assert "test-1" == outcome(newer.send(replied(1))).policy_version
        assert "test-2" == newer.engine.version

    def test_ids_are_deterministic(self) -> None:
        """Running the same events twice gives identical records."""

        def run() -> list[Effect]:
            case = Case()
            effects = case.send(registered(0))
            effects += case.tick(at(4))
            return effects + case.send(replied(3), now=at(5))

        assert run() == run()


class TestStateAndTime:
    def test_state_json_round_trip(self) -> None:
        """to_json is JSON-safe and a rebuilt state behaves identically."""
        case = Case()
        case.send(registered(0, assignee="staff-7"))
        case.send(event("waiting_customer", at(1)))
        case.send(event("department_contacted", at(1, 30)), now=at(1, 30))
        state = case.state
        assert state is not None
        text = json.dumps(state.to_json())
        rebuilt = CaseState.from_json(json.loads(text))
        assert state.to_json() == rebuilt.to_json()
        engine = case.engine
        for now in (at(1, 40), at(3)):
            assert engine.advance(state, now) == engine.advance(rebuilt, now)
        ev = event("customer_replied", at(2))
        assert engine.apply(state, ev, at(2)) == engine.apply(rebuilt, ev, at(2))

    def test_unknown_state_format_is_refused(self) -> None:
        """A state from another format version names the fix."""
        with pytest.raises(ValueError, match="replay"):
            CaseState.from_json({"format": 99})

    def test_apply_does_not_change_the_given_state(self) -> None:
        """The engine returns a new state and leaves its input alone."""
        case = Case()
        case.send(registered(0))
        state = case.state
        assert state is not None
        before = state.to_json()
        case.engine.apply(state, replied(1), at(1))
        case.engine.advance(state, at(5))
        assert before == state.to_json()

    def test_purge_after_retention(self) -> None:
        """An idle case is forgotten once retention passed since its last event."""
        case = Case()
        case.send(registered(0))
        case.send(replied(1))
        purge_at = at(1) + timedelta(days=2)
        assert purge_at == case.next_due
        case.tick(purge_at - timedelta(seconds=1))
        assert case.state is not None
        case.tick(purge_at)
        assert None is case.state
        assert None is case.next_due

    def test_open_breached_clock_is_not_purged(self) -> None:
        """A breached clock still waiting for its stop is kept."""
        case = Case()
        case.send(registered(0))
        case.tick(at(4))
        assert None is case.next_due
        case.tick(at(24 * 30))
        assert case.state is not None

    def test_naive_now_is_refused(self) -> None:
        """now must carry a time zone."""
        with pytest.raises(ValueError, match="no time zone"):
            make_engine().apply(None, registered(0), datetime(2026, 3, 2))


class TestEngine:
    def test_event_types_and_version(self) -> None:
        """All event types any clock reacts to, and the policy version."""
        engine = make_engine()
        assert {"complaint_registered", "scanned", "delivered", "picked_up"} <= engine.event_types()
        assert "test-1" == engine.version

    def test_working_limit_needs_a_calendar(self) -> None:
        """A missing calendar is a configuration error naming the clock."""
        spec = PolicySpec.model_validate(POLICY)
        with pytest.raises(ValueError, match=r"department_contact.*office"):
            Engine(spec, {})

    def test_working_limit_without_calendar_name(self) -> None:
        """A working-time limit with no calendar named is refused."""
        clocks = [{**POLICY["clocks"][1], "calendar": None}]
        spec = PolicySpec.model_validate({**POLICY, "clocks": clocks})
        with pytest.raises(ValueError, match="no calendar"):
            Engine(spec, {"office": OfficeHours()})

    def test_elapsed_calendar_is_enough_for_elapsed_clocks(self) -> None:
        """Only calendars that are used must be given."""
        spec = PolicySpec.model_validate({**POLICY, "clocks": [POLICY["clocks"][0]]})
        assert "test-1" == Engine(spec, {"unused": ElapsedCalendar()}).version


# ---------------------------------------------------------------- order independence

STOP_AT = st.floats(min_value=0.5, max_value=12.0)


@st.composite
def shuffled_cycle(draw: st.DrawFn) -> tuple[list[LifecycleEvent], datetime]:
    """One cycle's events in an arrival order, all delivered at once after the last of them.

    The stop is delivered after every pause and resume (an outcome is final once sent), the
    start anywhere: before, between or after the others.
    """
    times = sorted(set(draw(st.lists(st.integers(5, 700), max_size=6))))
    marks = [
        event("waiting_customer" if i % 2 == 0 else "customer_replied", at(minutes=m))
        for i, m in enumerate(times)
    ]
    stop_minutes = draw(st.integers((times[-1] if times else 0) + 1, 900))
    stop = replied(0, minutes=stop_minutes)
    rest = [registered(0), *marks]
    order = draw(st.permutations(rest))
    last_mark = max((order.index(m) for m in marks), default=-1)
    slot = draw(st.integers(last_mark + 1, len(order)))
    arrival = [*order[:slot], stop, *order[slot:]]
    return arrival, stop.occurred_at


def outcomes_of(arrival: list[LifecycleEvent], now: datetime) -> list[dict[str, Any]]:
    case = Case(make_engine(allowed_lateness="2d"))
    effects: list[Effect] = []
    for ev in arrival:
        effects += case.send(ev, now=now)
    effects += case.tick(now + timedelta(days=1))
    standing = {e.record.breach_id for e in effects if isinstance(e, Breached)} - {
        e.record.breach_id for e in effects if isinstance(e, BreachRetracted)
    }
    records = [e.record.model_dump() for e in effects if isinstance(e, ClockEnded)]
    return [*records, {"standing_breaches": sorted(standing)}]


class TestOrderIndependence:
    @settings(max_examples=150, deadline=None)
    @given(shuffled_cycle())
    def test_shuffling_within_lateness_gives_the_same_outcomes(
        self, case: tuple[list[LifecycleEvent], datetime]
    ) -> None:
        """Any delivery order within the allowed lateness gives the same outcome and breaches."""
        arrival, now = case
        in_time_order = sorted(arrival, key=lambda e: (e.occurred_at, e.event_type))
        assert outcomes_of(in_time_order, now) == outcomes_of(arrival, now)

    def test_shuffles_of_a_fixed_case(self) -> None:
        """A hand-picked case with two pauses, delivered in many orders, always ends the same."""
        events = [
            registered(0),
            event("waiting_customer", at(1)),
            event("customer_replied", at(2)),
            event("waiting_customer", at(3)),
            event("customer_replied", at(4)),
        ]
        stop = replied(5, minutes=30)
        expected = outcomes_of([*events, stop], at(6))
        rng = random.Random(7)
        for _ in range(30):
            order = events[:]
            rng.shuffle(order)
            assert expected == outcomes_of([*order, stop], at(6))
        assert "met" == expected[0]["outcome"]
