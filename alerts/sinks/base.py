"""The one interface every channel implements, and the error a failed try raises."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from alerts.notification import Notification

__all__ = ["SendError", "Sink"]


class SendError(Exception):
    """A try that failed. ``reason`` is stored and logged, so it never holds an address or URL.

    Args:
        reason: short and safe, e.g. ``http 503``, ``timeout after 10s``, ``smtp 451``.
        retryable: False when trying again cannot help (a 4xx answer, a refused address).
    """

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Sink(Protocol):
    """A channel: delivers one notification per call, or raises :class:`SendError`."""

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        """Deliver ``n``; ``address`` is the recipient's contact on this channel, if any."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
