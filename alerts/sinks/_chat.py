"""What the Chinese chat platforms share: a JSON POST whose answer says, in a code, if it worked.

WeCom, DingTalk and Feishu answer HTTP 200 even when they refuse a message (a wrong signature,
a missing keyword, too many messages a minute); the refusal is a non-zero ``errcode`` (WeCom,
DingTalk) or ``code`` (Feishu) in the JSON body. :func:`post_chat` turns that into a
:class:`SendError`, retryable only when the platform says "too fast" or "busy".
"""

from __future__ import annotations

import json
from typing import Any

from alerts.render import Renderer
from alerts.sinks._http import HttpPoster
from alerts.sinks.base import SendError

__all__ = ["ChatSink", "post_chat"]


class ChatSink:
    """What each robot sink holds: its webhook URL, its signing secret, a session, a renderer."""

    def __init__(
        self, url: str, secret: str | None, timeout: float, renderer: Renderer | None = None
    ) -> None:
        self._url = url
        self._secret = secret
        self._http = HttpPoster(timeout)
        self._renderer = renderer or Renderer()

    async def close(self) -> None:
        await self._http.close()


async def post_chat(
    http: HttpPoster,
    url: str,
    payload: dict[str, Any],
    *,
    platform: str,
    retry_codes: frozenset[int],
) -> None:
    """POST ``payload`` as JSON; raise :class:`SendError` if the platform refused it.

    Args:
        platform: named in the reason (``dingtalk errcode 310000``); never the URL or token.
        retry_codes: the platform's codes for "rate limited" and "busy": tried again later.
    """
    body = json.dumps(payload, ensure_ascii=False).encode()
    answer = await http.post(url, body, {"Content-Type": "application/json; charset=utf-8"})
    try:
        doc = json.loads(answer or b"{}")
    except ValueError as exc:
        raise SendError(f"{platform} answered with no JSON") from exc
    if not isinstance(doc, dict):
        raise SendError(f"{platform} answered with no JSON object")
    for field in ("errcode", "code", "StatusCode"):
        if field in doc:
            code = int(doc[field])
            if code != 0:
                said = str(doc.get("errmsg") or doc.get("msg") or doc.get("StatusMessage") or "")
                reason = f"{platform} {field} {code}" + (f": {said[:80]}" if said else "")
                raise SendError(reason, retryable=code in retry_codes)
            return
    return
