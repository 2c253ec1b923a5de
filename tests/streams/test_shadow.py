"""Shadow policies: the candidate's outcomes and metrics, labelled with its version, no alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from sla.effects import ClockEnded, Effect
from sla.engine import Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from streams.shadow import ShadowMetrics, outcomes_of

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def spec(limit: str) -> PolicySpec:
    return PolicySpec.model_validate(
        {
            "version": f"candidate-{limit}",
            "clocks": [
                {
                    "id": "first_response",
                    "case_kind": "complaint",
                    "start": ["registered"],
                    "stop": ["answered"],
                    "limit": limit,
                }
            ],
        }
    )


def run(policy: PolicySpec) -> list[Effect]:
    engine = Engine(policy, {})
    effects: list[Effect] = []
    state = None
    for kind, at in (("registered", T0), ("answered", T0 + timedelta(hours=3))):
        event = LifecycleEvent(
            event_id=f"e-{kind}",
            case_id="C-1",
            case_kind="complaint",
            event_type=kind,
            occurred_at=at,
            attributes={"team": "north"},
        )
        step = engine.apply(state, event, at)
        state = step.state
        effects += step.effects
    return effects


class TestShadowMetrics:
    def test_results_are_labelled_with_the_candidate_version(self) -> None:
        """A candidate that breaches counts breached under its own policy_version label."""
        registry = CollectorRegistry()
        metrics = ShadowMetrics(registry, "candidate-2h")
        metrics.count(run(spec("2h")))
        labels = {
            "clock": "first_response",
            "team": "north",
            "region": "none",
            "standard": "basic",
            "policy_version": "candidate-2h",
        }
        assert (1.0, None) == (
            registry.get_sample_value(
                "slawatch_shadow_clock_results_total", {**labels, "result": "breached"}
            ),
            registry.get_sample_value(
                "slawatch_shadow_clock_results_total", {**labels, "result": "met"}
            ),
        )

    def test_outcomes_are_counted_by_outcome(self) -> None:
        """A candidate that is met counts one met outcome."""
        registry = CollectorRegistry()
        metrics = ShadowMetrics(registry, "candidate-4h")
        metrics.count(run(spec("4h")))
        value = registry.get_sample_value(
            "slawatch_shadow_outcomes_total",
            {
                "clock": "first_response",
                "team": "north",
                "region": "none",
                "outcome": "met",
                "policy_version": "candidate-4h",
            },
        )
        assert 1.0 == value


class TestOutcomesOf:
    def test_only_outcomes_are_sent(self) -> None:
        """Of all effects (start, breach, end) only the outcome record leaves the shadow."""
        effects = run(spec("2h"))
        records = outcomes_of(effects)
        assert (["breached"], 1) == (
            [r.outcome for r in records],
            sum(1 for e in effects if isinstance(e, ClockEnded)),
        )
