"""DingTalk (钉钉) custom robot: a markdown message, signed with the robot's secret.

With 加签 (signing) on, each call carries ``timestamp`` (milliseconds) and ``sign`` in the
query: the Base64 of HMAC-SHA256, keyed with the secret, of ``"{timestamp}\\n{secret}"``,
URL-encoded. DingTalk refuses a timestamp more than an hour off. The webhook URL carries the
``access_token``, so it is a secret too. DingTalk answers ``{"errcode": 0}``; 130101 (sending
too fast) and -1 (busy) are tried again later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote_plus

from alerts.notification import Notification
from alerts.sinks._chat import ChatSink, post_chat

__all__ = ["DingTalkSink", "dingtalk_sign"]

_RETRY = frozenset({-1, 130101})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value (URL-encoded) for ``timestamp_ms``.

    >>> dingtalk_sign("SEC0123", 1700000000000)
    '2lI0CLA9w0NryWAswdWUgPoOvPXo1wScAKa%2B6Qn%2BlxQ%3D'
    """
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


class DingTalkSink(ChatSink):
    """Posts the chat-markdown template with the title DingTalk shows in notifications."""

    def signed_url(self, url: str, now: datetime) -> str:
        """``url`` with ``timestamp`` and ``sign`` added (unchanged without a secret)."""
        if not self._secret:
            return url
        ts = int(now.timestamp() * 1000)
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}timestamp={ts}&sign={dingtalk_sign(self._secret, ts)}"

    def payload(self, n: Notification, now: datetime) -> dict[str, object]:
        """The robot message for ``n``."""
        title = self._renderer.title(n, now)
        text = self._renderer.markdown(n, now)
        return {"msgtype": "markdown", "markdown": {"title": title[:60], "text": text}}

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        url = self.signed_url(address or self._url, now)
        await post_chat(
            self._http, url, self.payload(n, now), platform="dingtalk", retry_codes=_RETRY
        )
