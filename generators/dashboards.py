"""Grafana dashboards for supervisors, generated from the policy file.

Three dashboards: **overview** (attainment against target per clock, error budget left,
breaches today, open clocks and clocks near breach, dead letters, worker health and lag),
**teams** (breaches by team and region, alert delivery and escalations) and **clock
drill-down** (time to stop, burn rate, warnings against breaches).

Thresholds come from the policy: every attainment series has its objective's target as its
threshold (a per-series override, since targets differ by clock and standard), so a clock
added to the policy is coloured against its own target after ``slawatch dashboards``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.grafana import (
    Layout,
    Step,
    Target,
    dashboard,
    panel,
    query_variable,
    series_thresholds,
    thresholds,
)
from generators.objectives import Objective, objectives
from generators.rules import RuleOptions, counted_increase
from sla.calendar import WorkingCalendar
from sla.policy import ClockPolicy, PolicySpec

__all__ = [
    "DashboardOptions",
    "build_dashboards",
    "limit_seconds",
    "panel_queries",
    "write_dashboards",
]

FILTER = 'clock=~"$clock", team=~"$team", region=~"$region"'
BASE = "clock_team_region_standard:slawatch_clock_results"
PERCENT = "percentunit"
TARGET = "clock_standard:slawatch_clock_attainment:target"


@dataclass(frozen=True)
class DashboardOptions:
    """Knobs of the generated dashboards.

    Attributes:
        rules: the rule generator's options. The dashboards draw the same job, team-breaches
            threshold, lag threshold and stall time as the alerts (one source:
            ``deploy/generate.yaml``).
    """

    rules: RuleOptions = field(default_factory=RuleOptions)

    @property
    def stall_seconds(self) -> int:
        """Seconds without events at which the topic-stalled alert starts."""
        return int(self.rules.stall_after.total_seconds())


def limit_seconds(clock: ClockPolicy, spec: PolicySpec) -> float | None:
    """The clock's base limit in counted seconds, or None for deadlines read from events."""
    limit = clock.limit
    if limit.kind == "until":
        return None
    if limit.duration is not None:
        return limit.duration.total_seconds()
    if limit.working_days is not None and clock.calendar in spec.calendars:
        calendar = WorkingCalendar(spec.calendars[clock.calendar], clock.calendar)
        return calendar.working_days(limit.working_days).total_seconds()
    return None


def _series(o: Objective) -> str:
    return f"{o.clock} · {o.standard}"


def _target_steps(target: float) -> tuple[Step, ...]:
    """Red below the target, green at or above it."""
    return ((None, "red"), (target, "green"))


def _target_overrides(found: list[Objective]) -> list[dict[str, Any]]:
    return [series_thresholds(_series(o), *_target_steps(o.target)) for o in found]


def _attainment(window: str, by: str = "clock, standard") -> str:
    good = f"sum by ({by}) ({BASE}_good:increase{window}{{{FILTER}}})"
    valid = f"sum by ({by}) ({BASE}_valid:increase{window}{{{FILTER}}})"
    return f"{good}\n/\n({valid} > 0)"


def _grew(series: str, window: str, by: str) -> str:
    """How much a counter grew in ``window``, new label combinations included."""
    return f"sum by ({by}) ({counted_increase(series, window)})"


def _percentiles(
    bucket: str, by: str, quantiles: tuple[float, ...] = (0.5, 0.9), over: str = "rate"
) -> list[Target]:
    """One series per quantile and ``by`` value of a histogram over the last hour."""
    return [
        Target(
            f"histogram_quantile({q}, sum by (le, {by}) ({over}({bucket}[1h])))",
            f"{{{{{by}}}}} p{int(q * 100)}",
        )
        for q in quantiles
    ]


def _last_value(**display: str) -> dict[str, Any]:
    """Panel options that show each series' last value, displayed as ``display`` says."""
    return {"reduceOptions": {"calcs": ["lastNotNull"]}, **display}


def _variables() -> list[dict[str, Any]]:
    return [
        query_variable("clock", "Clock", f"label_values({TARGET}, clock)"),
        query_variable("team", "Team", "label_values(slawatch_clocks_started_total, team)"),
        query_variable("region", "Region", "label_values(slawatch_clocks_started_total, region)"),
    ]  # fmt: skip


def _links() -> list[dict[str, Any]]:
    return [
        {"type": "dashboards", "tags": ["slawatch"], "asDropdown": False, "includeVars": True,
         "keepTime": True, "title": "slawatch"}
    ]  # fmt: skip


def _overview(
    spec: PolicySpec, found: list[Objective], options: DashboardOptions
) -> dict[str, Any]:
    basic = spec.targets["basic"]
    layout = Layout()
    layout.row("Service level against target")
    layout.add(
        panel(
            "stat", "Attainment against target (30 days)",
            "Share of clock cycles that stopped before their deadline over 30 days, per clock "
            "and standard (basic, special period, expedited): met / (met + breached - "
            "retracted). Red below the objective's target from the policy file, green at or "
            "above it.",
            [Target(_attainment("30d"), "{{clock}} · {{standard}}", instant=True)],
            unit=PERCENT, steps=_target_steps(basic), overrides=_target_overrides(found),
            minimum=0, maximum=1, decimals=1,
            options=_last_value(colorMode="background", textMode="value_and_name",
                                orientation="horizontal"),
        ),
        14, 10,
    )  # fmt: skip
    layout.add(
        panel(
            "bargauge", "Error budget left (30 days)",
            "How much of the breaches the target allows over 30 days is still unspent: 100 % "
            "means no breach, 0 % means attainment is exactly at the target, below 0 the "
            "target is missed. Team and region filters do not apply (budgets are per clock).",
            [Target('clock_standard:slawatch_clock_error_budget:remaining30d{clock=~"$clock"}',
                    "{{clock}} · {{standard}}", instant=True)],
            unit=PERCENT, steps=((None, "red"), (0, "orange"), (0.25, "green")),
            minimum=-1, maximum=1, decimals=0,
            options=_last_value(displayMode="gradient", orientation="horizontal"),
        ),
        10, 10,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Attainment over the last day",
            "Attainment over a sliding 24 hours per clock and standard, with the target as a "
            "threshold line. Gaps are hours without any result (quiet nights), not zero.",
            [Target(_attainment("1d"), "{{clock}} · {{standard}}")],
            unit=PERCENT, steps=_target_steps(basic), overrides=_target_overrides(found),
            minimum=0, maximum=1,
        ),
        24, 9,
    )  # fmt: skip
    layout.row("Today")
    layout.add(
        panel(
            "stat", "Breaches today",
            "Deadlines that passed with the clock still running since midnight, per clock "
            "(a breach later retracted by a late stop still counts here).",
            [Target(_grew(f"slawatch_breaches_total{{{FILTER}}}", "$__range", "clock"),
                    "{{clock}}", instant=True)],
            unit="short", steps=((None, "green"), (1, "orange"), (10, "red")), decimals=0,
            time_from="now/d",
            options=_last_value(colorMode="value", textMode="value_and_name"),
        ),
        8, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "stat", "Open clocks",
            "Clock cycles running now (started, not yet stopped, cancelled or reset), per "
            "clock, across all workers.",
            [Target('clock:slawatch_clocks_open:sum{clock=~"$clock"}', "{{clock}}", instant=True)],
            unit="short", steps=((None, "blue"),), decimals=0,
            options=_last_value(colorMode="value", textMode="value_and_name"),
        ),
        8, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "stat", "Clocks near breach",
            "Running clocks past their last warning threshold: the cases to chase now.",
            [Target('clock:slawatch_clocks_near_breach:sum{clock=~"$clock"}', "{{clock}}",
                    instant=True)],
            unit="short", steps=((None, "green"), (1, "orange")), decimals=0,
            options=_last_value(colorMode="background", textMode="value_and_name"),
        ),
        8, 8,
    )  # fmt: skip
    layout.row("Pipeline health")
    job = f'job="{options.rules.job}"'
    layout.add(
        panel(
            "stat", "Workers up",
            "Whether Prometheus can scrape each worker. A worker down leaves its partitions' "
            "clocks unjudged until another worker takes them over.",
            [Target(f"up{{{job}}}", "{{instance}}", instant=True)],
            unit="none", steps=((None, "red"), (1, "green")), decimals=0,
            mappings=[{"type": "value", "options": {"0": {"text": "down"}, "1": {"text": "up"}}}],
            options=_last_value(colorMode="background", textMode="value_and_name"),
        ),
        6, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "stat", "Dead letters (1 hour)",
            "Source messages that could not be read or mapped in the last hour, by topic and "
            "reason; they are on the sla.deadletter topic with their original bytes.",
            [Target(_grew("slawatch_deadletters_total", "1h", "topic, reason"),
                    "{{topic}} · {{reason}}", instant=True)],
            unit="short", steps=((None, "green"), (1, "red")), decimals=0,
            options=_last_value(colorMode="background", textMode="value_and_name"),
        ),
        6, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Consumer lag",
            "Messages the workers have not read yet, per topic. Warnings and breaches are as "
            "late as the lag; the red line is the lag alert's threshold.",
            [Target("sum by (topic) (slawatch_consumer_lag)", "{{topic}}")],
            unit="short", steps=((None, "green"), (options.rules.lag_threshold, "red")), minimum=0,
        ),
        6, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Time since last event",
            "Seconds since each source topic delivered a message. The red line is where the "
            "topic-stalled alert starts (unless the topic was as quiet a week ago).",
            [Target("time() - max by (topic) (slawatch_last_event_timestamp_seconds)",
                    "{{topic}}")],
            unit="s", steps=((None, "green"), (options.stall_seconds, "red")), minimum=0,
        ),
        6, 8,
    )  # fmt: skip
    _worker_health(layout, job)
    return dashboard(
        "slawatch-overview", "slawatch · Overview",
        "Attainment against target, budgets, today's breaches and pipeline health.",
        layout, _variables(), _links(),
    )  # fmt: skip


def _worker_health(layout: Layout, job: str) -> None:
    """CPU, memory and GC of each worker process, and Faust's rebalances, commits and sends."""
    layout.row("Worker health")
    layout.add(
        panel(
            "timeseries", "CPU and memory per worker",
            "CPU seconds per second (1 = one core busy) and resident memory of each worker "
            "process. A worker near one core falls behind: add workers (up to the partitions).",
            [Target(f"rate(process_cpu_seconds_total{{{job}}}[5m])", "{{instance}} cpu"),
             Target(f"process_resident_memory_bytes{{{job}}} / 2^30", "{{instance}} GiB")],
            unit="short", steps=((None, "green"), (0.9, "red")), minimum=0,
        ),
        6, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Rebalances and their duration",
            "Consumer-group rebalances per hour and the 90th percentile of how long one took "
            "(table recovery included). Clocks are not judged while a rebalance runs.",
            [Target(f"sum by (instance) (increase(slawatch_faust_rebalances_total{{{job}}}[1h]))",
                    "{{instance}} per hour"),
             Target("histogram_quantile(0.9, sum by (le, instance) (rate("
                    f"slawatch_faust_rebalance_seconds_bucket{{{job}}}[1h])))",
                    "{{instance}} p90 s")],
            unit="short", steps=((None, "green"), (3, "orange")), minimum=0,
        ),
        6, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Offset commit latency",
            "90th percentile of how long an offset commit took. Slow commits mean a slow "
            "broker: more events are read again after a restart.",
            [Target("histogram_quantile(0.9, sum by (le, instance) (rate("
                    f"slawatch_faust_commit_seconds_bucket{{{job}}}[5m])))", "{{instance}}")],
            unit="s", steps=((None, "green"), (1, "orange"), (5, "red")), minimum=0,
        ),
        6, 8,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Send errors and garbage collection",
            "Producer sends that failed per topic (warnings, breaches and outcomes may be "
            "late or, after the retries, lost: look at the worker's log) and Python "
            "garbage-collection passes per second.",
            [Target(f"sum by (topic) (increase(slawatch_faust_send_errors_total{{{job}}}[5m]))",
                    "{{topic}} send errors"),
             Target(f"sum by (instance) (rate(python_gc_collections_total{{{job}}}[5m]))",
                    "{{instance}} GC/s")],
            unit="short", steps=((None, "green"), (1, "red")), minimum=0,
        ),
        6, 8,
    )  # fmt: skip


#: The Infinity (JSON) data source provisioned with the workers' URL as its base.
WORKLIST_DATASOURCE = {"type": "yesoreyeram-infinity-datasource", "uid": "slawatch-worklist"}
_WORKLIST_COLUMNS = (
    ("bucket", "Due"), ("case_id", "Case"), ("clock_name", "Clock"), ("owner", "Owner"),
    ("team", "Team"), ("deadline", "Deadline"), ("seconds_left", "Seconds left"),
    ("level", "Level"),
)  # fmt: skip


def _worklist_panel() -> dict[str, Any]:
    """The teams' worklist from any worker's ``/worklist`` (JSON), soonest deadline first."""
    out = panel(
        "table", "Cases to chase (worklist)",
        "The open clocks of the selected teams, soonest deadline first: overdue, due within "
        "the hour, within four hours, later today. From the workers' /worklist (the worker "
        "asked gathers the others); ids and times only. Red: overdue; orange: under an hour.",
        [], unit="none", steps=((None, "green"),),
        overrides=[{"matcher": {"id": "byName", "options": "Seconds left"},
                    "properties": [{"id": "unit", "value": "s"},
                                   {"id": "custom.cellOptions",
                                    "value": {"type": "color-background"}},
                                   {"id": "thresholds", "value": thresholds(
                                       (None, "red"), (0, "orange"), (3600, "green"))}]}],
        options={"showHeader": True, "cellHeight": "sm"},
    )  # fmt: skip
    out["datasource"] = WORKLIST_DATASOURCE
    out["targets"] = [
        {
            "refId": "A",
            "datasource": WORKLIST_DATASOURCE,
            "type": "json",
            "source": "url",
            "parser": "backend",
            "format": "table",
            "url": "/worklist?team=${team:csv}",
            "url_options": {"method": "GET"},
            "root_selector": "items",
            "columns": [
                {"selector": key, "text": text, "type": "number" if key == "seconds_left"
                 else "timestamp" if key == "deadline" else "string"}
                for key, text in _WORKLIST_COLUMNS
            ],
        }
    ]  # fmt: skip
    return out


def _teams(spec: PolicySpec, options: DashboardOptions) -> dict[str, Any]:
    basic = spec.targets["basic"]
    layout = Layout()
    layout.row("Breaches by team and region")
    layout.add(
        panel(
            "bargauge", "Breaches by team",
            "Breaches in the selected time range, per team. Orange from the per-hour "
            "threshold of the team-breaches alert.",
            [Target(_grew(f"slawatch_breaches_total{{{FILTER}}}", "$__range", "team"),
                    "{{team}}", instant=True)],
            unit="short", steps=((None, "green"), (options.rules.team_breach_threshold, "orange")),
            decimals=0, minimum=0,
            options=_last_value(displayMode="gradient", orientation="horizontal"),
        ),
        12, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "table", "Breaches by team and region",
            "Breaches in the selected time range per team and region, for the weekly "
            "complaint summary and the monthly supervision report.",
            [Target(_grew(f"slawatch_breaches_total{{{FILTER}}}", "$__range", "team, region"),
                    instant=True, table=True)],
            unit="short", steps=((None, "green"), (1, "orange")), decimals=0,
            options={"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]},
        ),
        12, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Breaches per hour by team",
            "Breaches in each sliding hour per team; the red line is the team-breaches alert.",
            [Target('sum by (team) (clock_team_region:slawatch_breaches:increase1h'
                    '{clock=~"$clock", team=~"$team", region=~"$region"})', "{{team}}")],
            unit="short", steps=((None, "green"), (options.rules.team_breach_threshold, "red")),
            minimum=0,
        ),
        12, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "bargauge", "Attainment by team and region (1 day)",
            "Attainment over the last 24 hours per team and region, all clocks together. Red "
            "below the basic standard's target.",
            [Target(_attainment("1d", "team, region"), "{{team}} · {{region}}", instant=True)],
            unit=PERCENT, steps=_target_steps(basic), minimum=0, maximum=1, decimals=1,
            options=_last_value(displayMode="gradient", orientation="horizontal"),
        ),
        12, 9,
    )  # fmt: skip
    layout.row("Cases to chase")
    layout.add(_worklist_panel(), 24, 10)
    layout.row("Acknowledgement and escalation")
    layout.add(
        panel(
            "timeseries", "Time to acknowledge",
            "How long breaches waited for their first acknowledgement (the ack link in every "
            "alert), median and 90th percentile per team. Red from 30 minutes, when the usual "
            "ladder reaches the supervisor.",
            _percentiles('slawatch_alert_ack_seconds_bucket{clock=~"$clock", team=~"$team"}',
                         "team"),
            unit="s", steps=((None, "green"), (1800, "red")), minimum=0,
        ),
        6, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Time from breach to first notification",
            "How long staff waited for the first notification of a breach (median and 90th "
            "percentile per clock). Red from 5 minutes.",
            _percentiles('slawatch_alert_latency_seconds_bucket{clock=~"$clock"}', "clock"),
            unit="s", steps=((None, "green"), (300, "red")), minimum=0,
        ),
        6, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Escalations sent",
            "Notifications sent at escalation levels 2 and 3 (the supervisor and above) per "
            "hour: breaches nobody acknowledged in time.",
            [Target(_grew('slawatch_alerts_sent_total{level=~"2|3"}', "1h", "level"),
                    "level {{level}}")],
            unit="short", steps=((None, "green"), (1, "orange")), minimum=0,
        ),
        6, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "stat", "Escalations pending",
            "Breaches not yet acknowledged that will escalate to the next level when their "
            "timer runs out.",
            [Target("sum(slawatch_escalations_pending)", "pending", instant=True)],
            unit="short", steps=((None, "green"), (1, "orange"), (20, "red")), decimals=0,
            options=_last_value(colorMode="background"),
        ),
        6, 9,
    )  # fmt: skip
    return dashboard(
        "slawatch-teams", "slawatch · Teams",
        "Who breaches: teams, regions (and staff where configured); notification and "
        "escalation of breaches.",
        layout, _variables(), _links(), time_from="now-7d",
    )  # fmt: skip


def _clock(spec: PolicySpec, found: list[Objective]) -> dict[str, Any]:
    basic = spec.targets["basic"]
    layout = Layout()
    layout.row("Attainment and budget")
    layout.add(
        panel(
            "timeseries", "Attainment against target (1 hour and 1 day)",
            "Attainment of the selected clocks over sliding 1-hour and 1-day windows; "
            "thresholds at each clock's target. The 1-hour line is jumpy at night: few cases.",
            [Target(_attainment("1h"), "{{clock}} · {{standard}} 1h"),
             Target(_attainment("1d"), "{{clock}} · {{standard}}")],
            unit=PERCENT, steps=_target_steps(basic), overrides=_target_overrides(found),
            minimum=0, maximum=1,
        ),
        16, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "stat", "Error budget left (30 days)",
            "Unspent share of the breaches the target allows over 30 days (0 % = exactly at "
            "target).",
            [Target('clock_standard:slawatch_clock_error_budget:remaining30d{clock=~"$clock"}',
                    "{{clock}} · {{standard}}", instant=True)],
            unit=PERCENT, steps=((None, "red"), (0, "orange"), (0.25, "green")), decimals=0,
            options=_last_value(colorMode="background", textMode="value_and_name"),
        ),
        8, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Burn rate",
            "How fast the error budget is spent: 1 means exactly at target (orange line), "
            "6 and 14.4 are the page thresholds of the 6-hour and 1-hour windows (red).",
            [Target(f'clock_standard:slawatch_clock_burn:rate{w}{{clock=~"$clock"}}',
                    f"{{{{clock}}}} · {{{{standard}}}} {w}") for w in ("1h", "6h", "1d", "3d")],
            unit="suffix:x", steps=((None, "green"), (1, "orange"), (6, "red")), minimum=0,
        ),
        24, 9,
    )  # fmt: skip
    layout.row("Cases")
    overrides = [
        series_thresholds(f"^{c.id} p", (None, "green"), (seconds, "red"), regex=True)
        for c in spec.clocks
        if (seconds := limit_seconds(c, spec)) is not None
    ]
    layout.add(
        panel(
            "timeseries", "Time to stop",
            "Counted time (working time for working-time clocks) from start to stop of the "
            "cycles that stopped in the last hour: median, 90th and 99th percentile. Red "
            "from the clock's base limit (deadlines read from events have none).",
            _percentiles('slawatch_time_to_stop_seconds_bucket{clock=~"$clock"}', "clock",
                         (0.5, 0.9, 0.99), over="increase"),
            unit="s", steps=((None, "green"),), overrides=overrides, minimum=0,
        ),
        12, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Warnings against breaches",
            "Warnings (a clock past a share of its limit) and breaches per hour. Many "
            "warnings and few breaches: staff act on warnings. Breaches close to warnings: "
            "the warnings come too late or are not acted on.",
            [Target(_grew(f"slawatch_warnings_total{{{FILTER}}}", "1h", "clock"),
                    "{{clock}} warnings"),
             Target(_grew(f"slawatch_breaches_total{{{FILTER}}}", "1h", "clock"),
                    "{{clock}} breaches")],
            unit="short", steps=((None, "green"),), minimum=0,
            overrides=[series_thresholds(".* breaches$", (None, "green"), (1, "red"),
                                         regex=True)],
        ),
        12, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Outcomes",
            "How cycles ended per hour: met, breached, cancelled or reset (reopened; "
            "excluded from attainment).",
            [Target(_grew(f"slawatch_outcomes_total{{{FILTER}}}", "1h", "outcome"),
                    "{{outcome}}")],
            unit="short", steps=((None, "green"),), minimum=0,
            overrides=[series_thresholds("breached", (None, "green"), (1, "red"))],
        ),
        12, 9,
    )  # fmt: skip
    layout.add(
        panel(
            "timeseries", "Open and near breach",
            "Running cycles of the selected clocks, and those past their last warning.",
            [Target('sum(clock:slawatch_clocks_open:sum{clock=~"$clock"})', "open"),
             Target('sum(clock:slawatch_clocks_near_breach:sum{clock=~"$clock"})',
                    "near breach")],
            unit="short", steps=((None, "green"),), minimum=0,
            overrides=[series_thresholds("near breach", (None, "green"), (1, "orange"))],
        ),
        12, 9,
    )  # fmt: skip
    return dashboard(
        "slawatch-clock", "slawatch · Clock drill-down",
        "One clock in depth: attainment, burn rate, time to stop, warnings and breaches.",
        layout, _variables(), _links(), time_from="now-24h",
    )  # fmt: skip


def build_dashboards(
    spec: PolicySpec, options: DashboardOptions | None = None
) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model, for every dashboard."""
    options = options or DashboardOptions()
    found = objectives(spec)
    return {
        "slawatch-overview.json": _overview(spec, found, options),
        "slawatch-teams.json": _teams(spec, options),
        "slawatch-clock.json": _clock(spec, found),
    }


def panel_queries(model: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (panel title, PromQL expression) of a dashboard model."""
    return [
        (p["title"], t["expr"])
        for p in model["panels"]
        for t in p.get("targets", [])
        if "expr" in t
    ]


def render(model: dict[str, Any]) -> str:
    """A dashboard as stable, indented JSON text."""
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def write_dashboards(
    spec: PolicySpec, out: Path, options: DashboardOptions | None = None
) -> list[Path]:
    """Write every dashboard into ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in build_dashboards(spec, options).items():
        path = out / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written
