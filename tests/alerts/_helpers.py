"""Building an alert runtime on the real Redis for one test."""

from __future__ import annotations

import http.cookiejar
import io
import random
import re
import socket
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.config import AlertsSpec
from alerts.metrics import AlertMetrics
from alerts.render import Renderer
from alerts.runtime import AlertRuntime
from alerts.sinks import Sink, build_sinks
from alerts.sinks.console import ConsoleSink
from sla.timesource import ManualTime
from tests.alerts.conftest import T0


def acknowledge(link: str) -> tuple[int, str, int]:
    """Open an ack link as a browser does and press its button: (GET status, page, POST status).

    The page sets a nonce cookie and puts the form token in the form; the POST carries both.
    """
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with browser.open(link, timeout=5) as page:
        status, body = page.status, page.read().decode()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', body)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    form = urllib.parse.urlencode({**query, "csrf": token[1] if token else ""}).encode()
    post = urllib.request.Request(link.split("?")[0], data=form, method="POST")
    with browser.open(post, timeout=5) as answer:
        return status, body, answer.status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Harness:
    """An alert runtime whose console channel writes to a buffer, on a manual clock."""

    def __init__(
        self,
        spec: AlertsSpec,
        redis: Any,
        prefix: str,
        *,
        env: Mapping[str, str] | None = None,
        clock: ManualTime | None = None,
        sinks: Mapping[str, Sink] | None = None,
    ) -> None:
        self.clock = clock or ManualTime(T0)
        self.console = io.StringIO()
        self.registry = CollectorRegistry()
        env = dict(env or {})
        env.setdefault("SLAWATCH_ACK_SECRET", "test-ack-secret-0123456789")
        built: dict[str, Sink] = dict(sinks) if sinks is not None else build_sinks(spec, env, redis)
        if "console" in spec.channels and (sinks is None or "console" not in sinks):
            built["console"] = ConsoleSink(self.console, Renderer.for_spec(spec))
        self.runtime = AlertRuntime.build(
            spec,
            redis,
            env,
            self.clock,
            prefix=prefix,
            metrics=AlertMetrics(self.registry),
            sinks=built,
            rng=random.Random(1),
        )
        self.service = self.runtime.service
        self.dispatcher = self.runtime.dispatcher
        self.store = self.service.store
        self.timers = self.service.timers

    def lines(self) -> list[str]:
        """Console alert lines (first line of each alert)."""
        return [line for line in self.console.getvalue().splitlines() if line.startswith("[alert")]

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0
