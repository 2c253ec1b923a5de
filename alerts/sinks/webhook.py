"""Generic webhook: the alert as JSON, signed so the receiver knows it came from slawatch.

Headers: ``X-Slawatch-Signature: sha256=<hex>`` (HMAC-SHA256 of the exact body with the shared
secret), ``X-Slawatch-Timestamp`` (unix seconds; the body's ``sent_at`` is signed too), and
``Idempotency-Key`` (the notification key, the same on every retry). Retries with exponential
backoff and jitter, and the dead-letter record after the last try, are the dispatcher's: they
are durable in Redis and the same for every channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from alerts.message import as_document
from alerts.notification import Notification
from alerts.render import Renderer
from alerts.sinks._http import HttpPoster

__all__ = ["SIGNATURE_HEADER", "WebhookSink", "sign", "verify"]

SIGNATURE_HEADER = "X-Slawatch-Signature"


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value for ``body``.

    >>> sign(b"s3cret", b"{}")
    'sha256=adbde1ce40c89c14215687d5d762a47df6dfaefcfad61e2e86718ffc8498571b'
    """
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body``: what a receiver checks."""
    return hmac.compare_digest(sign(secret, body), header)


class WebhookSink:
    """POSTs each notification to the channel's URL (or the recipient's own)."""

    def __init__(
        self, url: str, secret: bytes, timeout: float, renderer: Renderer | None = None
    ) -> None:
        self._url = url
        self._secret = secret
        self._http = HttpPoster(timeout)
        self._renderer = renderer or Renderer()

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        doc = as_document(n, now, self._renderer)
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            "X-Slawatch-Timestamp": str(int(now.timestamp())),
            "Idempotency-Key": n.key,
            "User-Agent": "slawatch-alerts",
        }
        await self._http.post(address or self._url, body, headers)

    async def close(self) -> None:
        await self._http.close()
