"""Console output for the demo and local runs: one line per alert (recipient id, never address)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from alerts.notification import Notification
from alerts.render import Renderer

__all__ = ["ConsoleSink"]


class ConsoleSink:
    """Writes ``[alert <level> -> <recipient>] <text>`` to a stream (the plain-text template)."""

    def __init__(self, stream: TextIO | None = None, renderer: Renderer | None = None) -> None:
        self._stream = stream
        self._renderer = renderer or Renderer()

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        out = self._stream or sys.stdout
        text = self._renderer.text(n, now).replace("\n", "\n    ")
        out.write(f"[alert {n.alert.level} -> {n.recipient}] {text}\n")
        out.flush()

    async def close(self) -> None:
        return None
