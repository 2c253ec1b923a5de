"""Policy changes: what a worker restarted with a new policy file does to cycles already running.

Every test starts a cycle under one engine, stores the case as JSON (what the ``cases`` table
keeps across a restart) and goes on with an engine built from another policy file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sla.effects import Breached, BreachRetracted, ClockEnded, ClockStarted, Effect, EventIgnored
from sla.engine import CaseState, Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from sla.records import BreachRecord, OutcomeRecord
from tests.sla._clock_fakes import OfficeHours, at, event


def clock(**changes: Any) -> dict[str, Any]:
    """The ``reply`` clock: 4 h from registration to the answer, no warnings."""
    return {
        "id": "reply",
        "case_kind": "complaint",
        "start": ["registered"],
        "stop": ["answered"],
        "cancel": ["withdrawn"],
        "reset": ["reopened"],
        "limit": "4h",
        "warn_at": [],
        **changes,
    }


def engine(version: str, *clocks: dict[str, Any], reevaluate: bool = False) -> Engine:
    spec = PolicySpec.model_validate({"version": version, "clocks": list(clocks or [clock()])})
    return Engine(spec, {"office": OfficeHours()}, reevaluate=reevaluate)


def restarted(state: CaseState | None) -> CaseState:
    """The state as a restarted worker reads it back from the table."""
    assert state is not None
    return CaseState.from_json(state.to_json())


def started_under(old: Engine, ev: LifecycleEvent | None = None) -> CaseState:
    """A case whose ``reply`` cycle started at ``at(0)`` under ``old``, read back as on restart."""
    return restarted(old.apply(None, ev or event("registered", at(0)), at(0)).state)


def outcomes(effects: list[Effect]) -> list[OutcomeRecord]:
    return [e.record for e in effects if isinstance(e, ClockEnded)]


def breaches(effects: list[Effect]) -> list[BreachRecord]:
    return [e.record for e in effects if isinstance(e, Breached | BreachRetracted)]


def summary(records: list[OutcomeRecord]) -> list[tuple[str, str, str, datetime | None]]:
    """(clock, outcome, policy version, deadline) of each outcome."""
    return [(r.clock, r.outcome, r.policy_version, r.deadline) for r in records]


V1 = engine("v1")
#: v2 halves the limit of the same clock.
V2 = engine("v2", clock(limit="2h"))
V2_REEVALUATE = engine("v2", clock(limit="2h"), reevaluate=True)


class TestRunningCyclesKeepTheirTerms:
    """Without re-evaluation a cycle is judged by the version that started it."""

    def test_old_cycle_keeps_version_and_deadline(self) -> None:
        """A stop at 3 h is met: the cycle keeps v1's 4 h limit and records v1."""
        step = V2.apply(started_under(V1), event("answered", at(3)), at(3))
        assert [("reply", "met", "v1", at(4))] == summary(outcomes(step.effects))

    def test_old_cycle_breaches_at_its_own_deadline(self) -> None:
        """Nothing fires at v2's 2 h deadline; the breach comes at 4 h and records v1."""
        state = started_under(V1)
        quiet = V2.advance(state, at(2, 30))
        loud = V2.advance(state, at(4))
        assert ([], at(4)) == (quiet.effects, quiet.next_due)
        assert [("breach", "v1", at(4))] == [
            (b.type, b.policy_version, b.deadline) for b in breaches(loud.effects)
        ]

    def test_new_cycle_uses_the_new_version(self) -> None:
        """A case started after the change gets v2's 2 h limit and records v2."""
        step = V2.apply(None, event("registered", at(0), case_id="C-2"), at(0))
        (started,) = [e for e in step.effects if isinstance(e, ClockStarted)]
        assert ("v2", at(2)) == (started.ref.policy_version, started.deadline)

    def test_reopen_ends_the_old_cycle_and_starts_one_of_the_new_version(self) -> None:
        """The reset outcome records v1; the next cycle starts under v2."""
        step = V2.apply(started_under(V1), event("reopened", at(1)), at(1))
        (started,) = [e for e in step.effects if isinstance(e, ClockStarted)]
        assert [("reply", "reset", "v1", at(4))] == summary(outcomes(step.effects))
        assert (2, "v2", at(3)) == (
            started.ref.cycle,
            started.ref.policy_version,
            started.deadline,
        )

    def test_no_review_needed(self) -> None:
        """A cycle of an older version needs no review unless re-evaluation is asked for."""
        state = started_under(V1)
        assert (False, True) == (V2.needs_review(state), V2_REEVALUATE.needs_review(state))


class TestReevaluate:
    """``reevaluate=True``: running cycles of other versions take the current terms."""

    def test_running_cycle_adopts_the_new_terms(self) -> None:
        """At the first touch the cycle takes v2's limit and version; its breach records v2."""
        state = started_under(V1)
        first = V2_REEVALUATE.advance(state, at(1))
        assert first.state is not None
        later = V2_REEVALUATE.advance(first.state, at(2))
        cycle = first.state.clocks["reply"].running
        assert cycle is not None
        assert ("v2", "2h", at(2)) == (cycle.policy_version, cycle.terms.limit.text, first.next_due)
        assert [("breach", "v2", at(2))] == [
            (b.type, b.policy_version, b.deadline) for b in breaches(later.effects)
        ]

    def test_outcome_records_the_new_version(self) -> None:
        """A stop at 3 h is judged by v2's 2 h limit: breached, version v2."""
        step = V2_REEVALUATE.apply(started_under(V1), event("answered", at(3)), at(3))
        assert [("reply", "breached", "v2", at(2))] == summary(outcomes(step.effects))

    def test_passed_new_deadline_breaches_at_once(self) -> None:
        """Touched at 3 h, a cycle whose new deadline (2 h) has passed breaches then."""
        step = V2_REEVALUATE.advance(started_under(V1), at(3))
        assert [("breach", "v2", at(2), at(3))] == [
            (b.type, b.policy_version, b.deadline, b.emitted_at) for b in breaches(step.effects)
        ]

    def test_sent_breach_is_retracted_by_a_stop_before_the_longer_deadline(self) -> None:
        """v1 (2 h) breached; v2 allows 6 h; a stop at 3 h retracts the breach and is met."""
        old = engine("v1", clock(limit="2h"))
        breached = old.advance(started_under(old), at(2))
        assert ["breach"] == [b.type for b in breaches(breached.effects)]
        new = engine("v2", clock(limit="6h"), reevaluate=True)
        step = new.apply(restarted(breached.state), event("answered", at(3)), at(3))
        assert ["breach_retracted"] == [b.type for b in breaches(step.effects)]
        assert [("reply", "met", "v2", at(6))] == summary(outcomes(step.effects))

    def test_cycle_of_the_current_version_is_left_alone(self) -> None:
        """Re-evaluation only touches cycles started under another version."""
        state = started_under(V2)
        step = V2_REEVALUATE.advance(state, at(1))
        assert (False, [], at(2)) == (
            V2_REEVALUATE.needs_review(state),
            step.effects,
            step.next_due,
        )


class TestRemovedClock:
    """A clock no longer in the policy: its running cycles are cancelled at the next touch."""

    OTHER = clock(id="other", start=["escalated"], stop=["closed"])

    def test_cycle_is_cancelled_at_the_next_touch(self) -> None:
        """Its timer or next event ends it as cancelled, recording the version that started it."""
        new = engine("v2", self.OTHER)
        step = new.advance(started_under(V1), at(1))
        (record,) = outcomes(step.effects)
        assert ("reply", "cancelled", "v1", at(1)) == (
            record.clock,
            record.outcome,
            record.policy_version,
            record.ended_at,
        )
        assert step.state is not None and step.state.idle()

    def test_no_breach_is_sent_for_it(self) -> None:
        """Touched after its old deadline, it is cancelled without a breach."""
        step = engine("v2", self.OTHER).advance(started_under(V1), at(5))
        assert ([], ["cancelled"]) == (
            breaches(step.effects),
            [r.outcome for r in outcomes(step.effects)],
        )

    def test_sent_breach_stands(self) -> None:
        """A breach sent under v1 is not retracted when the clock goes away."""
        breached = V1.advance(started_under(V1), at(4))
        step = engine("v2", self.OTHER).advance(restarted(breached.state), at(5))
        assert [] == breaches(step.effects)

    def test_renamed_clock_is_a_removal_and_an_addition(self) -> None:
        """The old id's cycle is cancelled; the new id waits for its next start event."""
        new = engine("v2", clock(id="first_reply"))
        step = new.apply(started_under(V1), event("answered", at(1)), at(1))
        assert [("reply", "cancelled", "v1", at(4))] == summary(outcomes(step.effects))
        assert step.state is not None and "first_reply" not in step.state.clocks

    def test_unknown_event_on_such_a_case_asks_for_a_timer_at_once(self) -> None:
        """An event no clock knows still schedules the case now, so the review is not late."""
        state = started_under(V1)
        new = engine("v2", clock(id="other", case_kind="shipment"))
        step = new.apply(state, event("registered", at(1), event_id="again"), at(1))
        assert (["unknown_event_type"], at(1), True) == (
            [e.reason for e in step.effects if isinstance(e, EventIgnored)],
            step.next_due,
            new.needs_review(state),
        )


class TestRemovedCalendar:
    """A cycle whose calendar the new policy lacks cannot keep its terms."""

    def test_cycle_takes_the_new_terms(self) -> None:
        """Its working-time limit on 'office' becomes v2's elapsed limit, recording v2."""
        old = engine("v1", clock(limit="2 working hours", calendar="office"))
        state = started_under(old)
        spec = PolicySpec.model_validate({"version": "v2", "clocks": [clock(limit="3h")]})
        new = Engine(spec, {})
        step = new.apply(state, event("answered", at(2)), at(2))
        assert (True, [("reply", "met", "v2", at(3))]) == (
            new.needs_review(state),
            summary(outcomes(step.effects)),
        )


class TestStoredNeedsReview:
    """A restarted worker asks the stored JSON; the answer is the one the state gives."""

    def test_stored_answer_matches_the_state_in_every_case(self) -> None:
        """Older version, re-evaluation, removed clock, removed calendar: same answers."""
        office = engine("v1", clock(limit="2 working hours", calendar="office"))
        pairs = [
            (V2, started_under(V1)),
            (V2_REEVALUATE, started_under(V1)),
            (V2_REEVALUATE, started_under(V2)),
            (engine("v2", clock(id="other", case_kind="shipment")), started_under(V1)),
            (
                Engine(PolicySpec.model_validate({"version": "v2", "clocks": [clock()]}), {}),
                started_under(office),
            ),
        ]
        stored = [new.stored_needs_review(state.to_json()) for new, state in pairs]
        assert [new.needs_review(state) for new, state in pairs] == stored
        assert [False, True, False, True, True] == stored
