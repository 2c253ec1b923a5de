"""Channels behind one :class:`Sink` interface, built from the alerts file's ``channels``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts._refs import resolve
from alerts.config import (
    AlertsSpec,
    ConsoleChannel,
    EmailChannel,
    RedisStreamChannel,
    SlackChannel,
    WebhookChannel,
)
from alerts.sinks.base import SendError, Sink
from alerts.sinks.console import ConsoleSink
from alerts.sinks.email import EmailSink
from alerts.sinks.redis_stream import RedisStreamSink
from alerts.sinks.slack import SlackSink
from alerts.sinks.webhook import WebhookSink

__all__ = ["SendError", "Sink", "build_sinks"]


def build_sinks(spec: AlertsSpec, env: Mapping[str, str], redis: Any) -> dict[str, Sink]:
    """One sink per channel, with references resolved from ``env`` and secret files.

    Args:
        spec: the alerts configuration.
        env: where ``${ENV_VAR}`` references are looked up (``os.environ``).
        redis: the alerting Redis (``decode_responses=True``), for Redis-stream channels.

    Raises:
        LookupError: a referenced variable or file is missing; the message names the field.
    """
    sinks: dict[str, Sink] = {}
    for name, ch in spec.channels.items():
        where = f"channels.{name}"
        timeout = ch.timeout.total_seconds()
        if isinstance(ch, ConsoleChannel):
            import sys

            sinks[name] = ConsoleSink(sys.stderr if ch.stream == "stderr" else None)
        elif isinstance(ch, WebhookChannel):
            secret = resolve(ch.secret, env, f"{where}.secret").encode()
            sinks[name] = WebhookSink(resolve(ch.url, env, f"{where}.url"), secret, timeout)
        elif isinstance(ch, SlackChannel):
            sinks[name] = SlackSink(resolve(ch.url, env, f"{where}.url"), timeout)
        elif isinstance(ch, EmailChannel):
            sinks[name] = EmailSink(
                resolve(ch.host, env, f"{where}.host"),
                ch.port,
                resolve(ch.sender, env, f"{where}.sender"),
                security=ch.security,
                username=resolve(ch.username, env, f"{where}.username") if ch.username else None,
                password=resolve(ch.password, env, f"{where}.password") if ch.password else None,
                timeout=timeout,
            )
        elif isinstance(ch, RedisStreamChannel):
            if ch.url:
                import redis.asyncio as aioredis

                url = resolve(ch.url, env, f"{where}.url")
                client = aioredis.Redis.from_url(url, decode_responses=True)
                sinks[name] = RedisStreamSink(client, ch.stream, ch.maxlen, owned=True)
            else:
                sinks[name] = RedisStreamSink(redis, ch.stream, ch.maxlen)
    return sinks
