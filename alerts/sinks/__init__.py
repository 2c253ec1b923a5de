"""Channels behind one :class:`Sink` interface, built from the alerts file's ``channels``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts._refs import resolve
from alerts.config import (
    AlertsSpec,
    ConsoleChannel,
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    RedisStreamChannel,
    SlackChannel,
    WebhookChannel,
    WeComChannel,
)
from alerts.render import Renderer
from alerts.sinks.base import SendError, Sink
from alerts.sinks.console import ConsoleSink
from alerts.sinks.dingtalk import DingTalkSink
from alerts.sinks.email import EmailSink, SmtpServer
from alerts.sinks.feishu import FeishuSink
from alerts.sinks.redis_stream import RedisStreamSink
from alerts.sinks.slack import SlackSink
from alerts.sinks.webhook import WebhookSink
from alerts.sinks.wecom import WeComSink

__all__ = ["SendError", "Sink", "build_sinks"]


def build_sinks(
    spec: AlertsSpec, env: Mapping[str, str], redis: Any, renderer: Renderer | None = None
) -> dict[str, Sink]:
    """One sink per channel, with references resolved from ``env`` and secret files.

    Args:
        spec: the alerts configuration.
        env: where ``${ENV_VAR}`` references are looked up (``os.environ``).
        redis: the alerting Redis (``decode_responses=True``), for Redis-stream channels.
        renderer: how messages read; default: the spec's templates, clocks named by id.

    Raises:
        LookupError: a referenced variable or file is missing; the message names the field.
    """
    r = renderer or Renderer.for_spec(spec)
    sinks: dict[str, Sink] = {}
    for name, ch in spec.channels.items():
        where = f"channels.{name}"
        timeout = ch.timeout.total_seconds()

        def ref(value: str, field: str, where: str = where) -> str:
            return resolve(value, env, f"{where}.{field}")

        if isinstance(ch, ConsoleChannel):
            import sys

            sinks[name] = ConsoleSink(sys.stderr if ch.stream == "stderr" else None, r)
        elif isinstance(ch, WebhookChannel):
            key = ref(ch.secret, "secret").encode()
            sinks[name] = WebhookSink(ref(ch.url, "url"), key, timeout, r)
        elif isinstance(ch, SlackChannel):
            sinks[name] = SlackSink(ref(ch.url, "url"), timeout, r)
        elif isinstance(ch, WeComChannel):
            sinks[name] = WeComSink(ref(ch.url, "url"), timeout, r, ch.format)
        elif isinstance(ch, DingTalkChannel):
            secret = ref(ch.secret, "secret") if ch.secret else None
            sinks[name] = DingTalkSink(ref(ch.url, "url"), secret, timeout, r)
        elif isinstance(ch, FeishuChannel):
            secret = ref(ch.secret, "secret") if ch.secret else None
            sinks[name] = FeishuSink(ref(ch.url, "url"), secret, timeout, r)
        elif isinstance(ch, EmailChannel):
            server = SmtpServer(
                ref(ch.host, "host"),
                ch.port,
                security=ch.security,
                username=ref(ch.username, "username") if ch.username else None,
                password=ref(ch.password, "password") if ch.password else None,
                timeout=timeout,
            )
            sinks[name] = EmailSink(server, ref(ch.sender, "sender"), r)
        elif isinstance(ch, RedisStreamChannel):
            if ch.url:
                import redis.asyncio as aioredis

                client = aioredis.Redis.from_url(ref(ch.url, "url"), decode_responses=True)
                sinks[name] = RedisStreamSink(client, ch.stream, ch.maxlen, owned=True, renderer=r)
            else:
                sinks[name] = RedisStreamSink(redis, ch.stream, ch.maxlen, renderer=r)
    return sinks
