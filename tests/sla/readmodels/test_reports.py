"""Reports from outcome records: attainment, policy comparison, weekly summary, monthly report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sla.readmodels.reports import (
    OpenClock,
    Table,
    compare,
    monthly_responsibility,
    tally,
    weekly_summary,
)
from sla.records import ClockRef, OutcomeRecord

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


def outcome(
    case: str,
    result: str,
    *,
    clock: str = "first_response",
    cycle: int = 1,
    ended: datetime = MONDAY + timedelta(days=1),
    team: str | None = "t1",
    assignee: str | None = None,
    department: str | None = None,
    paused: float = 0.0,
    target: float = 0.95,
) -> OutcomeRecord:
    return OutcomeRecord(
        case_id=case,
        case_kind="complaint",
        clock=clock,
        cycle=cycle,
        policy_version="1",
        standard="basic",
        target=target,
        team=team,
        assignee=assignee,
        department=department,
        outcome_id=f"{case}/{clock}/{cycle}/outcome",
        outcome=result,  # type: ignore[arg-type]
        started_at=ended - timedelta(hours=1),
        deadline=ended,
        ended_at=ended,
        elapsed_seconds=3600.0,
        paused_seconds=paused,
    )


def open_clock(case: str, breached: bool, team: str = "t1") -> OpenClock:
    ref = ClockRef(
        case_id=case,
        case_kind="complaint",
        clock="first_response",
        cycle=1,
        policy_version="1",
        standard="basic",
        target=0.95,
        team=team,
    )
    return OpenClock(ref=ref, started_at=MONDAY, deadline=MONDAY, breached=breached)


def rows(table: Table) -> list[tuple[object, ...]]:
    return [tuple(r) for r in table.rows]


def find(tables: tuple[Table, ...], title: str) -> Table:
    return next(t for t in tables if t.title == title)


class TestTally:
    def test_attainment_counts_open_breaches_and_ignores_cancelled(self) -> None:
        """met / (met + breached + open past deadline); cancelled, reset and open are not judged."""
        records = [
            outcome("A", "met"),
            outcome("B", "met"),
            outcome("C", "breached"),
            outcome("D", "cancelled"),
            outcome("E", "reset"),
        ]
        [t] = tally(records, [open_clock("F", breached=True), open_clock("G", breached=False)])
        assert (7, 4, 0.5, 2) == (t.count, t.judged, t.attainment, t.breaches)

    def test_target_is_the_mean_over_judged_cycles(self) -> None:
        """Cycles judged by different targets (overrides) give their mean."""
        [t] = tally([outcome("A", "met", target=0.9), outcome("B", "met", target=0.98)])
        assert abs(0.94 - (t.target or 0)) < 1e-9

    def test_by_team_splits_and_names_missing_teams_none(self) -> None:
        """Per team tallies, a missing team shown as none."""
        tallies = tally([outcome("A", "met"), outcome("B", "breached", team=None)], by_team=True)
        assert [("none", 0, 1), ("t1", 1, 0)] == [(t.team, t.met, t.breached) for t in tallies]

    def test_nothing_judged_has_no_attainment(self) -> None:
        """Only cancelled cycles: attainment is unknown, not zero."""
        [t] = tally([outcome("A", "cancelled")])
        assert t.attainment is None


class TestCompare:
    def test_reports_breach_and_attainment_changes(self) -> None:
        """Per clock: judged, breaches before and after, and the change in attainment."""
        before = tally([outcome("A", "met"), outcome("B", "breached")])
        after = tally([outcome("A", "met"), outcome("B", "met")])
        [row] = rows(compare(before, after))
        assert ("first_response", "all", 2, 2, 1, 0, -1, 0.5, 1.0, 0.5) == row

    def test_a_clock_in_one_policy_only_shows_zero_on_the_other_side(self) -> None:
        """A clock the candidate adds is compared against nothing."""
        after = tally([outcome("A", "met", clock="new_clock")])
        [row] = rows(compare([], after))
        assert ("new_clock", "all", 0, 1, 0, 0, 0, None, 1.0, None) == row


WEEK_CASES = {
    "A": {"complaint_class": "transport", "channel": "phone", "satisfaction": "dissatisfied"},
    "B": {"complaint_class": "transport", "channel": "app", "satisfaction": "very_satisfied"},
    "C": {"complaint_class": "service", "channel": "phone"},
}
WEEK_RECORDS = [
    outcome("A", "met", clock="complaint_resolution"),
    outcome("B", "breached", clock="complaint_resolution", paused=60.0),
    outcome("C", "met", clock="complaint_resolution"),
    outcome("C", "met"),
    outcome("Z", "met", ended=MONDAY + timedelta(days=8)),  # next week
]


class TestWeeklySummary:
    def report(self) -> tuple[Table, ...]:
        return weekly_summary(WEEK_RECORDS, WEEK_CASES, start=MONDAY).tables

    def test_counts_cases_by_class_and_channel(self) -> None:
        """Each case with an outcome in the week counts once per attribute value."""
        tables = self.report()
        by_class = rows(find(tables, "Cases by complaint class"))
        by_channel = rows(find(tables, "Cases by channel"))
        assert ([("transport", 2, 2 / 3), ("service", 1, 1 / 3)], ("phone", 2, 2 / 3)) == (
            by_class,
            by_channel[0],
        )

    def test_missing_attribute_counts_as_none(self) -> None:
        """Cases without a region are counted under none."""
        assert [("none", 3, 1.0)] == rows(find(self.report(), "Cases by region"))

    def test_satisfaction_covers_the_five_grades(self) -> None:
        """Every grade is listed, with the unsurveyed cases apart."""
        table = find(self.report(), "Satisfaction (return visits)")
        assert [1, 0, 0, 1, 0, 1] == [r[1] for r in table.rows]

    def test_on_time_rate_per_clock(self) -> None:
        """The on-time rate of each clock over the week's outcomes."""
        table = find(self.report(), "On-time rate per clock")
        assert [("complaint_resolution", 2 / 3), ("first_response", 1.0)] == [
            (r[0], r[-2]) for r in table.rows
        ]

    def test_first_contact_resolution_excludes_paused_cases(self) -> None:
        """A resolution that waited on the customer is not first-contact."""
        [row] = rows(find(self.report(), "First-contact resolution"))
        assert (3, 2, 2 / 3) == row

    def test_reopened_cases_are_not_first_contact(self) -> None:
        """A case whose resolution clock was reset (reopened) does not count as first-contact."""
        records = [
            outcome("A", "reset", clock="complaint_resolution"),
            outcome("A", "met", clock="complaint_resolution", cycle=2),
        ]
        tables = weekly_summary(records, {}, start=MONDAY).tables
        assert [(1, 0, 0.0)] == rows(find(tables, "First-contact resolution"))


class TestMonthlyResponsibility:
    def test_breaches_per_person_and_department(self) -> None:
        """Breaches are attributed to the staff id and department on the outcome."""
        records = [
            outcome("A", "breached", assignee="S1", department="D1"),
            outcome("B", "met", assignee="S1", department="D1"),
            outcome("C", "breached", assignee="S2", department="D2"),
            outcome("D", "breached", assignee="S2", department="D2"),
            outcome("E", "cancelled", assignee="S3", department="D3"),
        ]
        report = monthly_responsibility(records, start=MONDAY, end=MONDAY + timedelta(days=30))
        people = rows(find(report.tables, "Breaches per person and clock"))
        departments = rows(find(report.tables, "Breaches per department and clock"))
        assert (
            [("S2", "t1", "first_response", 2, 2, 0.0), ("S1", "t1", "first_response", 2, 1, 0.5)],
            [("D2", "first_response", 2, 2, 0.0), ("D1", "first_response", 2, 1, 0.5)],
        ) == (people, departments)

    def test_only_the_period_counts(self) -> None:
        """Cycles that ended outside the month are left out."""
        records = [outcome("A", "breached", ended=MONDAY - timedelta(days=1))]
        report = monthly_responsibility(records, start=MONDAY, end=MONDAY + timedelta(days=30))
        assert [] == rows(report.tables[0])
