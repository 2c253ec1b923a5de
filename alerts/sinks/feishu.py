"""Feishu / Lark (飞书) custom bot: a message card, signed with the bot's secret.

With 签名校验 (signature check) on, the JSON body carries ``timestamp`` (seconds, as a string)
and ``sign``: the Base64 of HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"`` over an empty
message. Feishu refuses a timestamp more than an hour off. It answers ``{"code": 0}``; 11232
(rate limited) is tried again later, any other code (19021: wrong signature) is a refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from alerts.notification import Notification
from alerts.sinks._chat import ChatSink, post_chat

__all__ = ["FeishuSink", "feishu_sign"]

_RETRY = frozenset({11232})
_COLOURS = {"warning": "orange", "breach": "red", "escalation": "carmine", "resolved": "green"}


def feishu_sign(secret: str, timestamp: int) -> str:
    """The ``sign`` body field for ``timestamp`` (seconds).

    >>> feishu_sign("s3cret", 1700000000)
    'IX3eHI0/v/Td7jqJ0ynSEK3Dq5JY3HUZeoeMgVZeZGo='
    """
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuSink(ChatSink):
    """Posts an interactive card: the title as its header, the chat-markdown template below."""

    def payload(self, n: Notification, now: datetime) -> dict[str, Any]:
        """The bot message for ``n``, signed at ``now`` when the channel has a secret."""
        title = self._renderer.title(n, now)
        body = self._renderer.markdown(n, now)
        if body.startswith(f"**{title}**"):
            body = body.removeprefix(f"**{title}**").lstrip("\n")
        card = {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": title},
                "template": _COLOURS.get(n.alert.kind, "blue"),
            },
            "elements": [{"tag": "markdown", "content": body}],
        }
        out: dict[str, Any] = {"msg_type": "interactive", "card": card}
        if self._secret:
            ts = int(now.timestamp())
            out = {"timestamp": str(ts), "sign": feishu_sign(self._secret, ts), **out}
        return out

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        payload = self.payload(n, now)
        await post_chat(
            self._http, address or self._url, payload, platform="feishu", retry_codes=_RETRY
        )
