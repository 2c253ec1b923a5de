"""The ingest agent: every source topic → canonical events on ``slawatch.events``, or a dead letter.

One agent reads all configured source topics as raw bytes. Each message is decoded and mapped
by its topic's mapping (``config/topics.yaml``). A good event is re-keyed by ``case_id`` so all
events of a case reach the same clock-agent partition, in order. A bad message goes to
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

from streams.codec import b64, dumps, encode_model, key_bytes

if TYPE_CHECKING:
    from streams.app import Runtime

__all__ = ["deadletter_value", "register"]

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


def register(rt: Runtime) -> None:
    """Register the ingest agent on the configured source topics."""
    from streams.mapping import EventSkipped, MappingError, TimeWindow

    app = rt.app
    sources = sorted(rt.mappings)
    if not sources:
        return
    channel = app.topic(*sources, key_serializer="raw", value_serializer="raw")
    events_topic = rt.topics["events"]
    deadletter_topic = rt.topics["deadletter"]
    metrics = rt.metrics
    window = TimeWindow(rt.settings.event_max_age, rt.settings.event_max_future)

    async def dead_letter(message: Any, reason: str, detail: str) -> None:
        metrics.deadletters.labels(message.topic, reason).inc()
        log.warning(  # no detail: it may quote message bytes; the dead letter has it
            "dead_letter",
            reason=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
        await deadletter_topic.send(
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

    @app.agent(channel, name="slawatch.ingest")
    async def ingest(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            stamp = float(message.timestamp) if message.timestamp else time.time()
            metrics.last_event_timestamp.labels(message.topic).set(stamp)
            mapping = rt.mappings.get(message.topic)
            if mapping is None:
                await dead_letter(message, "unknown_topic", f"no mapping for {message.topic}")
                continue
            if message.value is None:
                await dead_letter(message, "empty_message", "message has no value (tombstone)")
                continue
            try:
                canonical = mapping.decode(message.key, message.value)
                window.check(canonical, datetime.now(UTC), message.topic)
            except EventSkipped as exc:
                metrics.events_ignored.labels(exc.reason).inc()
                continue
            except MappingError as exc:
                await dead_letter(message, exc.reason, exc.detail)
                continue
            except Exception as exc:  # a mapping bug must not stop the worker
                await dead_letter(message, "mapping_failed", f"{type(exc).__name__}: {exc}")
                continue
            metrics.events_consumed.labels(message.topic, canonical.event_type).inc()
            await events_topic.send(key=key_bytes(canonical.case_id), value=encode_model(canonical))

    rt.extra["ingest_agent"] = ingest
