"""The records slawatch emits: warnings, breaches (and their retractions) and clock outcomes.

Ids are deterministic, built from (case, clock, cycle[, threshold]), so a record emitted twice
(at-least-once delivery, a restart between send and commit) can be deduplicated by any reader.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BreachRecord",
    "ClockRef",
    "CycleRef",
    "OpenCycleRecord",
    "OutcomeRecord",
    "Owners",
    "Terms",
    "WarningRecord",
    "breach_id",
    "outcome_id",
    "warning_id",
]

Outcome = Literal["met", "breached", "cancelled", "reset"]


def breach_id(case_id: str, clock: str, cycle: int) -> str:
    """The id shared by a breach and its retraction.

    >>> breach_id("C-1", "complaint_first_response", 1)
    'C-1/complaint_first_response/1'
    """
    return f"{case_id}/{clock}/{cycle}"


def outcome_id(case_id: str, clock: str, cycle: int) -> str:
    """The id of the outcome record of one cycle.

    >>> outcome_id("C-1", "complaint_first_response", 1)
    'C-1/complaint_first_response/1/outcome'
    """
    return f"{breach_id(case_id, clock, cycle)}/outcome"


def warning_id(case_id: str, clock: str, cycle: int, threshold: float) -> str:
    """The id of the warning at ``threshold`` (a fraction of the limit).

    >>> warning_id("C-1", "complaint_first_response", 1, 0.8)
    'C-1/complaint_first_response/1/w80'
    """
    return f"{breach_id(case_id, clock, cycle)}/w{round(threshold * 100)}"


class CycleRef(BaseModel):
    """Which cycle of which clock of which case: what records and alerts are about."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    case_kind: str
    clock: str
    cycle: int


class Terms(BaseModel):
    """The policy version that judged a cycle, and the standard and target it was held to."""

    model_config = ConfigDict(frozen=True)

    policy_version: str
    standard: str
    target: float


class Owners(BaseModel):
    """Who a case belongs to, as the events said: routing and metric labels use these."""

    model_config = ConfigDict(frozen=True)

    team: str | None = None
    region: str | None = None
    department: str | None = None
    assignee: str | None = None


class ClockRef(Owners, Terms, CycleRef):
    """Which clock of which case, judged by which policy version, owned by whom.

    Its fields, in order: those of :class:`CycleRef`, :class:`Terms`, then :class:`Owners`
    (pydantic lays out base fields from the last base to the first), as records have always
    been written.
    """


class WarningRecord(ClockRef):
    """A clock passed a warning threshold (e.g. 80 % of its limit) and is still running."""

    type: Literal["warning"] = "warning"
    warning_id: str
    threshold: float
    started_at: datetime
    due_at: datetime
    deadline: datetime
    emitted_at: datetime


class BreachRecord(ClockRef):
    """A deadline passed with the clock still open, or a correction of such a breach.

    ``type="breach_retracted"`` says a stop with an event time before the deadline arrived
    after the breach was emitted: history is corrected, not rewritten.
    """

    type: Literal["breach", "breach_retracted"] = "breach"
    breach_id: str
    started_at: datetime
    deadline: datetime
    emitted_at: datetime
    stopped_at: datetime | None = None


class OutcomeRecord(ClockRef):
    """How one cycle of one clock ended."""

    type: Literal["outcome"] = "outcome"
    outcome_id: str
    outcome: Outcome
    started_at: datetime
    deadline: datetime | None
    ended_at: datetime
    elapsed_seconds: float
    paused_seconds: float


class OpenCycleRecord(ClockRef):
    """A cycle still running when a replay ended, as of ``as_of`` (replay's last watermark).

    Written by ``slawatch replay --out`` beside the outcomes (``outcome: open``), so a clock
    still open is told apart from one that never started. Never sent to ``sla.outcomes``.

    Attributes:
        deadline: the deadline as of ``as_of``; None while the cycle is paused.
        breached: its deadline had passed by ``as_of`` (the breach record was written).
        elapsed_seconds: counted time so far (working time for working-time limits).
        paused_seconds: paused time so far.
    """

    type: Literal["open"] = "open"
    outcome_id: str
    outcome: Literal["open"] = "open"
    started_at: datetime
    deadline: datetime | None
    as_of: datetime
    breached: bool
    elapsed_seconds: float
    paused_seconds: float
