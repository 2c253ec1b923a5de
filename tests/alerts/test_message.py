"""How alerts read on each channel: case, clock, how late, owner, ack link; HTML escaped."""

from __future__ import annotations

from datetime import timedelta

from alerts.message import as_document, headline, render_html, slack_message
from alerts.notification import AlertKind, Notification, alert_from, notification_key
from sla.records import BreachRecord, WarningRecord
from tests.alerts.conftest import T0, breach, warning


def note(record: BreachRecord | WarningRecord) -> Notification:
    kind: AlertKind = "breach" if isinstance(record, BreachRecord) else "warning"
    alert = alert_from(record, kind=kind)
    return Notification(
        key=notification_key(alert, "agent-1", "console"),
        recipient="agent-1",
        channel="console",
        alert=alert,
        ack_url="http://w/ack?b=x&sig=y",
        created_at=T0,
    )


class TestMessages:
    def test_breach_headline_says_how_late(self) -> None:
        """A breach read 2 h 5 m after its deadline says so, with case, clock and owner."""
        text = headline(note(breach()), T0 + timedelta(hours=2, minutes=5))
        assert (
            "BREACH case C-1 clock complaint_first_response (cycle 1) 2h 5m late; "
            "owner agent-1, team cs-frontline"
        ) == text

    def test_warning_says_time_left(self) -> None:
        """A warning says how long is left and how much time is used."""
        text = headline(note(warning()), T0)
        assert "due in 1h 0m (80% of its time used)" in text

    def test_slack_message_has_the_ack_link(self) -> None:
        """The Slack blocks end with the acknowledgement link."""
        message = slack_message(note(breach()), T0)
        assert "<http://w/ack?b=x&sig=y|Acknowledge>" == message["blocks"][-1]["text"]["text"]

    def test_html_is_escaped(self) -> None:
        """Values are escaped in HTML (an id with markup stays text)."""
        html = render_html(note(breach(case_id="<b>C</b>")), T0)
        assert "&lt;b&gt;C&lt;/b&gt;" in html
        assert "<b>C</b>" not in html

    def test_document_has_what_a_staff_screen_needs(self) -> None:
        """The JSON document carries ids, lateness in seconds and the ack link."""
        doc = as_document(note(breach()), T0 + timedelta(seconds=90))
        assert (
            90.0,
            "C-1/complaint_first_response/1/L1/agent-1/console",
            "http://w/ack?b=x&sig=y",
        ) == (
            doc["late_seconds"],
            doc["id"],
            doc["ack_url"],
        )
