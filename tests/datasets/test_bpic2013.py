"""The BPI Challenge 2013 incident log, wired by configuration only, replayed and checked one by
one.

The expected outcomes are computed here, independently of the product: straight from the CSV
with the standard library and the rules the policy file and docs/reference/policies.md state
(``start: first_event`` with ``first_event_also: [pause]``, ``resume: other``, an event type
joined from status and sub-status, ``allowed_lateness: 0s``, replay's retention).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from slawatch.replay import DEFAULT_RETENTION, ReplayResult, replay_files
from tests.datasets._outcomes import Expected, assert_outcomes_match, deadline_after
from tests.datasets.conftest import DATASETS, data_file

TOPICS = DATASETS / "bpic2013-topics.yaml"
POLICIES = DATASETS / "bpic2013-policies.yaml"
LOG = ("bpic2013-incidents", "bpic2013_incidents.csv")
DAY = timedelta(days=1)

WAITS = {"Wait", "Wait - User", "Wait - Implementation", "Wait - Vendor", "Wait - Customer"}
RESOLVED = {("Completed", "Resolved"), ("Completed", "Closed"), ("Completed", "In Call")}
CANCELLED = ("Completed", "Cancelled")
QUEUED = ("Queued", "Awaiting Assignment")
RESOLUTION_LIMIT = {"Major": DAY, "High": 2 * DAY, "Low": 10 * DAY}
QUEUE_LIMIT = timedelta(hours=24)


@dataclass(frozen=True)
class Change:
    at: datetime
    index: int
    status: str
    sub_status: str
    impact: str

    @property
    def state(self) -> tuple[str, str]:
        return (self.status, self.sub_status)

    @property
    def waits(self) -> bool:
        return self.status == "Accepted" and self.sub_status in WAITS


def _read() -> dict[str, list[Change]]:
    """Status changes per incident, in time order (then event index)."""
    incidents: dict[str, list[Change]] = {}
    with data_file(*LOG).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            change = Change(
                datetime.fromisoformat(row["timestamp"]).astimezone(UTC),
                int(row["event_index"]),
                row["status"],
                row["sub_status"],
                row["impact"],
            )
            incidents.setdefault(row["case_id"], []).append(change)
    return {k: sorted(v, key=lambda c: (c.at, c.index)) for k, v in incidents.items()}


def _judge(
    outcome: str,
    start: datetime,
    end: datetime,
    limit: timedelta,
    pauses: list[tuple[datetime, datetime]],
) -> Expected:
    deadline = deadline_after(start, limit, pauses)
    paused = sum((p1 - p0 for p0, p1 in pauses), timedelta(0))
    if outcome == "stop":
        outcome = "met" if end <= deadline else "breached"
    return Expected(
        outcome,
        start,
        end,
        deadline,
        (end - start - paused).total_seconds(),
        paused.total_seconds(),
    )


@dataclass
class Resolution:
    """One running cycle of the resolution clock: start, limit and pauses so far."""

    number: int
    start: datetime
    limit: timedelta
    pauses: list[tuple[datetime, datetime]] = field(default_factory=list)
    paused_since: datetime | None = None

    def closed_pauses(self, end: datetime) -> list[tuple[datetime, datetime]]:
        still = [] if self.paused_since is None else [(self.paused_since, end)]
        return self.pauses + still


def expected_outcomes(
    incidents: dict[str, list[Change]], watermark: datetime
) -> tuple[dict[tuple[str, str, int], Expected], dict[tuple[str, str, int], bool], int]:
    """(case, clock, cycle) -> expected outcome; the open cycles (breached or not); and how
    many incidents retention forgot before they had events again."""
    done: dict[tuple[str, str, int], Expected] = {}
    still_open: dict[tuple[str, str, int], bool] = {}
    revived = 0
    for case, changes in incidents.items():
        resolution: Resolution | None = None
        resolutions = queues = 0
        queued: datetime | None = None
        first, last = True, None
        for change in changes:
            idle = resolution is None and queued is None
            if last is not None and idle and change.at >= last + DEFAULT_RETENTION:
                first, revived = True, revived + 1  # forgotten: starts afresh, numbered on
            last = change.at
            state = change.state
            # Resolution: the first record starts it (paused when it is a wait), nothing else.
            if first:
                resolutions += 1
                limit = RESOLUTION_LIMIT.get(change.impact, 5 * DAY)
                resolution = Resolution(resolutions, change.at, limit)
                resolution.paused_since = change.at if change.waits else None
            elif resolution is not None:
                if state in RESOLVED or state == CANCELLED:
                    kind = "stop" if state in RESOLVED else "cancelled"
                    pauses = resolution.closed_pauses(change.at)
                    key = (case, "incident_resolution", resolution.number)
                    done[key] = _judge(kind, resolution.start, change.at, resolution.limit, pauses)
                    resolution = None
                elif change.waits:
                    resolution.paused_since = resolution.paused_since or change.at
                elif resolution.paused_since is not None:  # any other change resumes
                    resolution.pauses.append((resolution.paused_since, change.at))
                    resolution.paused_since = None
            first = False
            # Queue: from Queued/Awaiting Assignment to the next other status.
            if state == QUEUED:
                if queued is None:
                    queues += 1
                    queued = change.at
            elif queued is not None:
                done[(case, "incident_queue", queues)] = _judge(
                    "stop", queued, change.at, QUEUE_LIMIT, []
                )
                queued = None
        if resolution is not None:
            pauses = resolution.closed_pauses(watermark)
            deadline = deadline_after(resolution.start, resolution.limit, pauses)
            still_open[(case, "incident_resolution", resolution.number)] = deadline <= watermark
        if queued is not None:
            still_open[(case, "incident_queue", queues)] = queued + QUEUE_LIMIT <= watermark
    return done, still_open, revived


@pytest.fixture(scope="module")
def replayed() -> tuple[ReplayResult, dict[str, int]]:
    result, stats = replay_files([str(data_file(*LOG))], TOPICS, POLICIES)
    return result, dict(stats.rejected) | dict(stats.skipped)


@pytest.fixture(scope="module")
def expected() -> tuple[dict, dict, int]:
    incidents = _read()
    latest = max(c.at for changes in incidents.values() for c in changes)
    return expected_outcomes(incidents, latest)  # allowed_lateness: 0s


class TestBpic2013Replay:
    def test_every_record_maps(self, replayed: tuple[ReplayResult, dict]) -> None:
        """Every status/sub-status pair is named in event_types: nothing refused or skipped."""
        result, refused = replayed
        assert ({}, 65_533) == (refused, result.events)

    def test_every_incident_gets_a_resolution_clock(
        self, replayed: tuple[ReplayResult, dict]
    ) -> None:
        result, _ = replayed
        cases = {r.case_id for r in result.outcomes if r.clock == "incident_resolution"}
        cases |= {c.ref.case_id for c in result.open_clocks if c.ref.clock == "incident_resolution"}
        assert 7554 == len(cases)

    def test_every_outcome_matches_the_independent_computation(
        self, replayed: tuple[ReplayResult, dict], expected: tuple[dict, dict, int]
    ) -> None:
        """Each outcome (result, start, end, deadline, counted and paused time) is as computed."""
        result, _ = replayed
        assert_outcomes_match(expected[0], result)

    def test_open_clocks_match(
        self, replayed: tuple[ReplayResult, dict], expected: tuple[dict, dict, int]
    ) -> None:
        """Cycles still running at the end of the log, and which of them are past the deadline."""
        result, _ = replayed
        got = {(c.ref.case_id, c.ref.clock, c.ref.cycle): c.breached for c in result.open_clocks}
        assert expected[1] == got

    def test_a_forgotten_incident_numbers_its_cycles_on(
        self, replayed: tuple[ReplayResult, dict], expected: tuple[dict, dict, int]
    ) -> None:
        """1-364285768 is idle for two years after its resolution; its next one is cycle 2."""
        result, _ = replayed
        assert (expected[2], result.revived) == (1, 1)
        ids = [r.outcome_id for r in result.outcomes]
        assert "1-364285768/incident_resolution/2/outcome" in ids
        assert len(ids) == len(set(ids))

    def test_a_first_record_that_resolves_only_starts_the_clock(
        self, replayed: tuple[ReplayResult, dict]
    ) -> None:
        """No resolution is met in 0 s: a first record that is a resolution does not stop it."""
        result, _ = replayed
        instant = [
            r.outcome_id
            for r in result.outcomes
            if r.clock == "incident_resolution" and r.ended_at == r.started_at
        ]
        assert instant == []

    def test_impact_sets_the_terms(self, replayed: tuple[ReplayResult, dict]) -> None:
        """Major impact is judged by the expedited standard, every other impact by the basic."""
        result, _ = replayed
        standards = {
            (result.cases[r.case_id]["priority"], r.standard)
            for r in result.outcomes
            if r.clock == "incident_resolution"
        }
        assert standards == {
            ("Major", "expedited"),
            ("High", "basic"),
            ("Medium", "basic"),
            ("Low", "basic"),
        }
