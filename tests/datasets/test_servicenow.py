"""The ServiceNow incident log, wired by configuration only, replayed and checked one by one.

The expected outcomes are computed here, independently of the product: straight from the CSV
with the standard library and the rules the policy file and docs/design.md state. The test
replays the plain-CSV subset (the first 5,000 incidents, 35,082 updates); the full log is the
zip beside it (docs/replay.md and bench/replay.py use that).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from slawatch.replay import ReplayResult, replay_files
from tests.datasets._outcomes import Expected, assert_outcomes_match, deadline_after
from tests.datasets.conftest import DATASETS, data_file

TOPICS = DATASETS / "servicenow-topics.yaml"
POLICIES = DATASETS / "servicenow-policies.yaml"
SUBSET = ("servicenow-incidents", "incident_event_log_first5000.csv")
LATENESS = timedelta(minutes=5)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

AWAITING = {"Awaiting User Info", "Awaiting Vendor", "Awaiting Problem", "Awaiting Evidence"}
IN_HAND = {"New", "Active"}
DONE = {"Resolved", "Closed"}
FIRST_RESPONSE_STOPS = {"Active"} | AWAITING | DONE
WAIT_STOPS = IN_HAND | (AWAITING - {"Awaiting User Info"}) | DONE

FIRST_RESPONSE_LIMIT = {"1 - Critical": HOUR, "2 - High": 4 * HOUR, "4 - Low": 24 * HOUR}
RESOLUTION_LIMIT = {"1 - Critical": DAY, "2 - High": 2 * DAY, "4 - Low": 10 * DAY}


@dataclass(frozen=True)
class Update:
    at: datetime
    state: str
    order: int = 0  # sys_mod_count: the order of updates within one minute


@dataclass(frozen=True)
class Incident:
    opened_at: datetime
    priority: str
    updates: list[Update]


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=UTC)


def _read() -> dict[str, Incident]:
    """Per incident: opened_at and priority of its first row, updates in time order (ties in
    sys_mod_count order, the topic's order_by), an update repeating the state at the same
    minute once (the first made), state -100 left out."""
    rows: dict[str, list[dict[str, str]]] = {}
    with data_file(*SUBSET).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["number"], []).append(row)
    incidents = {}
    for number, items in rows.items():
        updates: list[Update] = []
        seen: set[tuple[datetime, str]] = set()
        for row in sorted(
            items, key=lambda r: (_time(r["sys_updated_at"]), int(r["sys_mod_count"]))
        ):
            update = Update(
                _time(row["sys_updated_at"]), row["incident_state"], int(row["sys_mod_count"])
            )
            if update.state == "-100" or (update.at, update.state) in seen:
                continue
            seen.add((update.at, update.state))
            updates.append(update)
        first = items[0]
        incidents[number] = Incident(_time(first["opened_at"]), first["priority"], updates)
    return incidents


def _pauses(updates: list[Update], end: datetime) -> list[tuple[datetime, datetime]]:
    """Awaiting states pause, New/Active resume; at one instant in sys_mod_count order."""
    marks = [
        (u.at, 0 if u.state in IN_HAND else 1) for u in updates if u.state in AWAITING | IN_HAND
    ]
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


def expected_outcomes(
    incidents: dict[str, Incident], watermark: datetime
) -> tuple[dict[tuple[str, str, int], Expected], dict[tuple[str, str, int], bool]]:
    """(case, clock, cycle) -> expected outcome; and of the cycles left open, whether breached."""
    done: dict[tuple[str, str, int], Expected] = {}
    still_open: dict[tuple[str, str, int], bool] = {}
    for number, incident in incidents.items():
        opened = incident.opened_at
        after = [u for u in incident.updates if u.at >= opened]  # earlier ones have no clock yet

        limit = FIRST_RESPONSE_LIMIT.get(incident.priority, 8 * HOUR)
        stop = next((u.at for u in after if u.state in FIRST_RESPONSE_STOPS), None)
        key = (number, "incident_first_response", 1)
        if stop is None:
            still_open[key] = opened + limit <= watermark
        else:
            done[key] = _judge(opened, stop, limit, [])

        limit = RESOLUTION_LIMIT.get(incident.priority, 5 * DAY)
        index = next((i for i, u in enumerate(after) if u.state in DONE), None)
        key = (number, "incident_resolution", 1)
        if index is None:
            pauses = _pauses(after, watermark)
            still_open[key] = deadline_after(opened, limit, pauses) <= watermark
        else:
            end = after[index].at
            done[key] = _judge(opened, end, limit, _pauses(after[:index], end))

        _waits(number, incident.updates, watermark, done, still_open)
    return done, still_open


def _judge(
    start: datetime, end: datetime, limit: timedelta, pauses: list[tuple[datetime, datetime]]
) -> Expected:
    deadline = deadline_after(start, limit, pauses)
    paused = sum((min(p1, end) - p0 for p0, p1 in pauses if p0 < end), timedelta(0))
    return Expected(
        outcome="met" if end <= deadline else "breached",
        started_at=start,
        ended_at=end,
        deadline=deadline,
        elapsed_seconds=(end - start - paused).total_seconds(),
        paused_seconds=paused.total_seconds(),
    )


def _waits(
    number: str,
    updates: list[Update],
    watermark: datetime,
    done: dict[tuple[str, str, int], Expected],
    still_open: dict[tuple[str, str, int], bool],
) -> None:
    """Cycles of the awaiting-user clock: from Awaiting User Info to the next other state.

    A start while one runs is ignored; a start at the very instant the previous cycle ended
    is stale. A stop with nothing running ends nothing: at its own instant it was made before
    any start there (sys_mod_count), so it is not that start's stop.
    """
    limit = 5 * DAY
    cycle, running, last_end = 0, None, None

    def end(at: datetime) -> None:
        nonlocal running, last_end
        assert running is not None
        done[(number, "incident_awaiting_user", cycle)] = _judge(running, at, limit, [])
        running, last_end = None, at

    for update in updates:
        if update.state in WAIT_STOPS:
            if running is not None:
                end(update.at)
        elif update.state == "Awaiting User Info":
            if running is not None or (last_end is not None and update.at <= last_end):
                continue
            cycle += 1
            running = update.at
    if running is not None:
        still_open[(number, "incident_awaiting_user", cycle)] = running + limit <= watermark


@pytest.fixture(scope="module")
def replayed() -> tuple[ReplayResult, dict[str, int]]:
    result, stats = replay_files([str(data_file(*SUBSET))], TOPICS, POLICIES)
    return result, dict(stats.rejected) | {"skipped": sum(stats.skipped.values())}


@pytest.fixture(scope="module")
def expected() -> tuple[dict, dict]:
    incidents = _read()
    latest = max(max([i.opened_at] + [u.at for u in i.updates]) for i in incidents.values())
    return expected_outcomes(incidents, latest - LATENESS)


class TestServiceNowReplay:
    def test_only_the_non_states_are_skipped(self, replayed: tuple[ReplayResult, dict]) -> None:
        """No record is refused; only updates whose state is -100 are skipped (by the updates
        topic's ``unmapped: drop``)."""
        _, counts = replayed
        with data_file(*SUBSET).open(newline="", encoding="utf-8") as handle:
            non_states = sum(1 for row in csv.DictReader(handle) if row["incident_state"] == "-100")
        assert {"skipped": non_states} == counts

    def test_every_incident_is_read(self, replayed: tuple[ReplayResult, dict]) -> None:
        """Every one of the 5,000 incidents gets its first-response and resolution clocks."""
        result, _ = replayed
        cases = {r.case_id for r in result.outcomes if r.clock == "incident_resolution"}
        cases |= {c.ref.case_id for c in result.open_clocks if c.ref.clock == "incident_resolution"}
        assert 5000 == len(cases)

    def test_every_outcome_matches_the_independent_computation(
        self, replayed: tuple[ReplayResult, dict], expected: tuple[dict, dict]
    ) -> None:
        """Each outcome (result, start, end, deadline, counted and paused time) is as computed."""
        result, _ = replayed
        assert_outcomes_match(expected[0], result)

    def test_open_clocks_match(
        self, replayed: tuple[ReplayResult, dict], expected: tuple[dict, dict]
    ) -> None:
        """Cycles still running at the end of the log, and which of them are past the deadline."""
        result, _ = replayed
        got = {(c.ref.case_id, c.ref.clock, c.ref.cycle): c.breached for c in result.open_clocks}
        assert expected[1] == got

    def test_priority_sets_the_terms(self, replayed: tuple[ReplayResult, dict]) -> None:
        """Critical incidents are judged by the expedited standard, the others by the basic one."""
        result, _ = replayed
        standards = {
            (r.clock, r.standard, r.target)
            for r in result.outcomes
            if r.clock != "incident_awaiting_user"
        }
        assert {
            ("incident_first_response", "basic", 0.95),
            ("incident_first_response", "expedited", 0.98),
            ("incident_resolution", "basic", 0.95),
            ("incident_resolution", "expedited", 0.98),
        } == standards
