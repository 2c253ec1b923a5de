"""Supervisors' reports, computed from outcome records: attainment, the weekly complaint summary,
the monthly responsibility report and the before/after comparison of a policy change.

Everything here is pure aggregation of :class:`~sla.records.OutcomeRecord` values (from a replay
or read back from the ``sla.outcomes`` topic) and, where a report needs what only events carry
(complaint class, channel, satisfaction), of each case's last known attributes. The result is a
:class:`Report` of plain :class:`Table` values; ``slawatch.report_render`` draws them as terminal
tables, CSV or an HTML page, so the numbers are computed once whatever the output.

Attainment follows the metric contract: ``met / (met + breached)`` over judged cycles, where a
clock still open past its deadline counts as breached (a breach is counted when the deadline
passes, not when the case closes); cancelled and reset cycles are not judged.

Example:
    >>> from datetime import UTC, datetime
    >>> from sla.records import OutcomeRecord
    >>> t = datetime(2026, 11, 2, 9, tzinfo=UTC)
    >>> met = OutcomeRecord(case_id="C-1", case_kind="complaint", clock="first_response",
    ...     cycle=1, policy_version="1", standard="basic", target=0.95, outcome_id="o1",
    ...     outcome="met", started_at=t, deadline=t, ended_at=t, elapsed_seconds=60,
    ...     paused_seconds=0)
    >>> [(t.clock, t.met, t.attainment) for t in tally([met])]
    [('first_response', 1, 1.0)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sla.records import ClockRef, OutcomeRecord

__all__ = [
    "SATISFACTION_GRADES",
    "Cell",
    "Chart",
    "ClockTally",
    "ColumnFormat",
    "OpenClock",
    "Report",
    "Table",
    "compare",
    "comparison_table",
    "monthly_responsibility",
    "tally",
    "tally_table",
    "weekly_summary",
]

Cell = str | int | float | None

#: How a column is shown: text, a count, a fraction shown as a percentage, or signed changes.
ColumnFormat = Literal["text", "int", "pct", "delta_int", "delta_pct"]

#: The five grades of the satisfaction survey, best first.
SATISFACTION_GRADES: tuple[str, ...] = (
    "very_satisfied",
    "relatively_satisfied",
    "basically_satisfied",
    "dissatisfied",
    "very_dissatisfied",
)

_NONE = "none"


@dataclass(frozen=True)
class Chart:
    """A bar chart of one table: a bar per row, labelled by one column, sized by another.

    ``target_column`` (optional) draws each row's target as a mark on its bar.
    """

    label_column: int
    value_column: int
    target_column: int | None = None


@dataclass(frozen=True)
class Table:
    """One titled table of a report; ``formats`` says how each column is shown."""

    title: str
    columns: tuple[str, ...]
    formats: tuple[ColumnFormat, ...]
    rows: tuple[tuple[Cell, ...], ...]
    chart: Chart | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.columns) != len(self.formats):
            raise ValueError(
                f"table {self.title!r} has {len(self.columns)} columns but "
                f"{len(self.formats)} formats"
            )


@dataclass(frozen=True)
class Report:
    """A titled set of tables over a period ``[start, end)``."""

    title: str
    start: datetime | None
    end: datetime | None
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenClock:
    """A cycle still running when the data ended; ``breached`` when its deadline had passed."""

    ref: ClockRef
    started_at: datetime
    deadline: datetime | None
    breached: bool


#: The outcomes a :class:`ClockTally` counts, each in the field of its name.
_TALLIED = ("met", "breached", "cancelled", "reset", "open", "open_breached")


@dataclass
class ClockTally:
    """Counts of one clock's cycles (for one team, or all teams when ``team`` is None)."""

    clock: str
    team: str | None = None
    met: int = 0
    breached: int = 0
    cancelled: int = 0
    reset: int = 0
    open: int = 0
    open_breached: int = 0
    _target_sum: float = field(default=0.0, repr=False)

    @property
    def count(self) -> int:
        """Every cycle seen, open ones included."""
        return (
            self.met + self.breached + self.cancelled + self.reset + self.open + self.open_breached
        )

    @property
    def judged(self) -> int:
        """Cycles that count towards attainment: met, breached, and open past the deadline."""
        return self.met + self.breached + self.open_breached

    @property
    def breaches(self) -> int:
        """Breached cycles, closed or still open."""
        return self.breached + self.open_breached

    @property
    def attainment(self) -> float | None:
        """``met / judged``; None when nothing was judged."""
        return self.met / self.judged if self.judged else None

    @property
    def target(self) -> float | None:
        """The mean target of the judged cycles (overrides may give cycles different ones)."""
        return self._target_sum / self.judged if self.judged else None

    def add(self, outcome: str, target: float) -> None:
        """Count one cycle ending (or left open) as ``outcome``."""
        if outcome not in _TALLIED:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {_TALLIED}")
        setattr(self, outcome, getattr(self, outcome) + 1)
        if outcome in ("met", "breached", "open_breached"):
            self._target_sum += target


def tally(
    outcomes: Iterable[OutcomeRecord],
    open_clocks: Iterable[OpenClock] = (),
    *,
    by_team: bool = False,
) -> list[ClockTally]:
    """Count cycles per clock (and per team with ``by_team``), sorted by clock then team."""
    tallies: dict[tuple[str, str | None], ClockTally] = {}

    def bucket(ref: ClockRef) -> ClockTally:
        team = (ref.team or _NONE) if by_team else None
        key = (ref.clock, team)
        if key not in tallies:
            tallies[key] = ClockTally(clock=ref.clock, team=team)
        return tallies[key]

    for record in outcomes:
        bucket(record).add(record.outcome, record.target)
    for clock in open_clocks:
        bucket(clock.ref).add("open_breached" if clock.breached else "open", clock.ref.target)
    return [tallies[key] for key in sorted(tallies, key=lambda k: (k[0], k[1] or ""))]


def tally_table(tallies: Sequence[ClockTally], title: str = "Attainment per clock") -> Table:
    """The replay summary: per clock, cycles, met, breached, open, attainment and target."""
    with_team = any(t.team is not None for t in tallies)
    columns: tuple[str, ...] = ("clock",) + (("team",) if with_team else ())
    formats: tuple[ColumnFormat, ...] = ("text", "text") if with_team else ("text",)
    rows = tuple(
        (t.clock,)
        + ((t.team,) if with_team else ())
        + (
            t.count,
            t.met,
            t.breached,
            t.open_breached,
            t.open,
            t.cancelled + t.reset,
            t.attainment,
            t.target,
        )
        for t in tallies
    )
    offset = len(columns)
    return Table(
        title=title,
        columns=(
            *columns,
            "cycles",
            "met",
            "breached",
            "open, breached",
            "open",
            "cancelled/reset",
            "attainment",
            "target",
        ),
        formats=(*formats, "int", "int", "int", "int", "int", "int", "pct", "pct"),
        rows=rows,
        chart=None if with_team else Chart(0, offset + 6, offset + 7),
        note="attainment = met / (met + breached + open past deadline); "
        "cancelled and reset cycles are not judged",
    )


def compare(
    before: Sequence[ClockTally], after: Sequence[ClockTally], *, changed_teams_only: bool = False
) -> Table:
    """How breach counts and attainment change from ``before`` to ``after``, per clock and team.

    A clock or team present on one side only shows zero cycles on the other. With
    ``changed_teams_only``, team rows where nothing changed are left out (clock totals stay).
    """
    old = {(t.clock, t.team): t for t in before}
    new = {(t.clock, t.team): t for t in after}
    rows: list[tuple[Cell, ...]] = []
    hidden = 0
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k[0], k[1] or "")):
        a = old.get(key) or ClockTally(clock=key[0], team=key[1])
        b = new.get(key) or ClockTally(clock=key[0], team=key[1])
        delta = None
        if a.attainment is not None and b.attainment is not None:
            delta = b.attainment - a.attainment
        same = (a.judged, a.breaches, a.attainment) == (b.judged, b.breaches, b.attainment)
        if changed_teams_only and key[1] is not None and same:
            hidden += 1
            continue
        rows.append(
            (
                key[0],
                key[1] or "all",
                a.judged,
                b.judged,
                a.breaches,
                b.breaches,
                b.breaches - a.breaches,
                a.attainment,
                b.attainment,
                delta,
            )
        )
    table = comparison_table(rows)
    if hidden:
        note = f"{table.note}; {hidden} clock/team rows without any change are not shown"
        return Table(table.title, table.columns, table.formats, table.rows, note=note)
    return table


def comparison_table(rows: Sequence[tuple[Cell, ...]]) -> Table:
    """The table :func:`compare` returns, from its rows."""
    return Table(
        title="Policy change: current → candidate",
        columns=(
            "clock",
            "team",
            "judged (current)",
            "judged (candidate)",
            "breaches (current)",
            "breaches (candidate)",
            "Δ breaches",
            "attainment (current)",
            "attainment (candidate)",
            "Δ attainment",
        ),
        formats=(
            "text",
            "text",
            "int",
            "int",
            "int",
            "int",
            "delta_int",
            "pct",
            "pct",
            "delta_pct",
        ),
        rows=tuple(rows),
        note="a clock that exists in one policy only shows 0 judged cycles in the other",
    )


# ---------------------------------------------------------------------------------------------
# Periodic reports.


def _in_period(record: OutcomeRecord, start: datetime | None, end: datetime | None) -> bool:
    """Whether the record's cycle ended in ``[start, end)``."""
    if start is not None and record.ended_at < start:
        return False
    return end is None or record.ended_at < end


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _count_table(
    title: str, heading: str, counts: Counter[str], total: int, top: int = 15
) -> Table:
    """Counts, largest first; beyond ``top`` values the rest are one "other" row."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) > top:
        rest = ranked[top - 1 :]
        ranked = [*ranked[: top - 1], (f"other ({len(rest)} values)", sum(c for _, c in rest))]
    rows = tuple((value, count, _ratio(count, total)) for value, count in ranked)
    return Table(
        title=title,
        columns=(heading, "cases", "share"),
        formats=("text", "int", "pct"),
        rows=rows,
        chart=Chart(0, 1),
    )


def _attribute(cases: Mapping[str, Mapping[str, object]], case_id: str, name: str) -> str:
    value = cases.get(case_id, {}).get(name)
    return _NONE if value is None or value == "" else str(value)


def weekly_summary(
    outcomes: Iterable[OutcomeRecord],
    cases: Mapping[str, Mapping[str, object]],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    case_kind: str | None = None,
    resolution_clocks: Iterable[str] | None = None,
    group_by: Sequence[str] = ("complaint_class", "channel", "region"),
) -> Report:
    """The weekly complaint summary over ``[start, end)`` (``end`` defaults to start + 7 days).

    A case is counted when one of its clock cycles ended in the period.

    Args:
        outcomes: outcome records, any order; those outside the period are skipped.
        cases: case id -> its last known attributes (class, channel, region, satisfaction).
        start: the first instant of the week; None reports over everything.
        end: the end of the period (exclusive).
        case_kind: count only cases of this kind (e.g. ``complaint``); None counts all.
        resolution_clocks: the clocks whose stop means "resolved"; default every clock whose
            id ends in ``resolution``.
        group_by: the attributes cases are counted by.

    Returns:
        Tables: cases by each ``group_by`` attribute, on-time rate per clock, satisfaction
        across the five grades, and first-contact resolution.
    """
    if start is not None and end is None:
        end = start + timedelta(days=7)
    records = [
        r
        for r in outcomes
        if _in_period(r, start, end) and (case_kind is None or r.case_kind == case_kind)
    ]
    case_ids = sorted({r.case_id for r in records})
    tables: list[Table] = []
    for name in group_by:
        counts = Counter(_attribute(cases, c, name) for c in case_ids)
        label = name.replace("_", " ")
        tables.append(_count_table(f"Cases by {label}", label, counts, len(case_ids)))
    on_time = tally_table(tally(records), title="On-time rate per clock")
    tables.append(on_time)
    grades = Counter(_attribute(cases, c, "satisfaction") for c in case_ids)
    surveyed = sum(grades[g] for g in SATISFACTION_GRADES)
    tables.append(
        Table(
            title="Satisfaction (return visits)",
            columns=("grade", "cases", "share of surveyed"),
            formats=("text", "int", "pct"),
            rows=(
                *tuple(
                    (g.replace("_", " "), grades[g], _ratio(grades[g], surveyed))
                    for g in SATISFACTION_GRADES
                ),
                ("not surveyed", len(case_ids) - surveyed, None),
            ),
            chart=Chart(0, 1),
        )
    )
    tables.append(_first_contact(records, resolution_clocks))
    kind = f"{case_kind} " if case_kind else ""
    return Report(
        title=f"Weekly {kind}summary",
        start=start,
        end=end,
        tables=tuple(tables),
        notes=(
            f"{len(case_ids)} cases with a clock cycle ending in the period.",
            "First-contact resolution: a resolved case whose resolution clock ended in its "
            "first cycle (never reopened) without pausing (no wait on the customer, no "
            "transfer).",
        ),
    )


def _first_contact(records: Sequence[OutcomeRecord], clocks: Iterable[str] | None) -> Table:
    wanted = set(clocks) if clocks is not None else None

    def is_resolution(clock: str) -> bool:
        return clock in wanted if wanted is not None else clock.endswith("resolution")

    resolved: dict[str, bool] = {}
    reopened: set[str] = set()
    for r in records:
        if not is_resolution(r.clock):
            continue
        if r.outcome == "reset" or r.cycle > 1:
            reopened.add(r.case_id)
        if r.outcome in ("met", "breached"):
            first = r.cycle == 1 and r.paused_seconds == 0
            resolved[r.case_id] = resolved.get(r.case_id, True) and first
    first_contact = sum(1 for case, ok in resolved.items() if ok and case not in reopened)
    return Table(
        title="First-contact resolution",
        columns=("resolved cases", "first contact", "rate"),
        formats=("int", "int", "pct"),
        rows=((len(resolved), first_contact, _ratio(first_contact, len(resolved))),),
    )


def monthly_responsibility(
    outcomes: Iterable[OutcomeRecord],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    case_kind: str | None = None,
) -> Report:
    """The monthly responsibility report: breaches per department and per person, per clock.

    The supervision report the standards ask for: who (staff id, never a name) and which
    department owned each breached cycle, beside how many cycles they were judged on.

    Args:
        outcomes: outcome records; only cycles that ended in ``[start, end)`` count.
        start: the first instant of the month; None reports over everything.
        end: the end of the period (exclusive).
        case_kind: only cases of this kind; None for all.
    """
    records = [
        r
        for r in outcomes
        if _in_period(r, start, end)
        and (case_kind is None or r.case_kind == case_kind)
        and r.outcome in ("met", "breached")
    ]
    by_department = _breach_rows(records, lambda r: (r.department or _NONE, r.clock))
    by_person = _breach_rows(records, lambda r: (r.assignee or _NONE, r.team or _NONE, r.clock))
    by_team = _breach_rows(records, lambda r: (r.team or _NONE, r.clock))
    return Report(
        title="Monthly responsibility report",
        start=start,
        end=end,
        tables=(
            _breach_table(
                "Breaches per department and clock", ("department", "clock"), by_department
            ),
            _breach_table("Breaches per team and clock", ("team", "clock"), by_team),
            _breach_table(
                "Breaches per person and clock", ("staff id", "team", "clock"), by_person
            ),
        ),
        notes=(
            f"{len(records)} judged clock cycles ended in the period.",
            "A cycle is attributed to the owner recorded on its outcome; 'none' means the "
            "case had no owner of that kind.",
        ),
    )


def _breach_rows(
    records: Sequence[OutcomeRecord],
    key: Callable[[OutcomeRecord], tuple[str, ...]],
) -> list[tuple[tuple[str, ...], int, int]]:
    """(labels, judged, breached) per group, most breaches first."""
    judged: Counter[tuple[str, ...]] = Counter()
    breached: Counter[tuple[str, ...]] = Counter()
    for record in records:
        labels = key(record)
        judged[labels] += 1
        if record.outcome == "breached":
            breached[labels] += 1
    return sorted(
        ((labels, judged[labels], breached[labels]) for labels in judged),
        key=lambda row: (-row[2], row[0]),
    )


def _breach_table(
    title: str, headings: tuple[str, ...], rows: Sequence[tuple[tuple[str, ...], int, int]]
) -> Table:
    formats: tuple[ColumnFormat, ...] = tuple("text" for _ in headings)
    return Table(
        title=title,
        columns=(*headings, "judged", "breached", "attainment"),
        formats=(*formats, "int", "int", "pct"),
        rows=tuple(
            (*labels, judged, breached, _ratio(judged - breached, judged))
            for labels, judged, breached in rows
        ),
        chart=Chart(0, len(headings) + 1) if len(headings) == 2 else None,
    )
