"""Prometheus rules generated from a small policy: names, windows, guards and the 90 % trap."""

# The project writes `assert expected == actual`, which ruff's SIM300 calls a Yoda condition.

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from generators.objectives import load_spec, objectives
from generators.rules import RuleOptions, render_alerts, render_pipeline, render_recording
from sla.policy import PolicySpec
from tests.generators._policies import small_policy

NAME = re.compile(r"^[a-z_]+:[a-z_]+:[a-z0-9_]+$")


@pytest.fixture
def spec(tmp_path: Path) -> PolicySpec:
    return load_spec(small_policy(tmp_path))


def rules_of(text: str) -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]


def burn_alerts(text: str, clock: str, standard: str) -> list[dict[str, Any]]:
    return [
        r
        for r in rules_of(text)
        if r["labels"].get("clock") == clock and r["labels"].get("standard") == standard
    ]


class TestObjectives:
    def test_one_per_clock_and_reachable_standard(self, spec: PolicySpec) -> None:
        """A special-period override adds a special objective at the special target."""
        assert [("first_reply", "basic", 0.95), ("first_reply", "special", 0.90),
                ("pickup", "basic", 0.95)] == [
            (o.clock, o.standard, o.target) for o in objectives(spec)
        ]  # fmt: skip


class TestRecordingRules:
    def test_names_follow_level_metric_operations(self, spec: PolicySpec) -> None:
        """Every recorded name is level:metric:operations."""
        names = {r["record"] for r in rules_of(render_recording(spec))}
        assert set() == {n for n in names if not NAME.match(n)}

    def test_attainment_windows(self, spec: PolicySpec) -> None:
        """Attainment per clock, team and region is recorded over 1h, 1d, 7d and 30d."""
        names = {r["record"] for r in rules_of(render_recording(spec))}
        assert {f"clock_team_region:slawatch_clock_attainment:ratio{w}"
                for w in ("1h", "1d", "7d", "30d")} <= names  # fmt: skip

    def test_long_windows_use_increase_of_raw_counters(self, spec: PolicySpec) -> None:
        """30-day attainment reads increase() of the counter, never an average of ratios."""
        rules = {r["record"]: r["expr"] for r in rules_of(render_recording(spec))}
        good = rules["clock_team_region_standard:slawatch_clock_results_good:increase30d"]
        assert "increase(slawatch_clock_results_total{" in good
        assert "avg_over_time" not in "".join(rules.values())

    def test_empty_windows_are_dropped_not_nan(self, spec: PolicySpec) -> None:
        """Ratios divide by valid results only where there are some (`> 0`)."""
        rules = {r["record"]: r["expr"] for r in rules_of(render_recording(spec))}
        assert "> 0)" in rules["clock_team_region:slawatch_clock_attainment:ratio1h"]

    def test_targets_from_policy(self, spec: PolicySpec) -> None:
        """Each objective's target is a constant series labelled with clock, standard, team."""
        targets = [
            (r["labels"], r["expr"])
            for r in rules_of(render_recording(spec))
            if r["record"] == "clock_standard:slawatch_clock_attainment:target"
        ]
        assert ({"clock": "first_reply", "standard": "special", "team": "desk"},
                "vector(0.9)") in targets  # fmt: skip


class TestBurnRateAlerts:
    def test_workbook_windows_at_basic_standard(self, spec: PolicySpec) -> None:
        """The basic standard gets the workbook's two pages and two tickets."""
        alerts = burn_alerts(render_alerts(spec), "first_reply", "basic")
        assert [("page", "1h", "5m", "14.4"), ("page", "6h", "30m", "6"),
                ("ticket", "1d", "2h", "3"), ("ticket", "3d", "6h", "1")] == [
            (a["labels"]["severity"], a["labels"]["long_window"], a["labels"]["short_window"],
             a["labels"]["burn_factor"]) for a in alerts
        ]  # fmt: skip

    def test_special_standard_adapted_and_said(self, spec: PolicySpec) -> None:
        """At 90 % the fast page is adapted to 9x; the alert and the file's comment say why."""
        text = render_alerts(spec)
        fast = burn_alerts(text, "first_reply", "special")[0]
        assert "9" == fast["labels"]["burn_factor"]
        assert "> 0.9\n" in fast["expr"]
        assert "cannot exceed 10x" in fast["annotations"]["note"]
        assert "#   page 1h/5m: a 14.4x burn" in text

    def test_refuse_mode_drops_the_fast_page(self, spec: PolicySpec) -> None:
        """In refuse mode the special standard has no 1h page, and the comment says refused."""
        text = render_alerts(spec, RuleOptions(mode="refuse"))
        windows = [a["labels"]["long_window"] for a in burn_alerts(text, "first_reply", "special")]
        assert ["6h", "1d", "3d"] == windows
        assert "refused" in text

    def test_minimum_volume_guard(self, spec: PolicySpec) -> None:
        """Every burn-rate alert requires the configured volume in its long window."""
        text = render_alerts(spec, RuleOptions(min_volume=25))
        alerts = [a for a in rules_of(text) if a["alert"] == "SlawatchBudgetBurn"]
        assert len(alerts) == sum(
            "slawatch_clock_results_valid:increase" in a["expr"] and a["expr"].endswith(">= 25")
            for a in alerts
        )

    def test_team_breach_threshold(self, spec: PolicySpec) -> None:
        """The team-breaches alert uses the configured threshold."""
        text = render_alerts(spec, RuleOptions(team_breach_threshold=8))
        team = next(a for a in rules_of(text) if a["alert"] == "SlawatchTeamBreaches")
        assert "team:slawatch_breaches:increase1h > 8" == team["expr"]


class TestPipelineAlerts:
    def test_every_kind_present(self, spec: PolicySpec) -> None:
        """Stalled topic, worker down, no worker, absent metric, dead letters, lag."""
        names = [r["alert"] for r in rules_of(render_pipeline(spec))]
        expected = [
            "SlawatchTopicStalled",
            "SlawatchWorkerDown",
            "SlawatchWorkerAbsent",
            "SlawatchMetricAbsent",
            "SlawatchDeadLetters",
            "SlawatchConsumerLagHigh",
        ]
        assert expected == names

    def test_runbook_links_are_absolute_under_the_base(self, spec: PolicySpec) -> None:
        """Every alert's runbook_url is an absolute link under the configured base URL."""
        options = RuleOptions(runbook_base_url="https://wiki.example.org/slawatch/ref")
        urls = [
            r["annotations"]["runbook_url"]
            for text in (render_alerts(spec, options), render_pipeline(spec, options))
            for r in rules_of(text)
        ]
        assert urls
        assert [] == [
            u
            for u in urls
            if not u.startswith("https://wiki.example.org/slawatch/ref/observability.md#")
        ]

    def test_job_option(self, spec: PolicySpec) -> None:
        """The worker job name is configurable."""
        text = render_pipeline(spec, RuleOptions(job="sla-workers"))
        assert 'up{job="sla-workers"} == 0' in text
