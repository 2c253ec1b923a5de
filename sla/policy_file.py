"""Read a policy file and check what the schema alone cannot: that its parts fit together.

The schema (:mod:`sla.policy`) checks each field on its own. This module checks across fields,
after parsing: every calendar, special period and team a clock names exists, a limit in working
time has a calendar to count on, no event asks a clock to do two contradictory things. Every
mistake is reported at once, each with its file, line and field, so one run of
``slawatch check-config`` shows everything to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import combinations
from pathlib import Path

from sla.config_file import ConfigError, LineIndex, Loc, Problem, field_name, load_model
from sla.deadline_check import deadline_problems
from sla.events import Attributes
from sla.limits import Limit
from sla.policy import FIRST_EVENT, ClockPolicy, Condition, PolicySpec

__all__ = ["PolicyError", "check_policy", "load_policy", "policy_summary"]

#: The roles an event can play for one clock, in the order the policy file lists them.
ROLES: tuple[str, ...] = ("start", "stop", "pause", "resume", "cancel", "reset")

#: The one pair of roles an event may hold together: stop the running cycle, start the next
#: (how the tracking-update clock measures the gap between consecutive scans).
_COMPATIBLE: frozenset[frozenset[str]] = frozenset({frozenset({"start", "stop"})})


class PolicyError(ConfigError):
    """A policy file that cannot be used; ``problems`` lists every mistake found."""


def load_policy(path: Path) -> PolicySpec:
    """Read and check the policy file at ``path``.

    Args:
        path: a YAML policy file (see ``docs/reference/policies.md``).

    Returns:
        The parsed policy.

    Raises:
        PolicyError: listing every mistake as ``file:line: field: message``.
    """
    try:
        spec, index = load_model(path, PolicySpec)
    except ConfigError as exc:
        raise PolicyError([_explain(p) for p in exc.problems]) from exc
    problems = check_policy(spec, path, index)
    if problems:
        raise PolicyError(problems)
    return spec


def _explain(problem: Problem) -> Problem:
    """Add the usual fix to schema errors that have one (an unquoted version number)."""
    if problem.field == "version" and "valid string" in problem.message:
        message = f'{problem.message}; quote it, e.g. version: "2026.11"'
        return Problem(problem.file, problem.line, problem.field, message)
    return problem


def check_policy(spec: PolicySpec, path: Path, index: LineIndex) -> list[Problem]:
    """Every cross-field mistake in ``spec``; ``index`` gives the line of each field."""
    checker = _Checker(spec, str(path), index)
    checker.run()
    return checker.problems + deadline_problems(spec, str(path), index)


class _Checker:
    """Collects problems; one method per rule keeps each rule readable on its own."""

    def __init__(self, spec: PolicySpec, file: str, index: LineIndex) -> None:
        self.spec = spec
        self.file = file
        self.index = index
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.file, self.index.line_of(loc), field_name(loc), message))

    def run(self) -> None:
        self.version()
        self.targets()
        self.team_calendars()
        self.unique_ids()
        for i, clock in enumerate(self.spec.clocks):
            loc: Loc = ("clocks", i)
            self.clock_refs(clock, loc)
            self.limits(clock, loc)
            self.overrides(clock, loc)
            self.roles(clock, loc)

    def version(self) -> None:
        if not self.spec.version.strip():
            self.add(("version",), 'is empty; give the policy a version, e.g. version: "2026.11"')

    def targets(self) -> None:
        for standard, target in self.spec.targets.items():
            if not 0 < target <= 1:
                self.add(
                    ("targets", standard),
                    f"is a fraction of cases met, more than 0 and at most 1, got {target}",
                )

    def team_calendars(self) -> None:
        for name, team in self.spec.teams.items():
            self.calendar_ref(team.calendar, ("teams", name, "calendar"))

    def unique_ids(self) -> None:
        first: dict[str, int] = {}
        for i, clock in enumerate(self.spec.clocks):
            if clock.id in first:
                self.add(
                    ("clocks", i, "id"),
                    f"clock id {clock.id!r} is already used by clocks[{first[clock.id]}]; "
                    "clock ids must be unique",
                )
            first.setdefault(clock.id, i)

    def calendar_ref(self, name: str | None, loc: Loc) -> None:
        if name is not None and name not in self.spec.calendars:
            self.add(
                loc,
                f"unknown calendar {name!r}; {_known(self.spec.calendars, 'calendars')}",
            )

    def clock_refs(self, clock: ClockPolicy, loc: Loc) -> None:
        if not clock.case_kind.strip():
            self.add((*loc, "case_kind"), "is empty; name the kind of case, e.g. complaint")
        self.calendar_ref(clock.calendar, (*loc, "calendar"))
        teams = self.spec.teams
        if clock.team is not None and teams and clock.team not in teams:
            self.add(
                (*loc, "team"),
                f"unknown team {clock.team!r}; {_known(teams, 'teams')}",
            )

    def limits(self, clock: ClockPolicy, loc: Loc) -> None:
        self.limit(clock.limit, clock.calendar, (*loc, "limit"), "the clock")

    def limit(self, limit: Limit, calendar: str | None, loc: Loc, owner: str) -> None:
        if limit.kind == "working" and calendar is None:
            self.add(
                loc,
                f"{limit.text!r} counts working time but {owner} has no calendar; add "
                f"calendar: <name> ({_known(self.spec.calendars, 'calendars')}) or count "
                "elapsed time (e.g. '72h')",
            )
        if limit.kind == "until":
            self.until(limit, loc)

    def until(self, limit: Limit, loc: Loc) -> None:
        name = limit.attribute
        if not name:
            self.add(loc, f"{limit.text!r} names no attribute; write e.g. 'until promised_by'")
            return
        declared = Attributes.model_fields.get(name)
        if declared is not None and "datetime" not in str(declared.annotation):
            self.add(
                loc,
                f"{limit.text!r} reads attribute {name!r}, which is not a time; "
                f"use a time attribute, e.g. 'until promised_by'",
            )

    def overrides(self, clock: ClockPolicy, loc: Loc) -> None:
        for j, override in enumerate(clock.overrides):
            here: Loc = (*loc, "overrides", j)
            periods = self.spec.special_periods
            if override.during is not None and override.during not in periods:
                self.add(
                    (*here, "during"),
                    f"unknown special period {override.during!r}; "
                    f"{_known(periods, 'special_periods')}",
                )
            self.calendar_ref(override.calendar, (*here, "calendar"))
            if override.limit is not None:
                calendar = override.calendar or clock.calendar
                self.limit(override.limit, calendar, (*here, "limit"), "the override")
            for fraction in override.warn_at or []:
                if not 0 < fraction < 1:
                    self.add(
                        (*here, "warn_at"),
                        "warning thresholds are fractions of the limit between 0 and 1, "
                        f"got {fraction}",
                    )
            changes = (override.limit, override.calendar, override.target, override.standard)
            if all(c is None for c in changes) and override.warn_at is None:
                self.add(
                    here,
                    "changes nothing; give at least one of limit, calendar, target, standard, "
                    "warn_at",
                )

    def keywords(self, clock: ClockPolicy, loc: Loc) -> None:
        """``first_event`` belongs in start; ``first_event_also`` needs it there."""
        for role, j, condition in _conditions(clock):
            if condition.event == FIRST_EVENT and role != "start":
                self.add(
                    (*loc, role, j),
                    f"first_event only starts a clock; it cannot be a {role} event (list it "
                    "under start:)",
                )
        if clock.first_event_also and not clock.starts_on_first_event:
            self.add(
                (*loc, "first_event_also"),
                "applies only to a clock with start: first_event; add it or remove this",
            )

    def roles(self, clock: ClockPolicy, loc: Loc) -> None:
        self.keywords(clock, loc)
        if clock.resume and not clock.pause:
            self.add(
                (*loc, "resume"),
                "lists events but the clock has no pause events, so nothing can resume; "
                "add pause: or remove resume:",
            )
        for (role_a, j_a, a), (role_b, _, b) in combinations(_conditions(clock), 2):
            if role_a == role_b or frozenset({role_a, role_b}) in _COMPATIBLE:
                continue
            if _overlap(a, b):
                self.add(
                    (*loc, role_a, j_a),
                    f"event {a.event!r} is both {role_a} and {role_b} for this clock; an event "
                    "can do one thing to a clock (only start and stop together are allowed: "
                    "stop the running cycle and start the next)",
                )


def _conditions(clock: ClockPolicy) -> Iterator[tuple[str, int, Condition]]:
    for role in ROLES:
        for j, condition in enumerate(getattr(clock, role)):
            yield role, j, condition


def _overlap(a: Condition, b: Condition) -> bool:
    """Whether one event could match both conditions (same type, compatible attribute filters)."""
    if a.event != b.event:
        return False
    shared = a.when.keys() & b.when.keys()
    return all(set(a.when[name]) & set(b.when[name]) for name in shared)


def _known(names: Mapping[str, object], section: str) -> str:
    """``known: a, b`` or a note that the section is empty, for "unknown name" messages."""
    return f"known: {', '.join(sorted(names))}" if names else f"no {section} are defined"


def _condition_text(condition: Condition) -> str:
    """``return_visit_done [satisfaction=dissatisfied|very_dissatisfied]``."""
    if not condition.when:
        return condition.event
    filters = ", ".join(f"{k}={'|'.join(v)}" for k, v in condition.when.items())
    return f"{condition.event} [{filters}]"


def policy_summary(spec: PolicySpec) -> list[dict[str, str]]:
    """One row per clock, for ``slawatch check-config`` and the docs.

    Keys: ``clock``, ``case_kind``, ``starts_on``, ``stops_on``, ``limit``, ``calendar``,
    ``target``, ``standard``, ``team``, ``overrides``. The target is the clock's own, or its
    standard's from ``targets:``.
    """
    rows = []
    for clock in spec.clocks:
        target = clock.target if clock.target is not None else spec.targets[clock.standard]
        rows.append(
            {
                "clock": clock.id,
                "case_kind": clock.case_kind,
                "starts_on": ", ".join(_condition_text(c) for c in clock.start),
                "stops_on": ", ".join(_condition_text(c) for c in clock.stop),
                "limit": clock.limit.text,
                "calendar": clock.calendar or ("-" if clock.limit.kind == "until" else "elapsed"),
                "target": f"{target:.0%}"
                if target * 100 == round(target * 100)
                else f"{target:.1%}",
                "standard": clock.standard,
                "team": clock.team or "-",
                "overrides": str(len(clock.overrides)),
            }
        )
    return rows
