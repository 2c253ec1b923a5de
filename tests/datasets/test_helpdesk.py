"""The Helpdesk log, wired by configuration only, replayed and checked outcome by outcome.

The expected outcomes are computed here, independently of the product: straight from the CSV
with the standard library, a working-time count of our own, and the rules the policy file and
docs/design.md state. Every outcome the replay produces must be expected, and every expected
one produced, with the same result, times and counted seconds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from slawatch.replay import ReplayResult, replay_files
from tests.datasets._outcomes import Expected
from tests.datasets.conftest import DATASETS, data_file

TOPICS = DATASETS / "helpdesk-topics.yaml"
POLICIES = DATASETS / "helpdesk-policies.yaml"
ROME = ZoneInfo("Europe/Rome")
LATENESS = timedelta(minutes=5)

# Activities as the log writes them, grouped by what the policy file makes of them.
FIRST_RESPONSE_STOPS = {"Take in charge ticket", "Resolve ticket", "Closed"}
RESOLUTION_STOPS = {"Resolve ticket", "Closed"}
WAIT = "Wait"
OTHER_WORK = {
    "Take in charge ticket",
    "Assign seriousness",
    "Insert ticket",
    "Require upgrade",
    "Create SW anomaly",
    "Resolve SW anomaly",
    "Schedule intervention",
    "VERIFIED",
    "RESOLVED",
    "INVALID",
    "DUPLICATE",
}
WAIT_STOPS = OTHER_WORK | RESOLUTION_STOPS


@dataclass(frozen=True)
class Row:
    at: datetime  # UTC
    activity: str


# --------------------------------------------------------------------------------------------
# Working time, computed our own way: office windows per local day, minus pauses.


def _holidays() -> set[date]:
    calendar = yaml.safe_load(POLICIES.read_text(encoding="utf-8"))["calendars"]["it-office"]
    return set(calendar["extra_holidays"])


HOLIDAYS = _holidays()


def _windows(day: date) -> list[tuple[datetime, datetime]]:
    """Monday to Friday 9-13 and 14-18 Rome time, holidays off, as UTC intervals."""
    if day.weekday() >= 5 or day in HOLIDAYS:
        return []

    def at(hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=ROME).astimezone(UTC)

    return [(at(9), at(13)), (at(14), at(18))]


def _counting(
    start: datetime, pauses: list[tuple[datetime, datetime]], until: datetime | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """Working intervals from ``start`` on (before ``until``), paused stretches cut out."""
    day = start.astimezone(ROME).date() - timedelta(days=1)
    while until is None or day <= until.astimezone(ROME).date():
        for begin, end in _windows(day):
            begin = max(begin, start)
            pieces = [(begin, end)] if end > begin else []
            for p0, p1 in pauses:
                cut: list[tuple[datetime, datetime]] = []
                for a, b in pieces:
                    if p1 <= a or p0 >= b:
                        cut.append((a, b))
                        continue
                    if a < p0:
                        cut.append((a, p0))
                    if p1 < b:
                        cut.append((p1, b))
                pieces = cut
            yield from pieces
        day += timedelta(days=1)


def _deadline(
    start: datetime, limit: timedelta, pauses: list[tuple[datetime, datetime]]
) -> datetime:
    """The instant at which ``limit`` of unpaused working time has been used."""
    left = limit
    for a, b in _counting(start, pauses):
        if b - a >= left:
            return a + left
        left -= b - a
    raise AssertionError("unreachable")


def _worked(start: datetime, end: datetime, pauses: list[tuple[datetime, datetime]]) -> timedelta:
    """Unpaused working time in ``[start, end)``."""
    total = timedelta(0)
    for a, b in _counting(start, pauses, end):
        if a >= end:
            break
        total += min(b, end) - a
    return total


def _paused(start: datetime, end: datetime, pauses: list[tuple[datetime, datetime]]) -> timedelta:
    return _worked(start, end, []) - _worked(start, end, pauses)


# --------------------------------------------------------------------------------------------
# The expected outcomes, per ticket.


def _read() -> dict[str, list[Row]]:
    """Rows per ticket in file order (which is time order within a ticket), duplicates once."""
    tickets: dict[str, list[Row]] = {}
    seen: set[tuple[str, str, datetime]] = set()
    path = data_file("helpdesk", "finale.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for cells in reader:
            case, activity, stamp = cells[0], cells[1], cells[3]
            naive = datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f")
            at = naive.replace(tzinfo=ROME).astimezone(UTC)
            if (case, activity, at) in seen:  # same ticket, activity and time: one event
                continue
            seen.add((case, activity, at))
            tickets.setdefault(case, []).append(Row(at, activity))
    return tickets


def _pause_intervals(rows: list[Row], end: datetime) -> list[tuple[datetime, datetime]]:
    """Waits (pause) until the next other work (resume), up to ``end``; at one instant a
    resume counts before a pause."""
    marks = sorted(
        (r.at, 0 if r.activity in OTHER_WORK else 1)
        for r in rows
        if r.activity == WAIT or r.activity in OTHER_WORK
    )
    intervals, opened = [], None
    for at, kind in marks:
        if kind == 1 and opened is None:
            opened = at
        elif kind == 0 and opened is not None:
            intervals.append((opened, at))
            opened = None
    if opened is not None:
        intervals.append((opened, end))
    return intervals


def _judge(start: datetime, end: datetime, limit: timedelta, pauses: list) -> Expected:
    deadline = _deadline(start, limit, pauses)
    return Expected(
        outcome="met" if end <= deadline else "breached",
        started_at=start,
        ended_at=end,
        deadline=deadline,
        elapsed_seconds=_worked(start, end, pauses).total_seconds(),
        paused_seconds=_paused(start, end, pauses).total_seconds(),
    )


def expected_outcomes(
    tickets: dict[str, list[Row]], watermark: datetime
) -> tuple[dict[tuple[str, str, int], Expected], dict[tuple[str, str, int], bool]]:
    """(case, clock, cycle) -> expected outcome; and of the cycles left open, whether breached."""
    done: dict[tuple[str, str, int], Expected] = {}
    still_open: dict[tuple[str, str, int], bool] = {}
    hour = timedelta(hours=1)
    for case, rows in tickets.items():
        opened = rows[0].at  # the ticket's first activity opens it

        # First response: the first take-in-charge, resolution or close, 8 working hours.
        stop = next((r.at for r in rows if r.activity in FIRST_RESPONSE_STOPS), None)
        key = (case, "helpdesk_first_response", 1)
        if stop is not None:
            done[key] = _judge(opened, stop, 8 * hour, [])
        else:
            still_open[key] = _deadline(opened, 8 * hour, []) <= watermark

        # Resolution: 5 working days of 8 hours, waits on the customer left out.
        index = next((i for i, r in enumerate(rows) if r.activity in RESOLUTION_STOPS), None)
        key = (case, "helpdesk_resolution", 1)
        if index is not None:
            end = rows[index].at
            pauses = _pause_intervals(rows[:index], end)
            done[key] = _judge(opened, end, 40 * hour, pauses)
        else:
            pauses = _pause_intervals(rows, datetime.max.replace(tzinfo=UTC))
            counted_until = min([watermark] + [p0 for p0, p1 in pauses if p1.year == 9999])
            still_open[key] = _worked(opened, counted_until, pauses) >= 40 * hour

        # Customer wait: each Wait until the ticket's next work, 14 calendar days.
        _waits(case, rows, watermark, done, still_open)
    return done, still_open


def _waits(
    case: str,
    rows: list[Row],
    watermark: datetime,
    done: dict[tuple[str, str, int], Expected],
    still_open: dict[tuple[str, str, int], bool],
) -> None:
    """Cycles of the customer-wait clock.

    A wait that starts while one runs is ignored; a start at the very instant the previous
    cycle ended is stale; a stop with no wait running waits (allowed lateness) for a start at
    its own instant, which it then ends at once.
    """
    limit = timedelta(days=14)
    cycle, running, last_end = 0, None, None
    waiting_stops: list[datetime] = []
    for row in rows:
        if row.activity in WAIT_STOPS:
            if running is not None:
                cycle_end(case, cycle, running, row.at, limit, done)
                running, last_end = None, row.at
            elif last_end is None or row.at > last_end:
                waiting_stops.append(row.at)
        elif row.activity == WAIT:
            if running is not None or (last_end is not None and row.at <= last_end):
                continue
            cycle += 1
            running = row.at
            if row.at in waiting_stops:
                waiting_stops.remove(row.at)
                cycle_end(case, cycle, running, row.at, limit, done)
                running, last_end = None, row.at
    if running is not None:
        still_open[(case, "helpdesk_customer_wait", cycle)] = running + limit <= watermark


def cycle_end(
    case: str,
    cycle: int,
    start: datetime,
    end: datetime,
    limit: timedelta,
    done: dict[tuple[str, str, int], Expected],
) -> None:
    deadline = start + limit
    done[(case, "helpdesk_customer_wait", cycle)] = Expected(
        outcome="met" if end <= deadline else "breached",
        started_at=start,
        ended_at=end,
        deadline=deadline,
        elapsed_seconds=(end - start).total_seconds(),
        paused_seconds=0.0,
    )


# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replayed() -> ReplayResult:
    path = data_file("helpdesk", "finale.csv")
    result, stats = replay_files([str(path)], TOPICS, POLICIES)
    assert {} == dict(stats.rejected)
    return result


@pytest.fixture(scope="module")
def expected(replayed: ReplayResult) -> tuple[dict, dict]:
    tickets = _read()
    latest = max(r.at for rows in tickets.values() for r in rows)
    return expected_outcomes(tickets, latest - LATENESS)


def _actual(result: ReplayResult) -> dict[tuple[str, str, int], Expected]:
    return {
        (r.case_id, r.clock, r.cycle): Expected(
            outcome=r.outcome,
            started_at=r.started_at.astimezone(UTC),
            ended_at=r.ended_at.astimezone(UTC),
            deadline=r.deadline.astimezone(UTC) if r.deadline else r.deadline,
            elapsed_seconds=round(r.elapsed_seconds, 3),
            paused_seconds=round(r.paused_seconds, 3),
        )
        for r in result.outcomes
    }


class TestHelpdeskReplay:
    def test_every_ticket_is_read(self, replayed: ReplayResult) -> None:
        """Every one of the 4,580 tickets gets its first-response and resolution clocks."""
        started = {r.case_id for r in replayed.outcomes} | {
            c.ref.case_id for c in replayed.open_clocks
        }
        assert 4580 == len(started)

    def test_outcome_ids_are_unique(self, replayed: ReplayResult) -> None:
        """No cycle ends twice."""
        ids = [r.outcome_id for r in replayed.outcomes]
        assert len(ids) == len(set(ids))

    def test_every_outcome_matches_the_independent_computation(
        self, replayed: ReplayResult, expected: tuple[dict, dict]
    ) -> None:
        """Each outcome (result, start, end, deadline, counted and paused time) is as computed."""
        done, _ = expected
        want = {
            k: Expected(
                e.outcome,
                e.started_at,
                e.ended_at,
                e.deadline,
                round(e.elapsed_seconds, 3),
                round(e.paused_seconds, 3),
            )
            for k, e in done.items()
        }
        got = _actual(replayed)
        missing = sorted(set(want) - set(got))[:5]
        extra = sorted(set(got) - set(want))[:5]
        wrong = [
            (k, want[k], got[k]) for k in sorted(want.keys() & got.keys()) if want[k] != got[k]
        ]
        assert ([], [], []) == (missing, extra, wrong[:3])
        assert len(want) == len(got)

    def test_open_clocks_match(self, replayed: ReplayResult, expected: tuple[dict, dict]) -> None:
        """Cycles still running at the end of the log, and which of them are past the deadline."""
        _, still_open = expected
        got = {(c.ref.case_id, c.ref.clock, c.ref.cycle): c.breached for c in replayed.open_clocks}
        assert still_open == got

    def test_breach_records_match_breached_outcomes(self, replayed: ReplayResult) -> None:
        """Every breached cycle, ended or open, has exactly one breach record and no retraction."""
        breached = {
            r.outcome_id.removesuffix("/outcome")
            for r in replayed.outcomes
            if r.outcome == "breached"
        }
        breached |= {
            f"{c.ref.case_id}/{c.ref.clock}/{c.ref.cycle}"
            for c in replayed.open_clocks
            if c.breached
        }
        records = [b.breach_id for b in replayed.breaches if b.type == "breach"]
        assert (breached, len(records)) == (set(records), len(set(records)))
