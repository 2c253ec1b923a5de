"""Alertmanager configuration, generated from the policy file: routes by team and severity.

Pages (fast budget burn, a stalled pipeline) go out at any hour. Tickets (slow burn, a team's
many breaches) go to a team only in its working hours, taken from the same calendar its
clocks count working time on: the weekly hours become ``time_intervals`` in the calendar's
zone, statutory holidays a mute interval, make-up working days extra active days. A team
without a calendar gets tickets at any hour. Anything no route claims lands in an explicit
catch-all receiver, so a typo in a team name is seen, not lost.

Receivers are the user's: ``receivers.yml`` beside the generated file holds the e-mail, chat
or pager details of each receiver the routes name, and every generation merges it in, so
regenerating never wipes them. Receivers the file does not set are generated empty (or as
webhooks to ``--webhook-url``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from generators.objectives import NO_TEAM, team_of
from generators.yaml_out import comment, dump
from sla.calendar import CalendarDataMissing, WorkingCalendar, parse_working_hours
from sla.config_file import ConfigError, Problem, read_yaml
from sla.policy import WEEKDAYS, CalendarSpec, PolicySpec

__all__ = [
    "CATCH_ALL",
    "PLATFORM",
    "RECEIVERS_FILE",
    "AlertmanagerOptions",
    "build_config",
    "calendar_intervals",
    "covered_years",
    "load_receivers",
    "receiver_names",
    "render_config",
    "teams",
    "write_config",
]

CATCH_ALL = "slawatch-catch-all"
PLATFORM = "slawatch-platform"
CONFIG_FILE = "alertmanager.yml"
RECEIVERS_FILE = "receivers.yml"
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
#: Alerts that mean the pipeline cannot be trusted: while one fires, SLO alerts may be false.
STALL_ALERTS = ("SlawatchTopicStalled", "SlawatchWorkerDown", "SlawatchWorkerAbsent")


@dataclass(frozen=True)
class AlertmanagerOptions:
    """Knobs of the generated configuration.

    Attributes:
        years: years whose holidays and make-up days become time intervals; default: the
            last two years the installed holiday data covers.
        webhook_url: when set, every receiver posts to it (``?receiver=<name>`` appended).
        repeat_interval: how often a still-firing alert is sent again.
        receivers: the user's receivers (name -> Alertmanager receiver), from
            ``receivers.yml``; they replace the generated empty ones of the same name.
    """

    years: tuple[int, ...] | None = None
    webhook_url: str | None = None
    repeat_interval: str = "4h"
    receivers: tuple[tuple[str, dict[str, Any]], ...] = ()


def load_receivers(path: Path, known: Sequence[str]) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The receivers of the user's file, checked against the names the routes use.

    Raises:
        ConfigError: the file is not ``receivers: [{name: ..., ...}]``, names a receiver twice
            or one no route uses (a typo would otherwise never receive anything).
    """
    data, index = read_yaml(path)
    name = str(path)
    if data is None:
        return ()
    entries = data.get("receivers") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError([Problem(name, 1, "receivers", "write `receivers:` and a list of them")])
    problems: list[Problem] = []
    found: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        loc = ("receivers", i, "name")
        rname = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(rname, str) or not isinstance(entry, dict):
            problems.append(Problem(name, index.line_of(loc), f"receivers[{i}].name", "is missing"))
        elif rname in found:
            problems.append(
                Problem(
                    name, index.line_of(loc), f"receivers[{i}].name", f"{rname!r} is given twice"
                )
            )
        elif rname not in known:
            problems.append(
                Problem(
                    name, index.line_of(loc), f"receivers[{i}].name",
                    f"no route uses {rname!r}; use one of {', '.join(known)}",
                )
            )  # fmt: skip
        else:
            found[rname] = entry
    if problems:
        raise ConfigError(problems)
    return tuple(found.items())


def covered_years(first: int = 2004, last: int = 2100) -> tuple[int, ...]:
    """Years China's holiday data (``chinesecalendar``) knows, as the calendars see it."""
    probe = WorkingCalendar(CalendarSpec(holidays="china"), "probe")
    found = []
    for year in range(first, last + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("error", CalendarDataMissing)
            try:
                probe.is_working_day(date(year, 6, 1))
            except CalendarDataMissing:
                continue
        found.append(year)
    return tuple(found)


def teams(spec: PolicySpec) -> list[str]:
    """Teams named in the policy (``teams`` first, then owners of clocks), without ``none``."""
    names = list(spec.teams)
    for clock in spec.clocks:
        team = team_of(clock)
        if team != NO_TEAM and team not in names:
            names.append(team)
    return names


def _clock_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _times(ranges: Sequence[str], weekday: str) -> list[dict[str, str]]:
    return [
        {"start_time": _clock_time(start), "end_time": _clock_time(end)}
        for start, end in parse_working_hours(weekday, ranges)
    ]


def _weekday_runs(days: list[int]) -> list[str]:
    """Weekdays (Monday = 0) as Alertmanager ranges, which run Sunday to Saturday.

    >>> _weekday_runs([0, 1, 2, 4]), _weekday_runs(list(range(7))), _weekday_runs([5, 6])
    (['monday:wednesday', 'friday'], ['sunday:saturday'], ['sunday', 'saturday'])
    """
    ordered = sorted((day + 1) % 7 for day in days)  # Sunday = 0, as Alertmanager counts
    runs: list[list[int]] = []
    for day in ordered:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = ("sunday", *_DAY_NAMES[:6])
    return [names[run[0]] if len(run) == 1 else f"{names[run[0]]}:{names[run[-1]]}" for run in runs]


def _date_entries(
    days: Iterable[date], location: str, extra: dict[str, Any]
) -> list[dict[str, Any]]:
    """Dates as intervals, consecutive days of one month merged (``days_of_month: ['1:7']``)."""
    runs: list[list[date]] = []
    for day in sorted(days):
        last = runs[-1][-1] if runs else None
        if last and day - last == timedelta(days=1) and last.month == day.month:
            runs[-1].append(day)
        else:
            runs.append([day])
    entries = []
    for run in runs:
        first, end = run[0], run[-1]
        span = str(first.day) if first == end else f"{first.day}:{end.day}"
        entries.append(
            {**extra, "days_of_month": [span], "months": [_MONTHS[first.month - 1]],
             "years": [str(first.year)], "location": location}
        )  # fmt: skip
    return entries


def calendar_intervals(
    name: str, spec: CalendarSpec, years: Sequence[int]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The working hours of calendar ``name`` and, if any, its days off as time intervals.

    Returns:
        ``working-hours-<name>`` (weekly hours plus make-up working days) and
        ``days-off-<name>`` (statutory and extra holidays on days with weekly hours), or
        ``None`` when there are no such days in ``years``.
    """
    calendar = WorkingCalendar(spec, name)
    weekly: dict[tuple[tuple[str, str], ...], list[int]] = {}
    hours: list[list[dict[str, str]]] = []
    for index, weekday in enumerate(WEEKDAYS):
        times = _times(spec.working_hours.get(weekday, []), weekday)
        hours.append(times)
        if times:
            key = tuple((t["start_time"], t["end_time"]) for t in times)
            weekly.setdefault(key, []).append(index)
    entries: list[dict[str, Any]] = [
        {"weekdays": _weekday_runs(days), "times": [dict(start_time=s, end_time=e) for s, e in key],
         "location": spec.timezone}
        for key, days in weekly.items()
    ]  # fmt: skip
    standard = next(times for times in hours if times)
    off: list[date] = []
    worked: list[date] = []
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CalendarDataMissing)
                working = calendar.is_working_day(day)
            if working and not hours[day.weekday()]:
                worked.append(day)
            elif not working and hours[day.weekday()]:
                off.append(day)
            day += timedelta(days=1)
    entries += _date_entries(worked, spec.timezone, {"times": standard})
    working_hours = {"name": f"working-hours-{name}", "time_intervals": entries}
    if not off:
        return working_hours, None
    return working_hours, {
        "name": f"days-off-{name}",
        "time_intervals": _date_entries(off, spec.timezone, {}),
    }


def receiver_names(spec: PolicySpec) -> list[str]:
    """Every receiver the generated routes name, in file order."""
    names = [CATCH_ALL, PLATFORM]
    for team in teams(spec):
        names += [f"{team}-page", f"{team}-ticket"]
    return names


def _receiver(name: str, options: AlertmanagerOptions) -> dict[str, Any]:
    own = dict(options.receivers)
    if name in own:
        return own[name]
    receiver: dict[str, Any] = {"name": name}
    if options.webhook_url:
        receiver["webhook_configs"] = [
            {"url": f"{options.webhook_url}?receiver={name}", "send_resolved": True}
        ]
    return receiver


def build_config(spec: PolicySpec, options: AlertmanagerOptions | None = None) -> dict[str, Any]:
    """The Alertmanager configuration as a dict (see :func:`render_config` for the file)."""
    options = options or AlertmanagerOptions()
    years = options.years if options.years is not None else covered_years()[-2:]
    receivers = [_receiver(CATCH_ALL, options), _receiver(PLATFORM, options)]
    intervals: list[dict[str, Any]] = []
    interval_names: dict[str, tuple[str, str | None]] = {}
    for name, calendar_spec in spec.calendars.items():
        working, off = calendar_intervals(name, calendar_spec, years)
        intervals.append(working)
        if off:
            intervals.append(off)
        interval_names[name] = (working["name"], off["name"] if off else None)
    routes: list[dict[str, Any]] = [
        {"receiver": PLATFORM, "matchers": ['category="pipeline"'], "continue": False},
    ]
    for team in teams(spec):
        page, ticket = f"{team}-page", f"{team}-ticket"
        receivers += [_receiver(page, options), _receiver(ticket, options)]
        ticket_route: dict[str, Any] = {"receiver": ticket, "matchers": ['severity="ticket"']}
        calendar = spec.teams[team].calendar if team in spec.teams else None
        if calendar in interval_names:
            working_name, off_name = interval_names[calendar]
            ticket_route["active_time_intervals"] = [working_name]
            if off_name:
                ticket_route["mute_time_intervals"] = [off_name]
        routes.append(
            {
                "receiver": ticket,
                "matchers": [f'team="{team}"'],
                "routes": [{"receiver": page, "matchers": ['severity="page"']}, ticket_route],
            }
        )
    routes.append({"receiver": CATCH_ALL, "matchers": []})
    config: dict[str, Any] = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": CATCH_ALL,
            "group_by": ["alertname", "team", "clock", "standard", "topic"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": options.repeat_interval,
            "routes": routes,
        },
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname=~"{"|".join(STALL_ALERTS)}"'],
                "target_matchers": ['category=~"slo|team"'],
            },
            {
                "source_matchers": ['category="slo"', 'severity="page"'],
                "target_matchers": ['category="slo"', 'severity="ticket"'],
                "equal": ["clock", "standard"],
            },
        ],
        "receivers": receivers,
    }
    if intervals:
        config["time_intervals"] = intervals
    return config


def render_config(spec: PolicySpec, options: AlertmanagerOptions | None = None) -> str:
    """The configuration file as YAML text with an explanatory header."""
    options = options or AlertmanagerOptions()
    years = options.years if options.years is not None else covered_years()[-2:]
    without = [t for t in teams(spec) if not (spec.teams.get(t) and spec.teams[t].calendar)]
    header = [
        f"Alertmanager configuration for slawatch, generated from policy version {spec.version}.",
        "Do not edit this file: change the policy file and run `slawatch alertmanager`; a test",
        "compares it with a fresh generation. Receivers are yours: put their e-mail, chat or",
        f"pager details in {RECEIVERS_FILE} beside this file; each generation merges it in.",
        "",
        "Routes: pipeline alerts -> slawatch-platform; per team, severity=page -> <team>-page at",
        "any hour, severity=ticket -> <team>-ticket in the team's working hours (its calendar),",
        "muted on its days off; anything else -> slawatch-catch-all.",
        *_years_note(years),
        "A stalled topic or a down worker inhibits SLO alerts (their breaches may be false).",
    ]
    if without:
        header.append(f"Teams without a calendar get tickets at any hour: {', '.join(without)}.")
    return comment(header) + dump(build_config(spec, options))


def _years_note(years: Sequence[int]) -> list[str]:
    """What the header says of holiday data: only years the installed data really covers."""
    known = set(covered_years())
    has = [str(y) for y in years if y in known]
    lacks = [str(y) for y in years if y not in known]
    lines = []
    if has:
        lines.append(f"Holidays and make-up days from chinesecalendar: {', '.join(has)}.")
    if lacks:
        lines.append(
            f"No holiday data for {', '.join(lacks)}: only weekly hours and the calendars' "
            "extra_holidays / extra_workdays there."
        )
    lines.append("Regenerate when chinesecalendar learns a new year.")
    return lines


def write_config(spec: PolicySpec, out: Path, options: AlertmanagerOptions | None = None) -> Path:
    """Write ``alertmanager.yml`` into ``out``; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / CONFIG_FILE
    path.write_text(render_config(spec, options), encoding="utf-8")
    return path
