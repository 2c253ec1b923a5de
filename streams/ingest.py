"""The ingest edge: source messages → canonical events, or a dead letter.

:class:`SourceIntake` decodes and maps a message by its topic's mapping (``config/topics.yaml``).
A source declared ``keyed_by_case`` (keyed by the case id, with the events topic's partition
count) is read by the clock agent directly. Every other source is read by the ingest agent,
which re-keys each good event by ``case_id`` onto ``slawatch.events`` so all events of a case
reach the same clock-agent partition, in order. A bad message goes to
``sla.deadletter`` with the reason, the detail, where it came from and its original bytes; the
worker never stops on a bad message. A message the mapping deliberately skips is counted as
ignored. An event whose time is implausibly far from now (``SLAWATCH_EVENT_MAX_AGE``,
``SLAWATCH_EVENT_MAX_FUTURE``) is dead-lettered as ``implausible_timestamp``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import structlog
from faust.types import EventT, Message, StreamT
from prometheus_client import Counter, Gauge

from sla.events import LifecycleEvent
from sources.mapping import EventSkipped, MappingError, TimeWindow
from streams.codec import DEAD_LETTERS, DeadLetter
from streams.errors import Failed
from streams.metrics import Tally
from streams.partitioner import partition_of
from streams.runtime import Runtime, SourceMapping
from streams.wire import raw_topic

__all__ = ["SourceIntake", "deadletter_value", "partition_of", "register"]

log = structlog.get_logger("slawatch.ingest")


def deadletter_value(
    *,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    at: datetime | None = None,
) -> bytes:
    """The JSON body of a dead letter (design.md, ``sla.deadletter``)."""
    letter = DeadLetter(
        reason, detail, topic, partition, offset, key, value, at or datetime.now(UTC)
    )
    return DEAD_LETTERS.encode(letter)


class SourceIntake:
    """Decode, map and check one source message; dead-letter or count what is not an event.

    Shared by the ingest agent (sources that need re-keying) and the clock agent (sources
    declared ``keyed_by_case``, read directly), so both edges treat bad input alike.
    """

    def __init__(self, rt: Runtime) -> None:
        self._mappings = rt.mappings
        self._deadletter = rt.topics.deadletter
        self._metrics = rt.metrics
        self._errors = rt.errors
        self._window = TimeWindow(rt.settings.event_max_age, rt.settings.event_max_future)
        self._last_seen: dict[str, Gauge] = {}
        self._consumed: dict[tuple[str, str], Counter] = {}

    async def canonical(
        self, message: Message, tally: Tally | None = None
    ) -> LifecycleEvent | None:
        """The canonical event of ``message``, or None (dead-lettered or skipped, counted).

        ``tally``: where the event's counts go until the caller's batch ends; None: straight
        to the metrics.
        """
        topic = message.topic
        gauge = self._last_seen.get(topic)
        if gauge is None:
            gauge = self._last_seen[topic] = self._metrics.last_event_timestamp.labels(topic)
        seen = float(message.timestamp) if message.timestamp else time.time()
        if tally is None:
            gauge.set(seen)
        else:
            tally.set(gauge, seen)
        mapping = self._mappings.get(topic)
        if mapping is None:
            await self.dead_letter(message, "unknown_topic", f"no mapping for {topic}")
            return None
        if message.value is None:
            await self.dead_letter(message, "empty_message", "message has no value (tombstone)")
            return None
        value = message.value
        # a mapping bug must not stop the worker: it is dead-lettered as mapping_failed
        mapped = self._errors.attempt(lambda: self._map(mapping, message.key, value, topic))
        if isinstance(mapped, Failed):
            await self.dead_letter(message, "mapping_failed", mapped.detail)
            return None
        if isinstance(mapped, EventSkipped):
            self._metrics.events_ignored.labels(mapped.reason).inc()
            return None
        if isinstance(mapped, MappingError):
            await self.dead_letter(message, mapped.reason, mapped.detail)
            return None
        canonical = mapped
        key = (topic, canonical.event_type)
        counter = self._consumed.get(key)
        if counter is None:
            counter = self._consumed[key] = self._metrics.events_consumed.labels(*key)
        if tally is None:
            counter.inc()
        else:
            tally.inc(counter)
        return canonical

    def _map(
        self, mapping: SourceMapping, key: bytes | None, value: bytes, topic: str
    ) -> LifecycleEvent | MappingError:
        """The mapped and checked event, or the mapping's own refusal (skip or bad input)."""
        try:
            canonical = mapping.decode(key, value)
            self._window.check(canonical, datetime.now(UTC), topic)
        except MappingError as exc:  # EventSkipped is one
            return exc
        return canonical

    async def dead_letter(self, message: Message, reason: str, detail: str) -> None:
        """Send ``message`` to ``sla.deadletter`` with ``reason`` and ``detail``; count it."""
        self._metrics.deadletters.labels(message.topic, reason).inc()
        log.warning(  # no detail: it may quote message bytes; the dead letter has it
            "dead_letter",
            reason=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
        letter = DeadLetter(
            reason=reason,
            detail=detail,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            at=datetime.now(UTC),
        )
        await self._deadletter.send(letter, key=message.key)


def register(rt: Runtime, intake: SourceIntake) -> None:
    """Register the ingest agent on the source topics that are not keyed by case id.

    Sources declared ``keyed_by_case`` are read by the clock agent itself (no re-key hop).
    """
    sources = sorted(name for name in rt.mappings if name not in rt.keyed_sources)
    if not sources:
        return
    channel = raw_topic(rt.app, *sources)
    events = rt.topics.events

    async def ingest(stream: StreamT[bytes]) -> None:
        event: EventT[bytes]
        async for event in stream.events():
            canonical = await intake.canonical(event.message)
            if canonical is not None:
                await events.send(canonical, key=canonical.case_id)

    rt.app.agent(channel, name="slawatch.ingest")(ingest)
