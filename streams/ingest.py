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
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka.partitioner import murmur2

from sla.events import LifecycleEvent
from streams.codec import b64, dumps, encode_model, key_bytes

if TYPE_CHECKING:
    from streams.app import Runtime

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
    return dumps(
        {
            "reason": reason,
            "detail": detail,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key_b64": b64(key),
            "value_b64": b64(value),
            "at": (at or datetime.now(UTC)).isoformat(),
        }
    )


def partition_of(case_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a message keyed by ``case_id``.

    Example:
        >>> partition_of("C-1", 4) == partition_of("C-1", 4)
        True
    """
    return (murmur2(key_bytes(case_id)) & 0x7FFFFFFF) % partitions


class SourceIntake:
    """Decode, map and check one source message; dead-letter or count what is not an event.

    Shared by the ingest agent (sources that need re-keying) and the clock agent (sources
    declared ``keyed_by_case``, read directly), so both edges treat bad input alike.
    """

    def __init__(self, rt: Runtime) -> None:
        from sources.mapping import TimeWindow

        self._mappings = rt.mappings
        self._deadletter = rt.topics["deadletter"]
        self._metrics = rt.metrics
        self._window = TimeWindow(rt.settings.event_max_age, rt.settings.event_max_future)
        self._last_seen: dict[str, Any] = {}
        self._consumed: dict[tuple[str, str], Any] = {}

    async def canonical(self, message: Any) -> LifecycleEvent | None:
        """The canonical event of ``message``, or None (dead-lettered or skipped, counted)."""
        from sources.mapping import EventSkipped, MappingError

        topic = message.topic
        gauge = self._last_seen.get(topic)
        if gauge is None:
            gauge = self._last_seen[topic] = self._metrics.last_event_timestamp.labels(topic)
        gauge.set(float(message.timestamp) if message.timestamp else time.time())
        mapping = self._mappings.get(topic)
        if mapping is None:
            await self.dead_letter(message, "unknown_topic", f"no mapping for {topic}")
            return None
        if message.value is None:
            await self.dead_letter(message, "empty_message", "message has no value (tombstone)")
            return None
        try:
            canonical: LifecycleEvent = mapping.decode(message.key, message.value)
            self._window.check(canonical, datetime.now(UTC), topic)
        except EventSkipped as exc:
            self._metrics.events_ignored.labels(exc.reason).inc()
            return None
        except MappingError as exc:
            await self.dead_letter(message, exc.reason, exc.detail)
            return None
        except Exception as exc:  # a mapping bug must not stop the worker
            await self.dead_letter(message, "mapping_failed", f"{type(exc).__name__}: {exc}")
            return None
        key = (topic, canonical.event_type)
        counter = self._consumed.get(key)
        if counter is None:
            counter = self._consumed[key] = self._metrics.events_consumed.labels(*key)
        counter.inc()
        return canonical

    async def dead_letter(self, message: Any, reason: str, detail: str) -> None:
        """Send ``message`` to ``sla.deadletter`` with ``reason`` and ``detail``; count it."""
        self._metrics.deadletters.labels(message.topic, reason).inc()
        log.warning(  # no detail: it may quote message bytes; the dead letter has it
            "dead_letter",
            reason=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
        await self._deadletter.send(
            key=message.key,
            value=deadletter_value(
                reason=reason,
                detail=detail,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
            ),
        )


def register(rt: Runtime, intake: SourceIntake) -> None:
    """Register the ingest agent on the source topics that are not keyed by case id.

    Sources declared ``keyed_by_case`` are read by the clock agent itself (no re-key hop).
    """
    sources = sorted(name for name in rt.mappings if name not in rt.keyed_sources)
    if not sources:
        return
    channel = rt.app.topic(*sources, key_serializer="raw", value_serializer="raw")
    events_topic = rt.topics["events"]

    @rt.app.agent(channel, name="slawatch.ingest")
    async def ingest(stream: Any) -> None:
        async for event in stream.events():
            canonical = await intake.canonical(event.message)
            if canonical is not None:
                await events_topic.send(
                    key=key_bytes(canonical.case_id), value=encode_model(canonical)
                )
