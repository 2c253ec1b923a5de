"""How an alert reads: one headline, a plain-text body, HTML, a Slack message, a JSON document.

Each says what the recipient needs to act: case, clock, how late (or how long is left), owner,
team, and the ack link. No customer data: the records carry none.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from alerts.notification import Alert, Notification

__all__ = ["as_document", "headline", "human", "render_html", "render_text", "slack_message"]


def human(span: timedelta) -> str:
    """A duration as staff read it.

    >>> human(timedelta(hours=2, minutes=5)), human(timedelta(seconds=40)), human(timedelta(days=3))
    ('2h 5m', '40s', '3d 0h')
    """
    seconds = int(abs(span.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _lateness(alert: Alert, now: datetime) -> str:
    if alert.deadline is None:
        return ""
    if alert.kind == "warning":
        pct = round((alert.threshold or 0) * 100)
        return f"due in {human(alert.deadline - now)} ({pct}% of its time used)"
    if alert.kind == "resolved":
        return f"stopped, outcome {alert.outcome}"
    return f"{human(now - alert.deadline)} late"


def _line(alert: Alert, now: datetime) -> str:
    owner = alert.assignee or "unassigned"
    return (
        f"case {alert.case_id} clock {alert.clock} (cycle {alert.cycle}) {_lateness(alert, now)}; "
        f"owner {owner}, team {alert.team or 'none'}"
    )


def headline(n: Notification, now: datetime) -> str:
    """One line: what happened to which case."""
    a = n.alert
    if a.kind == "digest":
        return f"DIGEST team {a.team or 'none'}: {len(n.digest)} alerts held back in one minute"
    tag = {
        "warning": "WARNING",
        "breach": "BREACH",
        "escalation": f"ESCALATION L{a.level} (unacknowledged)",
        "resolved": "RESOLVED",
    }[a.kind]
    return f"{tag} {_line(a, now)}"


def render_text(n: Notification, now: datetime) -> str:
    """The plain-text body (e-mail, console)."""
    lines = [headline(n, now)]
    lines += [f"  - {a.kind} {_line(a, now)}" for a in n.digest]
    if n.ack_url:
        lines.append(f"Acknowledge: {n.ack_url}")
    return "\n".join(lines)


def render_html(n: Notification, now: datetime) -> str:
    """The HTML body (e-mail); every value escaped."""
    items = "".join(
        f"<li>{html.escape(a.kind)} {html.escape(_line(a, now))}</li>" for a in n.digest
    )
    parts = [f"<p><strong>{html.escape(headline(n, now))}</strong></p>"]
    if items:
        parts.append(f"<ul>{items}</ul>")
    if n.ack_url:
        parts.append(f'<p><a href="{html.escape(n.ack_url, quote=True)}">Acknowledge</a></p>')
    return "<html><body>" + "".join(parts) + "</body></html>"


def slack_message(n: Notification, now: datetime) -> dict[str, Any]:
    """A Slack incoming-webhook payload: a fallback ``text`` and readable blocks."""
    a = n.alert
    fields = [
        f"*Case*\n{a.case_id}",
        f"*Clock*\n{a.clock} (cycle {a.cycle})",
        f"*How late*\n{_lateness(a, now) or '-'}",
        f"*Owner*\n{a.assignee or 'unassigned'} / {a.team or 'none'}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline(n, now)}*"}},
    ]
    if a.kind != "digest":
        blocks.append(
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]}
        )
    if n.digest:
        listing = "\n".join(f"• {d.kind} {_line(d, now)}" for d in n.digest[:40])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": listing}})
    if n.ack_url:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{n.ack_url}|Acknowledge>"}}
        )
    return {"text": render_text(n, now), "blocks": blocks}


def as_document(n: Notification, now: datetime) -> dict[str, Any]:
    """The machine-readable alert (webhook body, staff-app stream record)."""
    a = n.alert
    late = (now - a.deadline).total_seconds() if a.deadline else None
    return {
        "id": n.key,
        "kind": a.kind,
        "level": a.level,
        "recipient": n.recipient,
        "breach_id": a.breach_id,
        "case_id": a.case_id,
        "case_kind": a.case_kind,
        "clock": a.clock,
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
        "summary": headline(n, now),
        "items": [item.model_dump(mode="json") for item in n.digest],
        "sent_at": now.isoformat(),
    }
