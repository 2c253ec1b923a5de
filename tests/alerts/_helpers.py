"""Building an alert runtime on the real Redis for one test."""

from __future__ import annotations

import io
import random
import socket
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.config import AlertsSpec
from alerts.metrics import AlertMetrics
from alerts.runtime import AlertRuntime
from alerts.sinks import Sink, build_sinks
from alerts.sinks.console import ConsoleSink
from sla.timesource import ManualClock
from tests.alerts.conftest import T0


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
        clock: ManualClock | None = None,
        sinks: Mapping[str, Sink] | None = None,
    ) -> None:
        self.clock = clock or ManualClock(T0)
        self.console = io.StringIO()
        self.registry = CollectorRegistry()
        env = dict(env or {})
        env.setdefault("SLAWATCH_ACK_SECRET", "test-ack-secret-0123456789")
        built: dict[str, Sink] = dict(sinks) if sinks is not None else build_sinks(spec, env, redis)
        if "console" in spec.channels and (sinks is None or "console" not in sinks):
            built["console"] = ConsoleSink(self.console)
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
