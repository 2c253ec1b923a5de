"""The machine-readable alert (webhook body, staff-app stream record).

How an alert reads for people is the templates' (:mod:`alerts.templates`,
:mod:`alerts.render`); this document carries the same facts as values, plus the rendered
title as ``summary`` and the clock's display name. No customer data: the records carry none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.notification import Notification
from alerts.render import Renderer

__all__ = ["as_document"]


def as_document(n: Notification, now: datetime, renderer: Renderer) -> dict[str, Any]:
    """The alert as JSON-ready values; ``summary`` is the title in the recipient's language."""
    a = n.alert
    late = (now - a.deadline).total_seconds() if a.deadline else None
    locale = renderer.locale(n)
    return {
        "id": n.key,
        "kind": a.kind,
        "level": a.level,
        "recipient": n.recipient,
        "breach_id": a.breach_id,
        "case_id": a.case_id,
        "case_kind": a.case_kind,
        "clock": a.clock,
        "clock_name": renderer.clock_name(a.clock, locale),
        "cycle": a.cycle,
        "team": a.team,
        "region": a.region,
        "department": a.department,
        "assignee": a.assignee,
        "threshold": a.threshold,
        "deadline": a.deadline.isoformat() if a.deadline else None,
        "late_seconds": late,
        "outcome": a.outcome,
        "ack_url": n.ack_url,
        "locale": locale,
        "summary": renderer.title(n, now),
        "items": [item.model_dump(mode="json") for item in n.digest],
        "sent_at": now.isoformat(),
    }
