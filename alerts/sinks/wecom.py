"""WeCom (企业微信) group robot: a markdown message to the group's webhook.

The robot's webhook URL (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...``) is its
only credential, so the alerts file references it as a secret. WeCom answers
``{"errcode": 0, "errmsg": "ok"}``; 45009 (more than 20 messages a minute) and -1 (busy) are
tried again later, any other code is a refusal.
"""

from __future__ import annotations

from datetime import datetime

from alerts.notification import Notification
from alerts.render import Renderer
from alerts.sinks._chat import ChatSink, post_chat

__all__ = ["WeComSink"]

_RETRY = frozenset({-1, 45009})
#: WeCom cuts markdown content at 4096 bytes.
_MAX_BYTES = 4096


def _fit(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


class WeComSink(ChatSink):
    """Posts the chat-markdown template (or the plain text, ``format: text``) to the robot."""

    def __init__(
        self, url: str, timeout: float, renderer: Renderer | None = None, fmt: str = "markdown"
    ) -> None:
        super().__init__(url, None, timeout, renderer)
        self._fmt = fmt

    def payload(self, n: Notification, now: datetime) -> dict[str, object]:
        """The robot message for ``n``."""
        if self._fmt == "text":
            return {"msgtype": "text", "text": {"content": _fit(self._renderer.text(n, now), 2048)}}
        content = _fit(self._renderer.markdown(n, now), _MAX_BYTES)
        return {"msgtype": "markdown", "markdown": {"content": content}}

    async def send(self, n: Notification, address: str | None, now: datetime) -> None:
        await post_chat(
            self._http, address or self._url, self.payload(n, now),
            platform="wecom", retry_codes=_RETRY,
        )  # fmt: skip
