"""E-mail over SMTP: a plain-text and an HTML part; smtplib runs in a thread.

The recipient's address is their contact detail on the channel; it goes to the SMTP server and
nowhere else (not into logs, reasons or metrics).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from alerts.notification import Notification
from alerts.render import Renderer
from alerts.sinks.base import SendError

__all__ = ["EmailSink"]


class EmailSink:
    """Sends each notification as one e-mail.

    Args:
        security: ``none``, ``starttls`` (upgrade on the plain port) or ``tls`` (implicit TLS).
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        renderer: Renderer | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._security = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._renderer = renderer or Renderer()

    def message(self, n: Notification, to: str, now: datetime) -> EmailMessage:
        """The e-mail for ``n``."""
        msg = EmailMessage()
        msg["Subject"] = self._renderer.title(n, now)[:200]
        msg["From"] = self._sender
        msg["To"] = to
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = make_msgid(domain="slawatch")
        msg["X-Slawatch-Key"] = n.key
        msg.set_content(self._renderer.text(n, now))
        msg.add_alternative(self._renderer.html(n, now), subtype="html")
        return msg

    def _send_blocking(self, msg: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self._security == "tls":
            smtp = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            if self._security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self._username and self._password:
                smtp.login(self._username, self._password)
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
