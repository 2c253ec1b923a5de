"""Real channels against real servers on loopback: HTTP (webhook, Slack), SMTP, Redis streams."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from alerts.notification import Notification, alert_from
from alerts.sinks.redis_stream import RedisStreamSink
from alerts.sinks.webhook import SIGNATURE_HEADER, verify
from tests.alerts._helpers import Harness, free_port
from tests.alerts.conftest import BASE_CONFIG, T0, breach, make_spec, run_with_redis

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_available")]

SECRET = "webhook-shared-secret"
KEY = "C-1/complaint_first_response/1/L1/agent-1/{channel}"


def only_on(channel: str, spec_channel: dict[str, Any], **extra: Any) -> Any:
    """The base config with every recipient reached on one channel."""
    recipients = {
        r: {"channels": [{"channel": channel, **extra}]} for r in BASE_CONFIG["recipients"]
    }
    return make_spec(channels={channel: spec_channel}, recipients=recipients)


class TestWebhook:
    def test_fails_twice_then_succeeds_once_with_a_valid_signature(
        self, httpserver: HTTPServer
    ) -> None:
        """A receiver answering 503, 503, 200 gets the alert accepted once, every try signed."""
        answers = iter([503, 503, 200, 200])

        def handler(request: Request) -> Response:
            return Response("", status=next(answers))

        httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
        channel = {
            "type": "webhook",
            "url": httpserver.url_for("/hook"),
            "secret": "${HOOK_SECRET}",
            "retries": 3,
            "backoff": "1s",
            "max_backoff": "2s",
            "timeout": "2s",
        }
        spec = only_on("hook", channel)

        async def scenario(redis: Any, prefix: str) -> tuple[dict[str, str], float, float]:
            h = Harness(spec, redis, prefix, env={"HOOK_SECRET": SECRET})
            await h.service.on_breach(breach())
            for _ in range(4):
                await h.dispatcher.run_once()
                h.clock.advance(timedelta(seconds=3))
            await h.runtime.close()
            state = await h.store.state(KEY.format(channel="hook"))
            sent = h.metric("slawatch_alerts_sent_total", channel="hook", level="1")
            retried = h.metric("slawatch_alerts_retried_total", channel="hook", level="1")
            return state, sent, retried

        state, sent, retried = run_with_redis(scenario)
        requests = [req for req, _ in httpserver.log]
        statuses = [resp.status_code for _, resp in httpserver.log]
        assert [503, 503, 200] == statuses
        assert all(
            verify(SECRET.encode(), r.get_data(), r.headers[SIGNATURE_HEADER]) for r in requests
        )
        assert {KEY.format(channel="hook")} == {r.headers["Idempotency-Key"] for r in requests}
        body = json.loads(requests[-1].get_data())
        assert ("C-1", "complaint_first_response", "agent-1") == (
            body["case_id"],
            body["clock"],
            body["assignee"],
        )
        assert ("sent", 1.0, 2.0) == (state["state"], sent, retried)

    def test_dead_letter_after_the_last_try(self, httpserver: HTTPServer) -> None:
        """A receiver that always fails: after the last try the alert is failed, dead-lettered."""
        httpserver.expect_request("/hook").respond_with_data("down", status=500)
        channel = {
            "type": "webhook",
            "url": httpserver.url_for("/hook"),
            "secret": "${HOOK_SECRET}",
            "retries": 2,
            "backoff": "1s",
            "max_backoff": "1s",
        }
        spec = only_on("hook", channel)

        async def scenario(redis: Any, prefix: str) -> tuple[dict[str, str], list[Any], float]:
            h = Harness(spec, redis, prefix, env={"HOOK_SECRET": SECRET})
            await h.service.on_breach(breach())
            for _ in range(5):
                await h.dispatcher.run_once()
                h.clock.advance(timedelta(seconds=2))
            await h.runtime.close()
            dead = await redis.xrange(h.store.keys.deadletter)
            failed = h.metric("slawatch_alerts_failed_total", channel="hook", level="1")
            return await h.store.state(KEY.format(channel="hook")), dead, failed

        state, dead, failed = run_with_redis(scenario)
        assert 3 == len(httpserver.log)
        assert ("failed", "http 500", 1.0) == (state["state"], state["reason"], failed)
        assert 1 == len(dead)
        assert ("http 500", "3", "agent-1") == (
            dead[0][1]["reason"],
            dead[0][1]["attempts"],
            dead[0][1]["recipient"],
        )

    def test_client_error_is_not_retried(self, httpserver: HTTPServer) -> None:
        """A 400 answer cannot get better: the alert is dead-lettered at once."""
        httpserver.expect_request("/hook").respond_with_data("bad", status=400)
        spec = only_on(
            "hook", {"type": "webhook", "url": httpserver.url_for("/hook"), "secret": "${S}"}
        )

        async def scenario(redis: Any, prefix: str) -> str:
            h = Harness(spec, redis, prefix, env={"S": SECRET})
            await h.service.on_breach(breach())
            await h.dispatcher.run_once()
            await h.runtime.close()
            return (await h.store.state(KEY.format(channel="hook")))["state"]

        assert "failed" == run_with_redis(scenario)
        assert 1 == len(httpserver.log)


class TestSlack:
    def test_readable_message(self, httpserver: HTTPServer) -> None:
        """The Slack payload names case, clock, how late, owner and links the ack page."""
        httpserver.expect_request("/services/T/B/X", method="POST").respond_with_data("ok")
        spec = only_on("slack", {"type": "slack", "url": "${SLACK_URL}"})

        async def scenario(redis: Any, prefix: str) -> None:
            h = Harness(
                spec, redis, prefix, env={"SLACK_URL": httpserver.url_for("/services/T/B/X")}
            )
            h.clock.advance(timedelta(minutes=42))
            await h.service.on_breach(breach())
            await h.dispatcher.run_once()
            await h.runtime.close()

        run_with_redis(scenario)
        payload = json.loads(httpserver.log[0][0].get_data())
        details = payload["blocks"][1]["text"]["text"].splitlines()
        assert [
            "Limit: complaint_first_response",
            "Case: C-1 (cycle 1)",
            "Deadline: 2026-03-02 10:00 (UTC+00:00)",
            "Late by: 42m",
            "Owner: agent-1",
            "Team: cs-frontline, region: sh",
            "Escalation level: 1",
        ] == details
        assert payload["blocks"][-1]["text"]["text"].startswith("<http://localhost:6066/ack?b=C-1")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


class TestEmail:
    def test_plain_and_html_parts_to_the_recipients_address(self) -> None:
        """An SMTP server on loopback receives one e-mail with text and HTML, to the env address."""
        inbox = _Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        channel = {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "sender": "slawatch@example.test",
        }
        spec = only_on("mail", channel, address="${AGENT_MAIL}")
        try:

            async def scenario(redis: Any, prefix: str) -> str:
                h = Harness(spec, redis, prefix, env={"AGENT_MAIL": "agent1@example.test"})
                await h.service.on_breach(breach())
                await h.dispatcher.run_once()
                return (await h.store.state(KEY.format(channel="mail")))["state"]

            state = run_with_redis(scenario)
        finally:
            controller.stop()
        assert "sent" == state
        assert 1 == len(inbox.messages)
        rcpts, message = inbox.messages[0]
        assert ["agent1@example.test"] == rcpts
        parts = {
            p.get_content_type(): p.get_payload(decode=True).decode()
            for p in message.walk()
            if not p.is_multipart()
        }  # type: ignore[union-attr]
        assert {"text/plain", "text/html"} == set(parts)
        assert "BREACH case C-1" in parts["text/plain"]
        assert '<a href="http://localhost:6066/ack?' in parts["text/html"]
        assert message["Subject"].startswith("BREACH case C-1")

    def test_server_down_is_retried(self) -> None:
        """No SMTP server listening: the try fails and is put back for a retry."""
        channel = {
            "type": "email",
            "host": "127.0.0.1",
            "port": free_port(),
            "sender": "s@example.test",
            "timeout": "2s",
        }
        spec = only_on("mail", channel, address="agent1@example.test")

        async def scenario(redis: Any, prefix: str) -> dict[str, str]:
            h = Harness(spec, redis, prefix)
            await h.service.on_breach(breach())
            await h.dispatcher.run_once()
            return await h.store.state(KEY.format(channel="mail"))

        state = run_with_redis(scenario)
        assert ("pending", "1") == (state["state"], state["attempts"])
        assert "agent1@example.test" not in state["reason"]


class TestRedisStream:
    def test_team_stream_carries_what_a_staff_screen_needs(self) -> None:
        """An alert is one entry on its team's stream, with the fields a staff screen shows."""

        async def scenario(redis: Any, prefix: str) -> dict[str, str]:
            channel = {"type": "redis_stream", "stream": f"{prefix}:alerts:{{team}}"}
            h = Harness(only_on("app", channel), redis, prefix)
            h.clock.advance(timedelta(seconds=90))
            await h.service.on_breach(breach())
            await h.dispatcher.run_once()
            entries = await redis.xrange(f"{prefix}:alerts:cs-frontline")
            assert 1 == len(entries)
            return dict(entries[0][1])

        entry = run_with_redis(scenario)
        assert ("C-1", "complaint_first_response", "1", "agent-1", "90.0") == (
            entry["case_id"],
            entry["clock"],
            entry["level"],
            entry["assignee"],
            entry["late_seconds"],
        )
        assert entry["ack_url"].startswith("http://localhost:6066/ack?")
        assert "cs-frontline" == json.loads(entry["document"])["team"]

    def test_stream_length_is_bounded(self) -> None:
        """XADD trims the stream near its maxlen (approximately, as Redis trims whole nodes)."""

        async def scenario(redis: Any, prefix: str) -> int:
            sink = RedisStreamSink(redis, f"{prefix}:alerts:{{team}}", maxlen=10)
            h = Harness(make_spec(), redis, prefix)
            alert = alert_from(breach(), kind="breach")
            for i in range(500):
                n = Notification(
                    key=f"k{i}", recipient="agent-1", channel="app", alert=alert, created_at=T0
                )
                await sink.send(n, None, h.clock.now())
            return int(await redis.xlen(f"{prefix}:alerts:cs-frontline"))

        length = run_with_redis(scenario)
        assert 10 <= length < 500


def test_base_time_is_a_monday() -> None:
    """The fixtures' base time is a Monday (rosters in tests depend on it)."""
    assert 0 == T0.weekday()
