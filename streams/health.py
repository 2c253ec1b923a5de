"""Worker health in Prometheus: the process, the Python runtime, and Faust's own sensor.

The worker's registry is its own (not the global one), so the standard process, platform and
garbage-collector collectors are added to it here. :class:`FaustHealth` is a Faust sensor:
Faust calls it on every rebalance, offset commit and producer send, and it counts what an
operator needs when the stream slows down: how often and how long the group rebalances, how
long commits take, and how many sends failed (per topic, never a key or value).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import faust
from faust.types import AppT, ConsumerT, PendingMessage, ProducerT
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from streams.runtime import Runtime

__all__ = ["FaustHealth", "add_runtime_collectors", "register"]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_DEFAULTS = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)


def add_runtime_collectors(registry: CollectorRegistry) -> None:
    """``process_*`` (CPU, memory, open files), ``python_info`` and ``python_gc_*``."""
    if any(c in registry._collector_to_names for c in _DEFAULTS):  # the global registry
        return
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


class FaustHealth(faust.Sensor):
    """Rebalances, commit latency and send errors of the Faust app, as Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry, **kwargs: Any) -> None:  # Sensor options
        super().__init__(**kwargs)
        self.rebalances = Counter(
            "slawatch_faust_rebalances",
            "Consumer-group rebalances this worker took part in.",
            registry=registry,
        )
        self.rebalance_seconds = Histogram(
            "slawatch_faust_rebalance_seconds",
            "Time from a rebalance starting to its end, table recovery included.",
            buckets=_SECONDS,
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "slawatch_faust_commit_seconds",
            "Time an offset commit took.",
            buckets=_SECONDS,
            registry=registry,
        )
        self.send_errors = Counter(
            "slawatch_faust_send_errors",
            "Producer sends that failed, per topic (Faust retries or crashes the worker).",
            ["topic"],
            registry=registry,
        )

    def on_rebalance_start(self, app: AppT) -> dict[str, float]:
        self.rebalances.inc()
        return {"time_start": monotonic()}

    def on_rebalance_end(self, app: AppT, state: dict[str, float]) -> None:
        started = state.get("time_start") if isinstance(state, dict) else None
        if started is not None:
            self.rebalance_seconds.observe(max(monotonic() - started, 0.0))

    def on_commit_initiated(self, consumer: ConsumerT) -> float:
        return monotonic()

    def on_commit_completed(self, consumer: ConsumerT, state: object) -> None:
        if isinstance(state, float):
            self.commit_seconds.observe(max(monotonic() - state, 0.0))

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int
    ) -> str:
        return topic

    def on_send_error(self, producer: ProducerT, exc: BaseException, state: object) -> None:
        self.send_errors.labels(topic=str(state) if state else "unknown").inc()


def register(rt: Runtime) -> FaustHealth:
    """Add the collectors to the worker's registry and the sensor to its app."""
    registry = rt.metrics.registry
    add_runtime_collectors(registry)
    sensor = FaustHealth(registry)
    for topic in rt.settings.topic_names.model_dump().values():
        sensor.send_errors.labels(topic=topic)  # 0 from the start: a panel shows "none yet"
    rt.app.sensors.add(sensor)
    return sensor
