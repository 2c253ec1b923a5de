"""Engine steps share unchanged parts of a state with the next one (copy on write).

What must hold: no step changes a state it was given or any state before it, a step that
raises leaves the given state as it was, and sharing never changes what the engine decides
(the same steps on states rebuilt from JSON, which share nothing, give the same results).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.engine import CaseState, Engine, Step
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from tests.sla._clock_fakes import OfficeHours, at, event

#: Two clocks that one event type acts on: a pause on one, the start of the other.
POLICY: dict[str, Any] = {
    "version": "steps-1",
    "allowed_lateness": "10m",
    "clocks": [
        {
            "id": "handling",
            "case_kind": "complaint",
            "start": ["complaint_registered"],
            "stop": ["complaint_closed"],
            "pause": ["complaint_assigned", "waiting_customer"],
            "resume": ["customer_replied"],
            "reset": ["complaint_reopened"],
            "limit": "4h",
            "warn_at": [0.5, 0.8],
        },
        {
            "id": "department",
            "case_kind": "complaint",
            "start": ["complaint_assigned"],
            "stop": ["department_contacted", "complaint_closed"],
            "limit": "2 working hours",
            "calendar": "office",
            "warn_at": [0.5],
        },
    ],
}
POISON = at(3)


class PoisonedOffice(OfficeHours):
    """Office hours whose arithmetic fails from one instant: an event there cannot be applied."""

    def add(self, start: datetime, amount: timedelta) -> datetime:
        if start == POISON:
            raise ValueError("calendar broken at this instant")
        return super().add(start, amount)


def make_engine() -> Engine:
    return Engine(PolicySpec.model_validate(POLICY), {"office": PoisonedOffice()})


def snapshot(state: CaseState | None) -> str | None:
    return None if state is None else json.dumps(state.to_json(), sort_keys=True)


def test_failed_apply_leaves_the_state_as_it_was() -> None:
    """The event pauses one clock, then fails starting the other: the given state is unchanged
    and the case goes on exactly as if the event had never come."""
    engine = make_engine()
    state = engine.apply(None, event("complaint_registered", at(0)), at(0)).state
    state = engine.advance(state, at(2)).state  # a timer step: the 50 % warning
    assert state is not None
    before = snapshot(state)
    with pytest.raises(ValueError, match="calendar broken"):
        engine.apply(state, event("complaint_assigned", POISON), POISON)
    assert before == snapshot(state)
    closed = event("complaint_closed", at(3, 30))
    rebuilt = CaseState.from_json(json.loads(before or "{}"))
    assert engine.apply(rebuilt, closed, at(3, 30)) == engine.apply(state, closed, at(3, 30))


_TYPES = [
    "complaint_registered",
    "complaint_assigned",
    "waiting_customer",
    "customer_replied",
    "department_contacted",
    "complaint_closed",
    "complaint_reopened",
]
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.sampled_from(_TYPES), st.integers(0, 12 * 60)),
        st.tuples(st.just("tick"), st.just(""), st.integers(0, 12 * 60)),
    ),
    min_size=1,
    max_size=25,
)


def _run(steps: list[tuple[str, str, int]], rebuild: bool) -> list[tuple[Any, ...]]:
    """Drive one case; ``rebuild``: give every step a state rebuilt from JSON (no sharing)."""
    engine = make_engine()
    state: CaseState | None = None
    kept: list[tuple[CaseState, str | None]] = []
    results: list[tuple[Any, ...]] = []
    now = at(0)
    for number, (kind, event_type, minutes) in enumerate(steps):
        when = at(0, minutes)
        now = max(now, when)
        given = state
        if rebuild and given is not None:
            given = CaseState.from_json(json.loads(snapshot(given) or "{}"))
        step: Step
        if kind == "event":
            ev = event(event_type, when, event_id=f"e{number}")
            if when == POISON:
                continue
            step = engine.apply(given, ev, now)
        elif given is None:
            continue
        else:
            step = engine.advance(given, now)
        results.append((step.effects, step.next_due, snapshot(step.state)))
        state = step.state
        if state is not None:
            kept.append((state, snapshot(state)))
        for earlier, text in kept:
            assert text == snapshot(earlier), "a step changed a state it was given"
    return results


@settings(max_examples=150, deadline=None)
@given(_STEPS)
def test_sharing_changes_nothing(steps: list[tuple[str, str, int]]) -> None:
    """Steps on shared states decide exactly what steps on unshared copies decide, and no step
    changes an earlier state."""
    assert _run(steps, rebuild=True) == _run(steps, rebuild=False)


def test_events_of_the_fixture_are_canonical() -> None:
    """The helper's events are plain canonical events (guards the fixture itself)."""
    assert isinstance(event("complaint_registered", at(0)), LifecycleEvent)
