"""Metric label values come from the policy: a flood of event-fed values cannot grow /metrics."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from alerts.config import load_alerts
from sla.policy_file import load_policy
from streams import alerting
from streams.app import create_app
from streams.label_values import OTHER, LabelValues, bound_metrics
from streams.metrics import NONE, Metrics
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "config" / "policies.yaml")


def _series(registry: CollectorRegistry) -> int:
    return sum(len(m.samples) for m in registry.collect())


class TestLabelValues:
    def test_knows_policy_names(self) -> None:
        """Teams, clock event types and listed regions pass; others become other."""
        values = LabelValues.of(POLICY)
        assert ("cs-frontline", "complaint_registered", "cn-gd", OTHER, OTHER, NONE) == (
            values.value("team", "cs-frontline"),
            values.value("event_type", "complaint_registered"),
            values.value("region", "cn-gd"),
            values.value("team", "ana.li"),
            values.value("region", "cn-xx-13800138000"),
            values.value("region", None),
        )

    def test_filter_values_are_known(self, tmp_path: Path) -> None:
        """A region or team a filter matches on is a known value."""
        path = tmp_path / "p.yaml"
        path.write_text(
            'version: "1"\nclocks:\n  - id: c\n    case_kind: k\n    when: {region: [cn-sc]}\n'
            "    start: [{event: s, when: {team: night-desk}}]\n    stop: [t]\n    limit: 1h\n"
        )
        values = LabelValues.of(load_policy(path))
        assert ("cn-sc", "night-desk") == (
            values.value("region", "cn-sc"),
            values.value("team", "night-desk"),
        )


class TestFlood:
    def test_two_thousand_values_add_no_series(self) -> None:
        """2,000 unknown teams, regions and event types end in one 'other' series each."""
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        bound_metrics(metrics, LabelValues.of(POLICY))
        for i in range(2000):
            metrics.events_consumed.labels("cs.events", f"type-{i}").inc()
            metrics.clocks_started.labels("reply", f"team-{i}", f"region-{i}").inc()
            metrics.outcomes.labels(
                clock="reply", team=f"t{i}", region="cn-gd", outcome="met"
            ).inc()
        assert (2000.0, 2000.0, 2000.0, True) == (
            registry.get_sample_value(
                "slawatch_events_consumed_total", {"topic": "cs.events", "event_type": OTHER}
            ),
            registry.get_sample_value(
                "slawatch_clocks_started_total",
                {"clock": "reply", "team": OTHER, "region": OTHER},
            ),
            registry.get_sample_value(
                "slawatch_outcomes_total",
                {"clock": "reply", "team": OTHER, "region": "cn-gd", "outcome": "met"},
            ),
            _series(registry) < 100,
        )

    def test_the_worker_bounds_its_metrics(self, tmp_path: Path) -> None:
        """create_app wires the bound: the runtime's counters map unknown values to other."""
        settings = Settings.from_env({"SLAWATCH_DATADIR": str(tmp_path), "SLAWATCH_ALERTS": "off"})
        runtime = create_app(settings, policy=POLICY, mappings={})
        runtime.metrics.clocks_started.labels("reply", "someone", "somewhere").inc()
        registry = runtime.metrics.registry
        assert 1.0 == registry.get_sample_value(
            "slawatch_clocks_started_total", {"clock": "reply", "team": OTHER, "region": OTHER}
        )

    def test_the_alert_metrics_are_bounded_too(self, tmp_path: Path) -> None:
        """A breach's team, acknowledged, is a label of the time-to-ack histogram: bounded."""
        settings = Settings.from_env({"SLAWATCH_DATADIR": str(tmp_path)})
        metrics = Metrics(CollectorRegistry())
        spec = load_alerts(ROOT / "config" / "alerts.yaml")
        alerts = alerting.build(settings, POLICY, metrics, spec=spec, env={})
        assert alerts is not None
        for i in range(2000):
            alerts.service.metrics.ack_seconds.labels(clock="reply", team=f"t{i}").observe(1.0)
        assert (2000.0, True) == (
            metrics.registry.get_sample_value(
                "slawatch_alert_ack_seconds_count", {"clock": "reply", "team": OTHER}
            ),
            _series(metrics.registry) < 200,
        )
