"""E-mail over SMTP: a plain-text and an HTML part; smtplib runs in a thread.

The recipient's address is their contact detail on the channel; it goes to the SMTP server and
nowhere else (not into logs, reasons or metrics).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from alerts.notification import Notification
from alerts.render import Renderer
from alerts.sinks.base import SendError

__all__ = ["EmailSink", "SmtpServer"]


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand e-mail over.

    Attributes:
        security: ``none``, ``starttls`` (upgrade on the plain port) or ``tls`` (implicit TLS).
        username: with ``password``, log in before sending; the server decides if it must.
        timeout: seconds for the connection and each command.
    """

    host: str
    port: int
    security: str = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0

    def connect(self) -> smtplib.SMTP:
        """An open, upgraded and logged-in connection (use it in a ``with`` block)."""
        smtp: smtplib.SMTP
        if self.security == "tls":
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp


@dataclass(frozen=True)
class EmailSink:
    """Sends each notification as one e-mail, from ``sender`` through ``server``."""

    server: SmtpServer
    sender: str
    renderer: Renderer = field(default_factory=Renderer)

    def message(self, n: Notification, to: str, now: datetime) -> EmailMessage:
        """The e-mail for ``n``."""
        msg = EmailMessage()
        msg["Subject"] = self.renderer.title(n, now)[:200]
        msg["From"] = self.sender
        msg["To"] = to
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = make_msgid(domain="slawatch")
        msg["X-Slawatch-Key"] = n.key
        msg.set_content(self.renderer.text(n, now))
        msg.add_alternative(self.renderer.html(n, now), subtype="html")
        return msg

    def _send_blocking(self, msg: EmailMessage) -> None:
        with self.server.connect() as smtp:
            smtp.send_message(msg)

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        if not address:
            raise SendError("no e-mail address for this recipient", retryable=False)
        msg = self.message(n, address, now)
        try:
            await asyncio.to_thread(self._send_blocking, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError("smtp recipient refused", retryable=False) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"smtp authentication failed ({exc.smtp_code})", retryable=False
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"smtp {exc.smtp_code}", retryable=exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"smtp connection failed ({type(exc).__name__})") from exc

    async def close(self) -> None:
        return None
