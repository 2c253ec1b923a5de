"""Policy forms that say what a log's clocks mean: ``start: first_event``, ``resume: other``,
``allowed_lateness: 0s`` and ``same_instant``, through the engine as the worker drives it."""

from __future__ import annotations

from datetime import timedelta
from itertools import permutations
from typing import Any

import pytest
from pydantic import ValidationError

from sla.clock import Mark
from sla.engine import CaseState, Engine
from sla.policy import PolicySpec
from tests.sla._clock_fakes import OfficeHours, at, event
from tests.sla.test_engine import Case, kinds, outcome

RESOLUTION: dict[str, Any] = {
    "id": "resolution",
    "case_kind": "incident",
    "start": "first_event",
    "stop": ["incident_resolved"],
    "pause": ["awaiting_user"],
    "resume": "other",
    "limit": "8h",
    "warn_at": [],
}


def engine(clock: dict[str, Any] | None = None, **policy: Any) -> Engine:
    spec = PolicySpec.model_validate(
        {"version": "forms-1", "allowed_lateness": "10m", "clocks": [clock or RESOLUTION], **policy}
    )
    return Engine(spec, {"office": OfficeHours()}, retention=timedelta(days=2))


def incident(event_type: str, hours: float, minutes: float = 0, **attributes: Any) -> Any:
    return event(event_type, at(hours, minutes), case_kind="incident", **attributes)


class TestFirstEvent:
    def test_any_first_event_starts_the_clock(self) -> None:
        case = Case(engine())
        assert kinds(case.send(incident("incident_active", 0))) == ["ClockStarted"]
        effects = case.send(incident("incident_resolved", 2))
        assert outcome(effects).outcome == "met"
        assert outcome(effects).started_at == at(0)

    def test_an_event_type_no_clock_names_can_start_it(self) -> None:
        case = Case(engine())
        assert kinds(case.send(incident("note_added", 1))) == ["ClockStarted"]

    def test_a_first_event_that_is_a_stop_starts_and_does_not_stop(self) -> None:
        """An incident imported already resolved stays open instead of meeting in 0 s."""
        case = Case(engine())
        assert kinds(case.send(incident("incident_resolved", 0))) == ["ClockStarted"]
        assert case.current.clocks["resolution"].running is not None
        assert kinds(case.tick(at(8))) == ["Breached"]

    def test_first_event_also_lets_it_stop_at_once(self) -> None:
        case = Case(engine({**RESOLUTION, "first_event_also": ["stop"]}))
        effects = case.send(incident("incident_resolved", 0))
        assert kinds(effects) == ["ClockStarted", "ClockEnded:met"]
        assert outcome(effects).elapsed_seconds == 0

    def test_only_the_first_event_starts(self) -> None:
        case = Case(engine())
        case.send(incident("incident_active", 0))
        case.send(incident("incident_resolved", 1))
        assert "ClockStarted" not in kinds(case.send(incident("incident_active", 2)))
        assert case.current.clocks["resolution"].running is None

    def test_an_older_event_arriving_later_does_not_move_the_start(self) -> None:
        case = Case(engine())
        case.send(incident("incident_active", 1))
        assert "ClockStarted" not in kinds(case.send(incident("incident_new", 0), now=at(1)))
        running = case.current.clocks["resolution"].running
        assert running is not None and running.started_at == at(1)

    def test_a_filter_on_first_event_narrows_it(self) -> None:
        clock = {**RESOLUTION, "start": [{"event": "first_event", "when": {"priority": "1"}}]}
        case = Case(engine(clock))
        assert "ClockStarted" not in kinds(case.send(incident("incident_active", 0, priority="2")))
        other = Case(engine(clock))
        assert kinds(other.send(incident("incident_active", 0, priority="1"))) == ["ClockStarted"]

    def test_first_event_with_a_listed_restart(self) -> None:
        clock = {**RESOLUTION, "start": ["first_event", "incident_reopened"]}
        case = Case(engine(clock))
        case.send(incident("incident_new", 0))
        case.send(incident("incident_resolved", 1))
        effects = case.send(incident("incident_reopened", 2))
        assert kinds(effects) == ["ClockStarted"]
        assert case.current.clocks["resolution"].running is not None
        assert case.current.clocks["resolution"].running.number == 2


class TestResumeOther:
    def test_any_other_event_resumes(self) -> None:
        case = Case(engine())
        case.send(incident("incident_new", 0))
        case.send(incident("awaiting_user", 1))
        assert case.current.clocks["resolution"].running.is_paused()  # type: ignore[union-attr]
        case.send(incident("comment_added", 3))  # a type no clock names
        cycle = case.current.clocks["resolution"].running
        assert cycle is not None and not cycle.is_paused()
        effects = case.send(incident("incident_resolved", 5))
        assert outcome(effects).paused_seconds == 2 * 3600

    def test_a_stop_is_not_an_other_event(self) -> None:
        case = Case(engine())
        case.send(incident("incident_new", 0))
        case.send(incident("awaiting_user", 1))
        effects = case.send(incident("incident_resolved", 3))
        assert outcome(effects).paused_seconds == 2 * 3600

    def test_a_repeated_pause_does_not_resume(self) -> None:
        case = Case(engine())
        case.send(incident("incident_new", 0))
        case.send(incident("awaiting_user", 1))
        case.send(incident("awaiting_user", 2))
        assert case.current.clocks["resolution"].running.is_paused()  # type: ignore[union-attr]

    def test_the_same_as_listing_every_other_type(self) -> None:
        listed = {**RESOLUTION, "start": ["incident_new"], "resume": ["incident_active"]}
        other = {**RESOLUTION, "start": ["incident_new"]}
        stream = [
            incident("incident_new", 0),
            incident("awaiting_user", 1),
            incident("incident_active", 2),
            incident("awaiting_user", 3),
            incident("incident_active", 4, 30),
            incident("incident_resolved", 9),
        ]
        results = []
        for clock in (listed, other):
            case = Case(engine(clock))
            effects = [e for ev in stream for e in case.send(ev)]
            results.append([r.model_dump() for r in (outcome([e]) for e in effects[-1:])])
        assert results[0] == results[1]


class TestAllowedLateness:
    @pytest.mark.parametrize("text", ["0s", "0", "0m"])
    def test_zero_is_accepted(self, text: str) -> None:
        assert engine(allowed_lateness=text)._lateness == timedelta(0)

    def test_negative_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="must not be negative"):
            engine(allowed_lateness=timedelta(seconds=-1))

    def test_with_zero_an_early_stop_expires_at_once(self) -> None:
        clock = {**RESOLUTION, "start": ["incident_new"]}
        case = Case(engine(clock, allowed_lateness="0s"))
        effects = case.send(incident("incident_resolved", 0))
        assert kinds(effects) == ["EventIgnored:orphan_expired"]


class TestSameInstant:
    STREAM = (("awaiting_user", "pause"), ("incident_active", "resume"))

    def _paused_at_end(self, rule: str | None, order: list[str]) -> bool:
        clock = {**RESOLUTION, "start": ["incident_new"], "resume": ["incident_active"]}
        case = Case(engine(clock, **({} if rule is None else {"same_instant": rule})))
        case.send(incident("incident_new", 0))
        for event_type in order:
            case.send(incident(event_type, 1))
        cycle = case.current.clocks["resolution"].running
        assert cycle is not None
        return cycle.is_paused()

    @pytest.mark.parametrize(
        "order", [["awaiting_user", "incident_active"], ["incident_active", "awaiting_user"]]
    )
    def test_default_rule_resume_first_stays_paused(self, order: list[str]) -> None:
        assert self._paused_at_end(None, order)
        assert self._paused_at_end("resume_first", order)

    def test_source_order_follows_arrival(self) -> None:
        assert not self._paused_at_end("source_order", ["awaiting_user", "incident_active"])
        assert self._paused_at_end("source_order", ["incident_active", "awaiting_user"])

    def test_source_order_survives_the_stored_state(self) -> None:
        clock = {**RESOLUTION, "start": ["incident_new"], "resume": ["incident_active"]}
        case = Case(engine(clock, same_instant="source_order"))
        case.send(incident("incident_new", 0))
        case.send(incident("awaiting_user", 1))
        case.state = CaseState.from_json(case.current.to_json())
        case.send(incident("incident_active", 1))
        running = case.current.clocks["resolution"].running
        assert running is not None
        assert [m.kind for m in running.marks] == ["pause", "resume"]
        assert not running.is_paused()

    def test_unknown_rule_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="same_instant"):
            engine(same_instant="alphabetical")

    def test_mark_key_is_the_documented_rule(self) -> None:
        pause, resume = Mark(at(1), "pause", "b"), Mark(at(1), "resume", "a")
        assert sorted([pause, resume], key=Mark.key) == [resume, pause]


class TestOpenCycles:
    def test_elapsed_and_paused_so_far_of_a_paused_cycle(self) -> None:
        """As of 4 h: 1 h counted, then paused for 3 h; the deadline waits (None)."""
        case = Case(engine())
        case.send(incident("incident_new", 0))
        case.send(incident("awaiting_user", 1))
        (row,) = case.engine.open_cycles(case.current, at(4))
        assert (row.outcome, row.deadline, row.breached) == ("open", None, False)
        assert (row.elapsed_seconds, row.paused_seconds) == (3600, 3 * 3600)
        assert row.outcome_id == "C-1/resolution/1/outcome"

    def test_breached_and_running(self) -> None:
        case = Case(engine())
        case.send(incident("incident_new", 0))
        case.tick(at(9))
        (row,) = case.engine.open_cycles(case.current, at(10))
        assert (row.breached, row.deadline, row.elapsed_seconds) == (True, at(8), 10 * 3600)

    def test_asking_changes_nothing(self) -> None:
        case = Case(engine())
        case.send(incident("incident_new", 0))
        before = case.current.to_json()
        case.engine.open_cycles(case.current, at(3))
        assert case.current.to_json() == before

    def test_an_ended_case_has_none(self) -> None:
        case = Case(engine())
        case.send(incident("incident_new", 0))
        case.send(incident("incident_resolved", 1))
        assert case.engine.open_cycles(case.current, at(2)) == []


def numbered(event_type: str, hours: float, sequence: int) -> Any:
    ev = incident(event_type, hours)
    return ev.model_copy(update={"sequence": sequence, "event_id": f"{event_type}#{sequence}"})


class TestSequence:
    """Live, events of one instant arriving out of their source sequence count in sequence."""

    def test_marks_of_one_instant_follow_the_sequence_whatever_the_arrival(self) -> None:
        for rule in ("resume_first", "source_order"):
            case = Case(engine(same_instant=rule))
            case.send(numbered("incident_new", 0, 1))
            case.send(numbered("incident_active", 1, 4))  # the resume arrives first
            case.send(numbered("awaiting_user", 1, 3))  # the pause it follows
            running = case.current.clocks["resolution"].running
            assert running is not None and not running.is_paused(), rule

    def test_the_sequence_is_kept_in_the_stored_state(self) -> None:
        case = Case(engine())
        case.send(numbered("incident_new", 0, 1))
        case.send(numbered("awaiting_user", 1, 3))
        case.state = CaseState.from_json(case.current.to_json())
        case.send(numbered("incident_active", 1, 4))
        running = case.current.clocks["resolution"].running
        assert running is not None
        assert [m.sequence for m in running.marks] == [3, 4]
        assert not running.is_paused()

    def test_a_stop_sequenced_before_the_start_of_its_instant_does_not_end_it(self) -> None:
        clock = {**RESOLUTION, "start": ["incident_new"]}
        case = Case(engine(clock))
        case.send(numbered("incident_resolved", 0, 1))  # waits for a start
        case.send(numbered("incident_new", 0, 2))
        assert case.current.clocks["resolution"].running is not None

    def test_a_stop_sequenced_after_the_start_ends_it(self) -> None:
        clock = {**RESOLUTION, "start": ["incident_new"]}
        case = Case(engine(clock))
        case.send(numbered("incident_resolved", 0, 3))
        effects = case.send(numbered("incident_new", 0, 2))
        assert kinds(effects) == ["ClockStarted", "ClockEnded:met"]

    def test_a_state_written_without_sequences_still_loads(self) -> None:
        case = Case(engine())
        case.send(incident("incident_new", 0))
        case.send(incident("awaiting_user", 1))
        stored = case.current.to_json()
        assert stored["clocks"]["resolution"]["running"]["marks"][0][3:] == []
        assert CaseState.from_json(stored).to_json() == stored

    @pytest.mark.parametrize("order", list(permutations(range(4))))
    def test_arrival_order_at_one_instant_does_not_matter(self, order: tuple[int, ...]) -> None:
        """Stop (1), start (2), pause (3), resume (4) in one minute, arriving in any order:
        in sequence order the stop came before the start, so the cycle runs, unpaused."""
        clock = {**RESOLUTION, "start": ["incident_new"], "resume": ["incident_active"]}
        stream = [
            numbered("incident_resolved", 1, 1),
            numbered("incident_new", 1, 2),
            numbered("awaiting_user", 1, 3),
            numbered("incident_active", 1, 4),
        ]
        case = Case(engine(clock))
        for i in order:
            case.send(stream[i], now=at(1))
        running = case.current.clocks["resolution"].running
        assert running is not None and not running.is_paused()
        assert (running.started_at, running.start_sequence) == (at(1), 2)
        stored = case.current.to_json()
        assert stored["clocks"]["resolution"]["running"]["start_sequence"] == 2
        assert CaseState.from_json(stored).to_json() == stored
        assert kinds(case.tick(at(1, 10))) == ["EventIgnored:orphan_expired"]  # the stop
