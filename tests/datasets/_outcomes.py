"""What the dataset tests share: the expected outcome, calendar-time deadlines, and the
outcome-by-outcome comparison of a replay with the independent computation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slawatch.replay import ReplayResult

Key = tuple[str, str, int]


@dataclass(frozen=True)
class Expected:
    outcome: str
    started_at: datetime
    ended_at: datetime
    deadline: datetime
    elapsed_seconds: float
    paused_seconds: float


def deadline_after(
    start: datetime, limit: timedelta, pauses: list[tuple[datetime, datetime]]
) -> datetime:
    """When ``limit`` of unpaused calendar time has passed since ``start``."""
    left, cursor = limit, start
    for p0, p1 in pauses:
        if p0 - cursor >= left:
            break
        left -= p0 - cursor
        cursor = p1
    return cursor + left


def rounded(e: Expected) -> Expected:
    """Times in UTC and seconds to the millisecond, so equal outcomes compare equal."""
    return Expected(
        e.outcome,
        e.started_at.astimezone(UTC),
        e.ended_at.astimezone(UTC),
        e.deadline.astimezone(UTC),
        round(e.elapsed_seconds, 3),
        round(e.paused_seconds, 3),
    )


def assert_outcomes_match(want: dict[Key, Expected], result: ReplayResult) -> None:
    """Every expected outcome was produced, no other, each with the same values."""
    expected = {k: rounded(e) for k, e in want.items()}
    got = {
        (r.case_id, r.clock, r.cycle): rounded(
            Expected(
                r.outcome,
                r.started_at,
                r.ended_at,
                r.deadline or r.ended_at,
                r.elapsed_seconds,
                r.paused_seconds,
            )
        )
        for r in result.outcomes
    }
    missing = sorted(set(expected) - set(got))[:5]
    extra = sorted(set(got) - set(expected))[:5]
    wrong = [
        (k, expected[k], got[k])
        for k in sorted(expected.keys() & got.keys())
        if expected[k] != got[k]
    ]
    assert ([], [], []) == (missing, extra, wrong[:3])
    assert len(expected) == len(got)
