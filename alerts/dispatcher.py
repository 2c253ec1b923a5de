"""The delivery loop: take due notifications from the Redis outbox, send them, record the result.

Runs beside the clock agents, never in their path: clock tracking only ever appends to the
outbox. A channel that is down makes its notifications wait (retries with exponential backoff
and jitter, durable in the outbox); after the channel's last try the notification is marked
failed with its reason and written to the dead-letter stream. Redis being down pauses the loop
until it is back; the outbox it left is still there.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field

import structlog
from redis.exceptions import RedisError

from alerts.backoff import backoff_delay
from alerts.config import AlertsSpec
from alerts.dedupe import AlertStore, Claimed
from alerts.directory import Directory
from alerts.metrics import AlertMetrics
from alerts.sinks.base import SendError, Sink
from alerts.storm import StormGuard
from sla.timesource import TimeSource

__all__ = ["Dispatcher"]

log = structlog.get_logger("slawatch.alerts")

_STORM_KINDS = ("warning", "breach", "escalation")


@dataclass
class Dispatcher:
    """Sends due notifications, at most ``concurrency`` at a time.

    Attributes:
        time_source: wall time live, a manual time in tests; ``now`` of every send.
        rng: the jitter of retry backoff (seeded in tests).
        batch: how many due notifications one round takes at the most.
    """

    spec: AlertsSpec
    store: AlertStore
    sinks: Mapping[str, Sink]
    directory: Directory
    storm: StormGuard
    metrics: AlertMetrics
    time_source: TimeSource
    rng: random.Random = field(default_factory=random.Random)
    batch: int = 100
    concurrency: InitVar[int] = 16
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Try every notification due now; returns how many were claimed."""
        now = self.time_source.now()
        keys = await self.store.due(now, self.batch)
        claimed = 0

        async def one(key: str) -> None:
            nonlocal claimed
            async with self._slots:
                c = await self.store.claim(key, now, self.spec.lease)
                if c is not None:
                    claimed += 1
                    await self.deliver(c)

        await asyncio.gather(*(one(k) for k in keys))
        self.metrics.outbox.set(await self.store.pending_count())
        return claimed

    async def deliver(self, c: Claimed) -> None:
        """One try of one claimed notification, and its outcome in Redis and the metrics."""
        n = c.notification
        labels = {"channel": n.channel, "level": n.alert.level}
        now = self.time_source.now()
        if c.attempts == 0 and n.alert.kind in _STORM_KINDS:
            team = n.team_stream
            if not await self.storm.admit(team, now):
                digest = await self.storm.hold(team, now, n.alert)
                await self.store.mark_digested(c, digest)
                self.metrics.digested.labels(**labels).inc()
                log.info("alert_digested", key=n.key, channel=n.channel, digest=digest)
                return
        sink = self.sinks.get(n.channel)
        channel = self.spec.channels.get(n.channel)
        if sink is None or channel is None:
            await self._give_up(c, f"no channel named {n.channel!r} in the alerts file")
            return
        try:
            address = self.directory.address(n.recipient, n.channel)
            limit = channel.timeout.total_seconds() * 2 + 5
            await asyncio.wait_for(sink.send(n, address, now), timeout=limit)
        except SendError as exc:
            await self._failed(c, exc.reason, retryable=exc.retryable)
            return
        except LookupError as exc:
            await self._give_up(c, str(exc))
            return
        except TimeoutError:
            await self._failed(c, "timed out", retryable=True)
            return
        except RedisError:
            raise
        except Exception as exc:  # a sink bug must not stop the loop; retry like a failure
            await self._failed(c, f"unexpected {type(exc).__name__}", retryable=True)
            return
        first = await self.store.mark_sent(c, self.time_source.now())
        self.metrics.sent.labels(**labels).inc()
        if first:
            latency = (self.time_source.now() - n.alert.occurred_at).total_seconds()
            self.metrics.latency.labels(clock=n.alert.clock).observe(max(latency, 0.0))
        log.info("alert_sent", key=n.key, channel=n.channel, alert_level=n.alert.level,
                 recipient=n.recipient, attempts=c.attempts + 1)  # fmt: skip

    async def _failed(self, c: Claimed, reason: str, *, retryable: bool) -> None:
        channel = self.spec.channels[c.notification.channel]
        retry = c.attempts + 1
        if not retryable or retry > channel.retries:
            await self._give_up(c, reason)
            return
        wait = backoff_delay(retry, channel.backoff, channel.max_backoff, self.rng)
        await self.store.retry_later(c, self.time_source.now() + wait, reason)
        self.metrics.retried.labels(
            channel=c.notification.channel, level=c.notification.alert.level
        ).inc()
        log.warning("alert_retry", key=c.key, channel=c.notification.channel, reason=reason,
                    attempt=retry, wait_seconds=round(wait.total_seconds(), 1))  # fmt: skip

    async def _give_up(self, c: Claimed, reason: str) -> None:
        await self.store.mark_failed(c, reason, self.time_source.now())
        self.metrics.failed.labels(
            channel=c.notification.channel, level=c.notification.alert.level
        ).inc()
        log.error("alert_failed", key=c.key, channel=c.notification.channel, reason=reason,
                  attempts=c.attempts + 1)  # fmt: skip
