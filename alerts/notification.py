"""What is delivered: an :class:`Alert` (what happened) to one recipient on one channel.

A notification carries staff and organisation ids and the case id, never a contact detail:
addresses are looked up by the channel at send time, so the outbox, the dead-letter stream and
the logs hold none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sla.records import (
    BreachRecord,
    ClockRef,
    CycleRef,
    OutcomeRecord,
    Owners,
    WarningRecord,
    breach_id,
)

__all__ = ["Alert", "AlertKind", "Notification", "alert_from", "notification_key"]

AlertKind = Literal["warning", "breach", "escalation", "resolved", "digest"]


class Alert(Owners, CycleRef):
    """One thing staff must hear about: a warning, a breach, an escalation, a resolution."""

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    stage: str = Field(description="w80, L1, L2, L3, resolved: part of the dedupe key")
    level: str = Field(description="metric label: warning, 1, 2, 3, resolved, digest")
    breach_id: str
    threshold: float | None = None
    deadline: datetime | None = None
    occurred_at: datetime = Field(description="when the warning or breach was emitted")
    outcome: str | None = None


#: The fields an alert copies from its record.
_SHARED: set[str] = {*CycleRef.model_fields, *Owners.model_fields}


def alert_from(record: ClockRef, *, kind: AlertKind, level: int | None = None) -> Alert:
    """The alert for a warning, breach or outcome record; ``level`` for breaches (1, 2, ...)."""
    bid = breach_id(record.case_id, record.clock, record.cycle)
    common = {"breach_id": bid, **record.model_dump(include=_SHARED)}
    if isinstance(record, WarningRecord):
        pct = round(record.threshold * 100)
        return Alert(
            kind="warning",
            stage=f"w{pct}",
            level="warning",
            threshold=record.threshold,
            deadline=record.deadline,
            occurred_at=record.emitted_at,
            **common,
        )
    if isinstance(record, BreachRecord):
        lvl = level or 1
        return Alert(
            kind="breach" if lvl == 1 else "escalation",
            stage=f"L{lvl}",
            level=str(lvl),
            deadline=record.deadline,
            occurred_at=record.emitted_at,
            **common,
        )
    if isinstance(record, OutcomeRecord):
        return Alert(
            kind="resolved",
            stage="resolved",
            level="resolved",
            deadline=record.deadline,
            occurred_at=record.ended_at,
            outcome=record.outcome,
            **common,
        )
    raise TypeError(
        f"cannot alert on {type(record).__name__}; expected a warning, breach or outcome"
    )


def notification_key(alert: Alert, recipient: str, channel: str) -> str:
    """The dedupe key: one notification per (case, clock, cycle, stage, recipient, channel).

    >>> from datetime import UTC
    >>> a = Alert(kind="breach", stage="L1", level="1", breach_id="C-1/reply/1", case_id="C-1",
    ...           case_kind="complaint", clock="reply", cycle=1,
    ...           occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
    >>> notification_key(a, "agent-7", "console")
    'C-1/reply/1/L1/agent-7/console'
    """
    return f"{alert.breach_id}/{alert.stage}/{recipient}/{channel}"


class Notification(BaseModel):
    """One alert to one recipient (a staff id or ``team:<id>``) on one named channel."""

    model_config = ConfigDict(frozen=True)

    key: str
    recipient: str
    channel: str
    alert: Alert
    ack_url: str | None = None
    digest: list[Alert] = Field(default_factory=list, description="alerts folded into a digest")
    created_at: datetime

    @classmethod
    def to(
        cls,
        alert: Alert,
        recipient: str,
        channel: str,
        now: datetime,
        *,
        ack_url: str | None = None,
        digest: Sequence[Alert] = (),
    ) -> Notification:
        """The notification of ``alert`` for one recipient and channel, keyed for dedupe."""
        return cls(
            key=notification_key(alert, recipient, channel),
            recipient=recipient,
            channel=channel,
            alert=alert,
            ack_url=ack_url,
            digest=list(digest),
            created_at=now,
        )

    @property
    def team_stream(self) -> str:
        """The team whose stream and storm budget this notification belongs to."""
        if self.recipient.startswith("team:"):
            return self.recipient.removeprefix("team:")
        return self.alert.team or "none"
