"""Prometheus recording and alerting rules, generated from the policy file.

The same file that drives the clocks decides the rules, so a new clock gets its attainment
series and its burn-rate alerts by regenerating (``slawatch rules``), not by hand.

Recording rules are named ``level:metric:operations`` (the labels kept, the metric, what was
done to it). Attainment over every window is ``increase()`` of the raw SLI counter,
``good / valid`` with ``valid = met + breached - retracted``, never an average of short
ratios: customer service has quiet nights, where a 5-minute ratio is 0/0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from generators.burnrate import BurnAlert, Mode, prometheus_duration
from generators.objectives import Objective, objectives
from generators.yaml_out import dump_documented
from sla.policy import PolicySpec

__all__ = [
    "ATTAINMENT_WINDOWS",
    "DEFAULT_RUNBOOK_BASE",
    "RuleOptions",
    "alerting_groups",
    "counted_increase",
    "pipeline_groups",
    "recording_groups",
    "render_alerts",
    "render_pipeline",
    "render_recording",
    "write_rules",
]

RESULTS = "slawatch_clock_results_total"
BREACHES = "slawatch_breaches_total"
FULL = "clock, team, region, standard"
#: Windows supervisors read attainment over.
ATTAINMENT_WINDOWS: tuple[timedelta, ...] = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=7),
    timedelta(days=30),
)
#: Long windows whose burn rate the drill-down dashboard plots.
BURN_WINDOWS: tuple[timedelta, ...] = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=3),
)
TARGET = "clock_standard:slawatch_clock_attainment:target"
#: Where runbook links point unless ``deploy/generate.yaml`` says otherwise: set it to where
#: your team reads these docs (your repository's page of docs/reference, a wiki).
DEFAULT_RUNBOOK_BASE = "https://slawatch.example.com/docs/reference"
RUNBOOK_PAGE = "observability.md"
RECORDING_FILE = "slawatch.rules.yaml"
ALERTS_FILE = "slawatch.alerts.yaml"
PIPELINE_FILE = "slawatch.pipeline.yaml"


@dataclass(frozen=True)
class RuleOptions:
    """Knobs of the generated rules; the defaults suit a mid-sized service centre.

    Attributes:
        min_volume: valid results a clock needs in the long window before a burn-rate alert
            may fire, so that one late case at 3 a.m. pages nobody.
        team_breach_threshold: breaches of one team in the last hour that open a ticket.
        stall_after: no event on a source topic for this long is a stall, unless the topic
            was as quiet at the same time a week before (nights, weekends).
        lag_threshold: consumer lag (messages) of one topic that opens a ticket.
        job: the Prometheus job scraping the workers.
        mode: ``adapt`` or ``refuse`` burn-rate alerts a target makes impossible.
        headroom: share of the largest possible burn an adapted alert asks for.
        interval: evaluation interval of the rule groups; None follows Prometheus's global
            ``evaluation_interval``.
        runbook_base_url: absolute URL of the docs' reference directory; each alert's
            ``runbook_url`` is ``<base>/observability.md#<alert>``.
    """

    min_volume: int = 10
    team_breach_threshold: int = 5
    stall_after: timedelta = timedelta(minutes=30)
    lag_threshold: int = 1000
    job: str = "slawatch"
    mode: Mode = "adapt"
    headroom: float = 0.9
    interval: str | None = None
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE

    def runbook(self, anchor: str) -> str:
        """The absolute runbook link of one alert.

        >>> RuleOptions(runbook_base_url="https://docs.example.org/ref/").runbook("x")
        'https://docs.example.org/ref/observability.md#x'
        """
        return f"{self.runbook_base_url.rstrip('/')}/{RUNBOOK_PAGE}#{anchor}"


def _w(window: timedelta) -> str:
    return prometheus_duration(window)


def _num(value: float) -> str:
    """A float for PromQL, short and stable (``0.72``, not ``0.7200000000000001``)."""
    return f"{value:.6g}"


def counted_increase(series: str, window: str) -> str:
    """PromQL for how much counter ``series`` grew in ``window``, new series included.

    ``increase()`` cannot see a series' first value: a label combination (a team, a region, a
    standard) whose first result arrives mid-window is born at 1, and increase() counts from
    there, so quiet combinations lose results. A series that did not exist one window ago
    started at 0 inside it, so its whole value counts instead.

    >>> counted_increase('x{a="b"}', "1h")
    '(increase(x{a="b"}[1h]) and x{a="b"} offset 1h) or x{a="b"}'
    """
    return f"(increase({series}[{window}]) and {series} offset {window}) or {series}"


def _sum_increase(matchers: str, window: str, by: str = FULL) -> str:
    """Results counted in ``window`` by ``by``, see :func:`counted_increase`."""
    return f"sum by ({by}) ({counted_increase(f'{RESULTS}{{{matchers}}}', window)})"


def _good(window: str) -> str:
    """Met results; zero (not absent) where only breaches exist yet."""
    met = _sum_increase('result="met"', window)
    judged = _sum_increase('result=~"met|breached"', window)
    return f"{met}\nor\n0 * {judged}"


def _valid(window: str) -> str:
    """Met plus breached minus retracted; retractions count zero until the first one."""
    judged = _sum_increase('result=~"met|breached"', window)
    retracted = _sum_increase('result="retracted"', window)
    return f"{judged}\n-\n(\n  {retracted}\n  or\n  0 * {judged}\n)"


def _record(name: str, expr: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": name, "expr": expr}
    if labels:
        rule["labels"] = labels
    return rule


def _windows(items: Iterable[Objective]) -> tuple[timedelta, ...]:
    """Windows the rules need: attainment, every burn-rate alert's, and the dashboards'."""
    needed = set(ATTAINMENT_WINDOWS) | set(BURN_WINDOWS)
    for objective in items:
        needed |= set(objective.plan.windows)
    return tuple(sorted(needed))


def _by_clock(items: Iterable[Objective]) -> dict[str, list[Objective]]:
    grouped: dict[str, list[Objective]] = {}
    for objective in items:
        grouped.setdefault(objective.clock, []).append(objective)
    return grouped


def _target_recording(items: Iterable[Objective]) -> list[dict[str, Any]]:
    """One constant series per objective: what the dashboards and budgets compare against."""
    return [
        _record(
            TARGET,
            f"vector({_num(o.target)})",
            {"clock": o.clock, "standard": o.standard, "team": o.team},
        )
        for o in items
    ]


def _sli_recording(windows: tuple[timedelta, ...]) -> list[dict[str, Any]]:
    """Good and valid results by every label, then attainment, error ratio, budget, burn."""
    rules: list[dict[str, Any]] = []
    base = "clock_team_region_standard:slawatch_clock_results"
    for window in windows:
        w = _w(window)
        rules.append(_record(f"{base}_good:increase{w}", _good(w)))
        rules.append(_record(f"{base}_valid:increase{w}", _valid(w)))
    for window in ATTAINMENT_WINDOWS:
        w = _w(window)
        by = "clock, team, region"
        rules.append(
            _record(
                f"clock_team_region:slawatch_clock_attainment:ratio{w}",
                f"clamp_max(\n  sum by ({by}) ({base}_good:increase{w})\n  /\n"
                f"  (sum by ({by}) ({base}_valid:increase{w}) > 0),\n  1\n)",
            )
        )
    for window in windows:
        w = _w(window)
        by = "clock, standard"
        rules.append(
            _record(
                f"clock_standard:slawatch_clock_results_valid:increase{w}",
                f"sum by ({by}) ({base}_valid:increase{w})",
            )
        )
        rules.append(
            _record(
                f"clock_standard:slawatch_clock_error:ratio{w}",
                f"clamp(\n  1 - sum by ({by}) ({base}_good:increase{w})\n  /\n"
                f"  (sum by ({by}) ({base}_valid:increase{w}) > 0),\n  0, 1\n)",
            )
        )
    rules.append(
        _record(
            "clock_standard:slawatch_clock_attainment:ratio30d",
            "1 - clock_standard:slawatch_clock_error:ratio30d",
        )
    )
    budget = f"on (clock, standard) (1 - {TARGET})"
    rules.append(
        _record(
            "clock_standard:slawatch_clock_error_budget:remaining30d",
            f"1 - clock_standard:slawatch_clock_error:ratio30d\n/ {budget}",
        )
    )
    for window in BURN_WINDOWS:
        w = _w(window)
        rules.append(
            _record(
                f"clock_standard:slawatch_clock_burn:rate{w}",
                f"clock_standard:slawatch_clock_error:ratio{w}\n/ {budget}",
            )
        )
    return rules


def _totals_recording() -> list[dict[str, Any]]:
    by = "clock, team, region"
    return [
        _record(
            "clock_team_region:slawatch_breaches:increase1h",
            f"sum by ({by}) ({counted_increase(BREACHES, '1h')})",
        ),
        _record(
            "clock_team_region:slawatch_breaches:increase1d",
            f"sum by ({by}) ({counted_increase(BREACHES, '1d')})",
        ),
        _record(
            "clock_team_region:slawatch_breaches:rate5m",
            f"sum by ({by}) ({counted_increase(BREACHES, '5m')}) / 300",
        ),
        _record(
            "team:slawatch_breaches:increase1h",
            f"sum by (team) ({counted_increase(BREACHES, '1h')})",
        ),
        _record("clock:slawatch_clocks_open:sum", "sum by (clock) (slawatch_clocks_open)"),
        _record(
            "clock:slawatch_clocks_near_breach:sum",
            "sum by (clock) (slawatch_clocks_near_breach)",
        ),
    ]


def _group(name: str, rules: list[dict[str, Any]], options: RuleOptions) -> dict[str, Any]:
    group: dict[str, Any] = {"name": name}
    if options.interval:
        group["interval"] = options.interval
    group["rules"] = rules
    return group


def recording_groups(spec: PolicySpec, options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """The recording rule groups: targets from the policy, the SLI, totals across clocks."""
    options = options or RuleOptions()
    found = objectives(spec, mode=options.mode, headroom=options.headroom)
    return [
        _group("slawatch-slo-targets", _target_recording(found), options),
        _group("slawatch-sli", _sli_recording(_windows(found)), options),
        _group("slawatch-sli-totals", _totals_recording(), options),
    ]


def _burn_alert(objective: Objective, alert: BurnAlert, options: RuleOptions) -> dict[str, Any]:
    sel = f'{{clock="{objective.clock}", standard="{objective.standard}"}}'
    long, short = _w(alert.long), _w(alert.short)
    threshold = _num(alert.error_threshold)
    expr = (
        f"(\n  clock_standard:slawatch_clock_error:ratio{long}{sel} > {threshold}\n"
        f"  and\n  clock_standard:slawatch_clock_error:ratio{short}{sel} > {threshold}\n)\n"
        f"and\nclock_standard:slawatch_clock_results_valid:increase{long}{sel}"
        f" >= {options.min_volume}"
    )
    annotations = {
        "summary": (
            f"{objective.clock} ({objective.standard}) burns its error budget "
            f"{_num(alert.factor)}x too fast"
        ),
        "description": (
            f"More than {alert.error_threshold:.3g} of {objective.clock} cycles under the "
            f"{objective.standard} standard breached over the last {long} and {short}; the "
            f"target {objective.target:.4g} allows {1 - objective.target:.3g}."
        ),
        "runbook_url": options.runbook("budget-burn"),
    }
    if alert.note:
        annotations["note"] = alert.note
    return {
        "alert": "SlawatchBudgetBurn",
        "expr": expr,
        "labels": {
            "severity": alert.severity,
            "category": "slo",
            "team": objective.team,
            "clock": objective.clock,
            "standard": objective.standard,
            "long_window": long,
            "short_window": short,
            "burn_factor": _num(alert.factor),
        },
        "annotations": annotations,
    }


def _team_alerts(options: RuleOptions) -> list[dict[str, Any]]:
    return [
        {
            "alert": "SlawatchTeamBreaches",
            "expr": f"team:slawatch_breaches:increase1h > {options.team_breach_threshold}",
            "labels": {"severity": "ticket", "category": "team"},
            "annotations": {
                "summary": "Team {{ $labels.team }} breached many time limits in the last hour",
                "description": (
                    f"More than {options.team_breach_threshold} breaches for team "
                    "{{ $labels.team }} in the last hour."
                ),
                "runbook_url": options.runbook("team-breaches"),
            },
        }
    ]


def _pipeline_alerts(options: RuleOptions) -> list[dict[str, Any]]:
    job = f'job="{options.job}"'
    stall = int(options.stall_after.total_seconds())
    w = _w(options.stall_after)

    def alert(
        name: str, expr: str, for_: str, severity: str, summary: str, text: str
    ) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": name, "expr": expr}
        if for_:
            rule["for"] = for_
        rule["labels"] = {"severity": severity, "category": "pipeline"}
        rule["annotations"] = {
            "summary": summary,
            "description": text,
            "runbook_url": options.runbook(name.lower()),
        }
        return rule

    return [
        alert(
            "SlawatchTopicStalled",
            f"time() - max by (topic) (slawatch_last_event_timestamp_seconds) > {stall}\n"
            f"unless on (topic)\n"
            f"sum by (topic) (increase(slawatch_events_consumed_total[{w}] offset 1w)) == 0",
            "5m",
            "page",
            "Topic {{ $labels.topic }} stopped delivering events",
            f"No event on {{{{ $labels.topic }}}} for more than {w}, although the topic had "
            "events at this time a week ago. Clocks cannot stop without events: breaches "
            "raised meanwhile may be false, so burn-rate alerts are inhibited.",
        ),
        alert(
            "SlawatchWorkerDown",
            f"up{{{job}}} == 0",
            "2m",
            "page",
            "slawatch worker {{ $labels.instance }} is down",
            "Prometheus cannot scrape the worker: no clock advances on its partitions.",
        ),
        alert(
            "SlawatchWorkerAbsent",
            f"absent(up{{{job}}})",
            "5m",
            "page",
            "No slawatch worker is being scraped",
            f"Prometheus has no target of job {options.job!r}: check service discovery.",
        ),
        alert(
            "SlawatchMetricAbsent",
            f"absent(slawatch_build_info{{{job}}})",
            "10m",
            "ticket",
            "slawatch metrics are missing",
            "The workers are scraped but slawatch_build_info is absent: the metrics endpoint "
            "serves something else, or the metric names changed.",
        ),
        alert(
            "SlawatchDeadLetters",
            f"sum by (topic, reason) ({counted_increase('slawatch_deadletters_total', '15m')}) > 0",
            "",
            "ticket",
            "Events from {{ $labels.topic }} go to the dead-letter topic ({{ $labels.reason }})",
            "Events in the last 15 minutes could not be read; see the sla.deadletter topic.",
        ),
        alert(
            "SlawatchConsumerLagHigh",
            f"sum by (topic) (slawatch_consumer_lag) > {options.lag_threshold}",
            "10m",
            "ticket",
            "The worker lags behind on {{ $labels.topic }}",
            f"More than {options.lag_threshold} messages behind for 10 minutes: warnings and "
            "breaches arrive late.",
        ),
    ]


def pipeline_groups(options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """The pipeline-health alerts: stalled topics, workers down or absent, dead letters, lag."""
    options = options or RuleOptions()
    return [_group("slawatch-pipeline", _pipeline_alerts(options), options)]


def alerting_groups(spec: PolicySpec, options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """The SLO alerting rule groups: burn rate per clock, then team breaches."""
    options = options or RuleOptions()
    grouped = _by_clock(objectives(spec, mode=options.mode, headroom=options.headroom))
    groups = [
        _group(f"slawatch-burn-{clock}", [_burn_alert(o, a, options) for o in items
                                           for a in o.plan.alerts], options)
        for clock, items in grouped.items()
    ]  # fmt: skip
    groups.append(_group("slawatch-teams", _team_alerts(options), options))
    return groups


def _clock_comments(spec: PolicySpec, options: RuleOptions) -> dict[str, list[str]]:
    """Per group name, what the reader must know: adapted or refused alerts, merged targets."""
    comments: dict[str, list[str]] = {}
    for objective in objectives(spec, mode=options.mode, headroom=options.headroom):
        lines = comments.setdefault(f"slawatch-burn-{objective.clock}", [])
        alerts = ", ".join(
            f"{a.severity} {_w(a.long)}/{_w(a.short)} {_num(a.factor)}x"
            for a in objective.plan.alerts
        )
        lines.append(
            f"{objective.clock} {objective.standard}: target {objective.target:g}; {alerts}"
        )
        lines.extend(f"  {note}" for note in (*objective.notes, *objective.plan.notes))
    return comments


def _header(spec: PolicySpec, what: str, *about: str) -> list[str]:
    """The comment a rule file starts with: what it is, where it comes from, then ``about``."""
    return [
        f"{what} for slawatch, generated from policy version {spec.version}.",
        "DO NOT EDIT: change the policy file and run `slawatch rules`; a test compares this",
        "file with a fresh generation.",
        "",
        *about,
    ]


def render_recording(spec: PolicySpec, options: RuleOptions | None = None) -> str:
    """The recording rule file as YAML text."""
    header = _header(
        spec,
        "Recording rules",
        "Attainment = good / valid over increase() of slawatch_clock_results_total, where",
        "good = met and valid = met + breached - retracted; a window with no valid result has",
        "no sample (not NaN). Names: level:metric:operations.",
    )
    options = options or RuleOptions()
    notes = [line for lines in _clock_comments(spec, options).values() for line in lines]
    return dump_documented(header, recording_groups(spec, options), {"slawatch-slo-targets": notes})


def render_alerts(spec: PolicySpec, options: RuleOptions | None = None) -> str:
    """The alerting rule file as YAML text, with the burn-rate plan of each clock in comments."""
    options = options or RuleOptions()
    header = _header(
        spec,
        "Alerting rules",
        "Multi-window, multi-burn-rate alerts (SRE workbook): page when 2 % of the 30-day",
        "budget burns in 1h (14.4x) or 5 % in 6h (6x), ticket when 10 % burns in 1d (3x) or 3d",
        "(1x). A burn above 1/(1-target) is impossible (10x at a 90 % target), so such alerts",
        (
            f"are adapted to {options.headroom:.0%} of the largest burn, as noted per clock."
            if options.mode == "adapt"
            else "are refused (left out), as noted per clock."
        ),
        f"Every burn-rate alert needs {options.min_volume} valid results in its long window.",
    )
    return dump_documented(header, alerting_groups(spec, options), _clock_comments(spec, options))


def render_pipeline(spec: PolicySpec, options: RuleOptions | None = None) -> str:
    """The pipeline-health alert file as YAML text."""
    options = options or RuleOptions()
    header = _header(
        spec,
        "Pipeline-health alerts",
        "Alerts of the platform team (label category=pipeline). While a topic is stalled or a",
        "worker is down, Alertmanager inhibits the SLO alerts: clocks that cannot see their",
        "stop events breach falsely.",
    )
    return dump_documented(header, pipeline_groups(options), {})


def write_rules(spec: PolicySpec, out: Path, options: RuleOptions | None = None) -> list[Path]:
    """Write the rule files into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        (RECORDING_FILE, render_recording(spec, options)),
        (ALERTS_FILE, render_alerts(spec, options)),
        (PIPELINE_FILE, render_pipeline(spec, options)),
    ):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
