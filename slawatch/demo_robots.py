"""Loopback stand-ins for the WeCom, DingTalk and Feishu robots, for the demo (and the tests).

Each checks a message the way its platform does before taking it: WeCom the robot key in the
URL; DingTalk the ``timestamp`` (within an hour) and the ``sign`` in the query, HMAC-SHA256 of
``"{timestamp}\\n{secret}"`` keyed with the secret; Feishu the ``timestamp`` and ``sign`` in the
body, HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"`` over nothing. They answer as the
platforms do: HTTP 200 with a zero code, or a non-zero code and a message when they refuse.

The checks are written from the platforms' documentation, apart from the senders in
:mod:`alerts.sinks` (which sign), so that a mistake in one shows up against the other.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DemoRobots",
    "Received",
    "check_dingtalk",
    "check_feishu",
    "check_wecom",
]

_HOUR_MS = 3_600_000


def check_wecom(query: Mapping[str, str], body: Mapping[str, Any], key: str) -> str | None:
    """Why WeCom would refuse this message (None: it takes it)."""
    if query.get("key") != key:
        return "93000 invalid webhook url"
    if body.get("msgtype") not in ("markdown", "text"):
        return "40008 invalid message type"
    content = body.get(str(body.get("msgtype")), {}).get("content", "")
    if not content or len(str(content).encode()) > 4096:
        return "40058 content empty or too long"
    return None


def check_dingtalk(
    query: Mapping[str, str], body: Mapping[str, Any], secret: str, now_ms: int
) -> str | None:
    """Why DingTalk would refuse this message (None: it takes it)."""
    ts, sign = query.get("timestamp", ""), query.get("sign", "")
    if not ts.isdigit() or abs(int(ts) - now_ms) > _HOUR_MS:
        return "310000 timestamp missing or more than an hour off"
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(mac).decode(), sign):
        return "310000 sign not match"
    markdown = body.get("markdown") or {}
    if body.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get("text"):
        return "40035 missing markdown title or text"
    return None


def check_feishu(body: Mapping[str, Any], secret: str, now_s: int) -> str | None:
    """Why Feishu would refuse this message (None: it takes it)."""
    ts = str(body.get("timestamp", ""))
    if not ts.isdigit() or abs(int(ts) - now_s) > 3600:
        return "19021 sign match fail or timestamp is not within one hour from current time"
    key = f"{ts}\n{secret}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, str(body.get("sign", ""))):
        return "19021 sign match fail"
    if body.get("msg_type") not in ("text", "post", "interactive"):
        return "9499 bad request: unknown msg_type"
    return None


@dataclass(frozen=True)
class Received:
    """One message a robot got: which platform, whether it passed the check, its title."""

    platform: str
    refused: str | None
    title: str


def _title(platform: str, body: Mapping[str, Any]) -> str:
    if platform == "dingtalk":
        return str((body.get("markdown") or {}).get("title", ""))
    if platform == "feishu":
        card = body.get("card") or {}
        return str(((card.get("header") or {}).get("title") or {}).get("content", ""))
    content = str((body.get(str(body.get("msgtype"))) or {}).get("content", ""))
    return content.split("\n", 1)[0].strip("*")


@dataclass
class DemoRobots:
    """The three robots on one loopback port (aiohttp); ``on_message`` hears each message."""

    port: int
    wecom_key: str = "demo-wecom-key"
    dingtalk_secret: str = "SECdemo-dingtalk-secret"
    feishu_secret: str = "demo-feishu-secret"
    on_message: Callable[[Received], None] | None = None
    received: list[Received] = field(default_factory=list)
    _runner: Any = None

    def env(self) -> dict[str, str]:
        """The variables ``config/demo-alerts.yaml`` reads its robot URLs and secrets from."""
        base = f"http://127.0.0.1:{self.port}"
        return {
            "SLAWATCH_DEMO_WECOM_URL": f"{base}/cgi-bin/webhook/send?key={self.wecom_key}",
            "SLAWATCH_DEMO_DINGTALK_URL": f"{base}/robot/send?access_token=demo",
            "SLAWATCH_DEMO_DINGTALK_SECRET": self.dingtalk_secret,
            "SLAWATCH_DEMO_FEISHU_URL": f"{base}/open-apis/bot/v2/hook/demo",
            "SLAWATCH_DEMO_FEISHU_SECRET": self.feishu_secret,
        }

    def check(self, platform: str, query: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
        """The platform's check of one message."""
        if platform == "wecom":
            return check_wecom(query, body, self.wecom_key)
        if platform == "dingtalk":
            return check_dingtalk(query, body, self.dingtalk_secret, int(time.time() * 1000))
        return check_feishu(body, self.feishu_secret, int(time.time()))

    async def start(self) -> None:
        """Listen on 127.0.0.1:``port``."""
        from aiohttp import web

        async def handle(platform: str, request: web.Request) -> web.Response:
            try:
                body = json.loads(await request.read())
            except ValueError:
                body = {}
            refused = self.check(platform, request.query, body)
            got = Received(platform, refused, _title(platform, body))
            self.received.append(got)
            if self.on_message is not None:
                self.on_message(got)
            code, message = (refused or "0 ok").split(" ", 1)
            if platform == "feishu":
                return web.json_response({"code": int(code), "msg": message})
            return web.json_response({"errcode": int(code), "errmsg": message})

        app = web.Application()
        for platform, path in (
            ("wecom", "/cgi-bin/webhook/send"),
            ("dingtalk", "/robot/send"),
            ("feishu", "/open-apis/bot/v2/hook/demo"),
        ):
            app.router.add_post(path, functools.partial(handle, platform))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
