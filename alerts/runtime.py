"""Everything the alert path needs, built from the alerts file, and the loops that drive it.

``streams/alerting.py`` builds one :class:`AlertRuntime` per worker, hands records to
:meth:`AlertRuntime.handle` and runs :meth:`AlertRuntime.run` as a background task. Tests build
one against a real Redis the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from redis.exceptions import RedisError

from alerts.ack import AckSigner
from alerts.config import AlertsSpec
from alerts.dedupe import AlertStore, Keys
from alerts.directory import Directory
from alerts.dispatcher import Dispatcher
from alerts.metrics import AlertMetrics
from alerts.render import ClockNames, Renderer
from alerts.routing import Router
from alerts.service import AlertService
from alerts.sinks import Sink, build_sinks
from alerts.storm import StormGuard
from alerts.timers import EscalationTimers
from sla.timesource import TimeSource

__all__ = ["AlertRuntime", "until_redis_answers"]

log = structlog.get_logger("slawatch.alerts")
T = TypeVar("T")


async def until_redis_answers(
    step: Callable[[], Awaitable[T]], *, first_wait: float = 0.2, max_wait: float = 5.0
) -> T:
    """Run ``step`` until Redis answers: alerts wait for Redis rather than being dropped.

    The caller (an alert agent) does not acknowledge its record until this returns, so a
    crash while waiting loses nothing; only the alert agents wait, never the clock agents.
    """
    wait = first_wait
    while True:
        try:
            return await step()
        except (RedisError, OSError) as exc:
            log.warning("alert_redis_unavailable", error=type(exc).__name__, wait_seconds=wait)
            await asyncio.sleep(wait)
            wait = min(max_wait, wait * 2)


@dataclass
class AlertRuntime:
    """The alert service, the dispatcher and their shared stores."""

    spec: AlertsSpec
    service: AlertService
    dispatcher: Dispatcher
    sinks: Mapping[str, Sink]

    @classmethod
    def build(
        cls,
        spec: AlertsSpec,
        redis: Any,
        env: Mapping[str, str],
        time_source: TimeSource,
        *,
        prefix: str = "slawatch",
        registry: CollectorRegistry = REGISTRY,
        metrics: AlertMetrics | None = None,
        sinks: Mapping[str, Sink] | None = None,
        rng: random.Random | None = None,
        ack_base_url: str = "http://localhost:6066",
        clock_names: ClockNames | None = None,
    ) -> AlertRuntime:
        """Wire the parts; ``redis`` is ``redis.asyncio.Redis(decode_responses=True)``.

        ``ack_base_url`` is used for ack links when the alerts file sets no ``ack.base_url``;
        ``clock_names`` are the clocks' display names from the policy file, for messages.
        """
        metrics = metrics or AlertMetrics(registry)
        router = Router(spec)
        store = AlertStore(redis, Keys(prefix), ttl=spec.dedupe_ttl)
        timers = EscalationTimers(redis, prefix, ttl=spec.dedupe_ttl)

        def budget(team: str) -> int:
            team_spec = spec.teams.get(team)
            own = team_spec.storm_max_per_minute if team_spec else None
            return own or spec.storm.max_per_minute

        storm = StormGuard(redis, prefix, budget)
        signer = AckSigner.from_env(env)
        if signer is None:
            log.warning("ack_links_disabled", reason="SLAWATCH_ACK_SECRET is not set")
        service = AlertService(
            spec, router, store, timers, storm, metrics, time_source, signer, ack_base_url
        )
        renderer = Renderer.for_spec(spec, clock_names)
        built = sinks if sinks is not None else build_sinks(spec, env, redis, renderer)
        directory = Directory(router, env)
        dispatcher = Dispatcher(
            spec, store, built, directory, storm, metrics, time_source, rng or random.Random()
        )
        return cls(spec, service, dispatcher, built)

    async def tick(self) -> int:
        """One round: fire due escalations, flush finished digests, send what is due."""
        fired = await self.service.escalate_due()
        await self.service.flush_digests()
        sent = await self.dispatcher.run_once()
        return fired + sent

    async def run(self, stop: asyncio.Event, interval: timedelta = timedelta(seconds=0.5)) -> None:
        """Tick until ``stop`` is set; when Redis is down, back off and try again."""
        down = 0
        pause = interval.total_seconds()
        while not stop.is_set():
            try:
                await self.tick()
                down = 0
                wait = pause
            except (RedisError, OSError) as exc:
                down += 1
                wait = min(5.0, pause * 2 ** min(down, 6))
                log.warning("alert_redis_unavailable", error=type(exc).__name__, wait_seconds=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def close(self) -> None:
        """Close the channels' connections."""
        for sink in self.sinks.values():
            await sink.close()
