"""WeCom, DingTalk and Feishu robots against loopback receivers that check like the platforms.

Each receiver verifies what the platform verifies (the robot key, the timestamp within an hour
and the HMAC-SHA256 signature, the message shape) and answers as the platform does: HTTP 200
with a JSON code, non-zero when it refuses the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sla.timesource import ManualTime
from slawatch.demo_robots import check_dingtalk, check_feishu
from tests.alerts._helpers import Harness
from tests.alerts.conftest import BASE_CONFIG, T0, breach, make_spec, run_with_redis

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_available")]

SECRET = "SEC5d1f0c0ffee0123456789abcdef"
KEY = "C-1/complaint_first_response/1/L1/agent-1/{channel}"
NOW = T0 + timedelta(minutes=42)


def on_chat(channel: str, spec_channel: dict[str, Any]) -> Any:
    """The base config in Chinese, every recipient on one chat channel, Shanghai roster."""
    recipients = {r: {"channels": [channel]} for r in BASE_CONFIG["recipients"]}
    team = {**BASE_CONFIG["teams"]["cs-frontline"], "roster": {"timezone": "Asia/Shanghai"}}
    return make_spec(
        locale="zh-CN",
        channels={channel: {"retries": 2, "backoff": "1s", "max_backoff": "1s", **spec_channel}},
        recipients=recipients,
        teams={"cs-frontline": team},
    )


def answer(doc: dict[str, Any]) -> Response:
    return Response(json.dumps(doc), status=200, content_type="application/json")


def send_one(
    spec: Any, env: dict[str, str], tries: int = 1
) -> tuple[dict[str, str], Harness, list[Any]]:
    """Enqueue a breach seen 42 minutes late and run ``tries`` dispatch rounds.

    Returns the notification's state, the harness (metrics) and the dead-letter entries.
    """

    async def scenario(redis: Any, prefix: str) -> tuple[dict[str, str], Harness, list[Any]]:
        h = Harness(spec, redis, prefix, env=env, clock=ManualTime(NOW))
        await h.service.on_breach(breach())
        for _ in range(tries):
            await h.dispatcher.run_once()
            h.clock.advance(timedelta(seconds=2))
        await h.runtime.close()
        channel = next(iter(spec.channels))
        dead = await redis.xrange(h.store.keys.deadletter)
        return await h.store.state(KEY.format(channel=channel)), h, dead

    return run_with_redis(scenario)


def assert_every_field(text: str) -> None:
    for part in (
        "complaint_first_response",  # the harness has no policy names: the id stands in
        "C-1",
        "2026-03-02 18:00 (UTC+08:00)",
        "42 分钟",
        "agent-1",
        "cs-frontline",
        "sh",
        "/ack?",
    ):
        assert part in text, part


class TestWeCom:
    def test_markdown_reaches_the_robot_with_its_key(self, httpserver: HTTPServer) -> None:
        """The group robot gets one markdown message with every field; errcode 0 is sent."""

        def robot(request: Request) -> Response:
            if request.args.get("key") != "robot-key-1":
                return answer({"errcode": 93000, "errmsg": "invalid webhook url"})
            return answer({"errcode": 0, "errmsg": "ok"})

        httpserver.expect_request("/cgi-bin/webhook/send", method="POST").respond_with_handler(
            robot
        )
        url = httpserver.url_for("/cgi-bin/webhook/send") + "?key=robot-key-1"
        spec = on_chat("wecom", {"type": "wecom", "url": "${WECOM_URL}"})
        state, _, _ = send_one(spec, {"WECOM_URL": url})
        body = json.loads(httpserver.log[0][0].get_data())
        assert ("sent", "markdown") == (state["state"], body["msgtype"])
        assert body["markdown"]["content"].startswith("**【已超时】complaint_first_response")
        assert_every_field(body["markdown"]["content"])

    def test_refusal_is_dead_lettered_with_its_code(self, httpserver: HTTPServer) -> None:
        """A wrong key (errcode 93000) cannot get better: failed at once, reason and count kept."""
        httpserver.expect_request("/cgi-bin/webhook/send").respond_with_handler(
            lambda _r: answer({"errcode": 93000, "errmsg": "invalid webhook url"})
        )
        spec = on_chat("wecom", {"type": "wecom", "url": "${U}"})
        state, h, _ = send_one(spec, {"U": httpserver.url_for("/cgi-bin/webhook/send")}, tries=3)
        assert (
            "failed",
            "wecom errcode 93000: invalid webhook url",
            1,
            1.0,
        ) == (
            state["state"],
            state["reason"],
            len(httpserver.log),
            h.metric("slawatch_alerts_failed_total", channel="wecom", level="1"),
        )

    def test_rate_limit_is_retried(self, httpserver: HTTPServer) -> None:
        """errcode 45009 (over 20 a minute) is tried again and then sent."""
        answers = iter([{"errcode": 45009, "errmsg": "api freq out of limit"}, {"errcode": 0}])
        httpserver.expect_request("/cgi-bin/webhook/send").respond_with_handler(
            lambda _r: answer(next(answers))
        )
        spec = on_chat("wecom", {"type": "wecom", "url": "${U}"})
        state, h, _ = send_one(spec, {"U": httpserver.url_for("/cgi-bin/webhook/send")}, tries=3)
        assert ("sent", 2, 1.0) == (
            state["state"],
            len(httpserver.log),
            h.metric("slawatch_alerts_retried_total", channel="wecom", level="1"),
        )


def dingtalk_robot(secret: str, now_ms: int) -> Any:
    """A receiver that checks the token, ``timestamp`` and ``sign`` as DingTalk documents it."""

    def handler(request: Request) -> Response:
        if request.args.get("access_token") != "tok":
            return answer({"errcode": 300001, "errmsg": "token is not exist"})
        refused = check_dingtalk(request.args, json.loads(request.get_data()), secret, now_ms)
        code, message = (refused or "0 ok").split(" ", 1)
        return answer({"errcode": int(code), "errmsg": message})

    return handler


class TestDingTalk:
    def test_signed_markdown_is_accepted(self, httpserver: HTTPServer) -> None:
        """The robot checks timestamp and signature, then takes the markdown with every field."""
        now_ms = int(NOW.timestamp() * 1000)
        httpserver.expect_request("/robot/send", method="POST").respond_with_handler(
            dingtalk_robot(SECRET, now_ms)
        )
        url = httpserver.url_for("/robot/send") + "?access_token=tok"
        spec = on_chat("ding", {"type": "dingtalk", "url": "${DING_URL}", "secret": "${DING_SEC}"})
        state, _, _ = send_one(spec, {"DING_URL": url, "DING_SEC": SECRET})
        request = httpserver.log[0][0]
        body = json.loads(request.get_data())
        assert ("sent", str(now_ms)) == (state["state"], request.args["timestamp"])
        assert body["markdown"]["title"].startswith("【已超时】")
        assert_every_field(body["markdown"]["text"])

    def test_wrong_secret_is_refused_and_not_lost(self, httpserver: HTTPServer) -> None:
        """Signed with another secret: DingTalk refuses (310000); failed, logged and counted."""
        httpserver.expect_request("/robot/send").respond_with_handler(
            dingtalk_robot(SECRET, int(NOW.timestamp() * 1000))
        )
        url = httpserver.url_for("/robot/send") + "?access_token=tok"
        spec = on_chat("ding", {"type": "dingtalk", "url": "${U}", "secret": "${S}"})
        state, h, _ = send_one(spec, {"U": url, "S": "SECwrong"}, tries=2)
        assert ("failed", "dingtalk errcode 310000: sign not match", 1.0) == (
            state["state"],
            state["reason"],
            h.metric("slawatch_alerts_failed_total", channel="ding", level="1"),
        )

    def test_server_error_is_retried_then_dead_lettered(self, httpserver: HTTPServer) -> None:
        """A robot endpoint that answers 502: retried up to the channel's retries, then failed."""
        httpserver.expect_request("/robot/send").respond_with_data("bad gateway", status=502)
        url = httpserver.url_for("/robot/send") + "?access_token=tok"
        spec = on_chat("ding", {"type": "dingtalk", "url": "${U}", "secret": "${S}"})
        state, h, dead = send_one(spec, {"U": url, "S": SECRET}, tries=5)
        assert (3, "failed", "http 502", 2.0) == (
            len(httpserver.log),
            state["state"],
            state["reason"],
            h.metric("slawatch_alerts_retried_total", channel="ding", level="1"),
        )
        assert ["http 502"] == [d[1]["reason"] for d in dead]


def feishu_bot(secret: str, now_s: int) -> Any:
    """A receiver that checks ``timestamp`` and ``sign`` in the body as Feishu documents it."""

    def handler(request: Request) -> Response:
        refused = check_feishu(json.loads(request.get_data()), secret, now_s)
        code, message = (refused or "0 success").split(" ", 1)
        return answer({"code": int(code), "msg": message})

    return handler


class TestFeishu:
    def test_signed_card_is_accepted(self, httpserver: HTTPServer) -> None:
        """The bot checks the body's timestamp and signature, then takes the card."""
        httpserver.expect_request("/open-apis/bot/v2/hook/abc", method="POST").respond_with_handler(
            feishu_bot(SECRET, int(NOW.timestamp()))
        )
        spec = on_chat("lark", {"type": "feishu", "url": "${FS_URL}", "secret": "${FS_SEC}"})
        env = {"FS_URL": httpserver.url_for("/open-apis/bot/v2/hook/abc"), "FS_SEC": SECRET}
        state, _, _ = send_one(spec, env)
        body = json.loads(httpserver.log[0][0].get_data())
        card = body["card"]
        assert ("sent", "red") == (state["state"], card["header"]["template"])
        assert card["header"]["title"]["content"].startswith("【已超时】")
        assert_every_field(card["elements"][0]["content"])

    def test_wrong_secret_is_refused(self, httpserver: HTTPServer) -> None:
        """Signed with another secret: code 19021, failed at once, never silently dropped."""
        httpserver.expect_request("/hook").respond_with_handler(
            feishu_bot(SECRET, int(NOW.timestamp()))
        )
        spec = on_chat("lark", {"type": "feishu", "url": "${U}", "secret": "${S}"})
        state, h, _ = send_one(spec, {"U": httpserver.url_for("/hook"), "S": "other"}, tries=2)
        assert ("failed", "feishu code 19021: sign match fail", 1.0) == (
            state["state"],
            state["reason"],
            h.metric("slawatch_alerts_failed_total", channel="lark", level="1"),
        )

    def test_unreachable_bot_is_retried(self) -> None:
        """Nobody listening: the try fails and waits for a retry (pending, attempts counted)."""
        from tests.alerts._helpers import free_port

        url = f"http://127.0.0.1:{free_port()}/hook"
        spec = on_chat("lark", {"type": "feishu", "url": "${U}", "secret": "${S}", "timeout": "2s"})
        state, _, _ = send_one(spec, {"U": url, "S": SECRET})
        assert ("pending", "1") == (state["state"], state["attempts"])
        assert "127.0.0.1" not in state["reason"]


def test_dingtalk_signature_matches_the_documented_recipe() -> None:
    """Our URL-encoded sign equals the recipe DingTalk's docs give (quote_plus of Base64)."""
    from alerts.sinks.dingtalk import dingtalk_sign

    ts = 1_700_000_000_000
    mac = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert quote_plus(base64.b64encode(mac)) == dingtalk_sign(SECRET, ts)
