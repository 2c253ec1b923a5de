"""Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat accept the same body)."""

from __future__ import annotations

import json
from datetime import datetime

from alerts.message import slack_message
from alerts.notification import Notification
from alerts.sinks._http import HttpPoster

__all__ = ["SlackSink"]


class SlackSink:
    """Posts a readable message: case, clock, how late, owner, ack link."""

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._http = HttpPoster(timeout)

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        body = json.dumps(slack_message(n, now)).encode()
        await self._http.post(address or self._url, body, {"Content-Type": "application/json"})

    async def close(self) -> None:
        await self._http.close()
