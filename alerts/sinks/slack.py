"""Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat accept the same body)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from alerts.notification import Notification
from alerts.render import Renderer
from alerts.sinks._http import HttpPoster

__all__ = ["SlackSink", "slack_message"]


def slack_message(n: Notification, now: datetime, renderer: Renderer) -> dict[str, Any]:
    """A fallback ``text`` (the plain-text template) and blocks: title, body, ack link."""
    body = renderer.text(n, now).split("\n", 1)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{body[0]}*"}},
    ]
    if len(body) > 1 and body[1].strip():
        details = body[1]
        if n.ack_url:
            details = "\n".join(line for line in details.split("\n") if n.ack_url not in line)
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": details}})
    if n.ack_url:
        label = "确认处理" if renderer.locale(n) == "zh-CN" else "Acknowledge"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{n.ack_url}|{label}>"}}
        )
    return {"text": "\n".join(body), "blocks": blocks}


class SlackSink:
    """Posts a readable message: case, clock, how late, owner, ack link."""

    def __init__(self, url: str, timeout: float, renderer: Renderer | None = None) -> None:
        self._url = url
        self._http = HttpPoster(timeout)
        self._renderer = renderer or Renderer()

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        body = json.dumps(slack_message(n, now, self._renderer)).encode()
        await self._http.post(address or self._url, body, {"Content-Type": "application/json"})

    async def close(self) -> None:
        await self._http.close()
