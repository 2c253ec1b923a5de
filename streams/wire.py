"""slawatch's own topics, each declared once with the codec of what it carries.

Producers send values through a :class:`WireTopic` (``await topics.breaches.send(record,
key=record.case_id)``) and consumers decode with the same topic's codec, so a topic's wire
format is written down in one place: :func:`declare_topics`. Every topic carries raw bytes
(keys are the raw ``case_id`` bytes: ``slawatch.events`` and ``slawatch.due`` stay
co-partitioned with the keyed sources).

========================  =====================================  ===============================
topic (default name)      value                                  codec
========================  =====================================  ===============================
``slawatch.events``       :class:`~sla.events.LifecycleEvent`    :data:`~streams.codec.EVENTS`
``slawatch.due``          :class:`~streams.codec.DueCommand`     ``DUE_COMMANDS``
``sla.warnings``          :class:`~sla.records.WarningRecord`    :data:`WARNINGS`
``sla.breaches``          :class:`~sla.records.BreachRecord`     :data:`BREACHES`
``sla.outcomes``          :class:`~sla.records.OutcomeRecord`    :data:`OUTCOMES`
``sla.deadletter``        :class:`~streams.codec.DeadLetter`     ``DEAD_LETTERS``
``slawatch.acks``         :class:`~alerts.ack.AckRecord`         :data:`ACKS`
========================  =====================================  ===============================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import faust
from faust.types import ProducerT, TopicT

from alerts.ack import AckRecord
from sla.events import LifecycleEvent
from sla.records import BreachRecord, OutcomeRecord, WarningRecord
from streams.codec import (
    DEAD_LETTERS,
    DUE_COMMANDS,
    EVENTS,
    Codec,
    DeadLetter,
    DueCommand,
    ModelCodec,
    key_bytes,
)
from streams.settings import Settings

__all__ = [
    "ACKS",
    "BREACHES",
    "OUTCOMES",
    "WARNINGS",
    "WireTopic",
    "WorkerTopics",
    "declare_topics",
    "raw_topic",
]

T = TypeVar("T")

WARNINGS: ModelCodec[WarningRecord] = ModelCodec(WarningRecord)
BREACHES: ModelCodec[BreachRecord] = ModelCodec(BreachRecord)
OUTCOMES: ModelCodec[OutcomeRecord] = ModelCodec(OutcomeRecord)
ACKS: ModelCodec[AckRecord] = ModelCodec(AckRecord)


def raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> TopicT:
    """A Faust topic (or a channel of several) of raw key and value bytes."""
    return app.topic(*names, partitions=partitions, key_serializer="raw", value_serializer="raw")


class WireTopic(Generic[T]):
    """One topic and the codec of its values."""

    def __init__(self, topic: TopicT, codec: Codec[T]) -> None:
        self.topic = topic
        self.codec = codec
        self._name = topic.get_topic_name()
        self._producer: ProducerT | None = None

    @property
    def name(self) -> str:
        """The topic's name."""
        return self._name

    async def send(
        self, value: T, *, key: str | bytes | None = None, partition: int | None = None
    ) -> None:
        """Hand ``value`` to the producer (a case id key is sent as its UTF-8 bytes)."""
        raw_key = key_bytes(key) if isinstance(key, str) else key
        await self.publish(key=raw_key, value=self.codec.encode(value), partition=partition)

    async def publish(
        self, *, key: bytes | None, value: bytes, partition: int | None = None
    ) -> None:
        """Hand encoded bytes straight to the app's producer.

        Not through ``Topic.send``: for a raw topic that only wraps the record in a
        ``FutureMessage``, asks whether the producer is started and calls the same producer
        send, several µs per record on the worker's hot path. Partitioning (the key's hash when
        ``partition`` is None), delivery watching (:mod:`streams.deliveries`) and the flush
        before each commit are the producer's and stay the same.
        """
        producer = self._producer
        if producer is None:
            producer = self._producer = await self.topic.app.maybe_start_producer()
        await producer.send(self.name, key, value, partition, None, None)

    def decode(self, data: bytes) -> T:
        """A value read from this topic; ValueError when it is not one."""
        return self.codec.decode(data)


@dataclass(frozen=True)
class WorkerTopics:
    """The worker's own topics (names from settings), each with its codec."""

    events: WireTopic[LifecycleEvent]
    due: WireTopic[DueCommand]
    warnings: WireTopic[WarningRecord]
    breaches: WireTopic[BreachRecord]
    outcomes: WireTopic[OutcomeRecord]
    deadletter: WireTopic[DeadLetter]
    acks: WireTopic[AckRecord]

    def sizes(self, partitions: int) -> dict[str, int]:
        """Topic name -> partition count, for the start-up topic check."""
        return dict.fromkeys(
            (
                self.events.name,
                self.due.name,
                self.warnings.name,
                self.breaches.name,
                self.outcomes.name,
                self.deadletter.name,
                self.acks.name,
            ),
            partitions,
        )


def declare_topics(app: faust.App, settings: Settings) -> WorkerTopics:
    """Declare the worker's topics on ``app`` with their codecs (the one place)."""
    names = settings.topic_names
    n = settings.partitions

    def wire(name: str, codec: Codec[T]) -> WireTopic[T]:
        return WireTopic(raw_topic(app, name, partitions=n), codec)

    return WorkerTopics(
        events=wire(names.events, EVENTS),
        due=wire(names.due, DUE_COMMANDS),
        warnings=wire(names.warnings, WARNINGS),
        breaches=wire(names.breaches, BREACHES),
        outcomes=wire(names.outcomes, OUTCOMES),
        deadletter=wire(names.deadletter, DEAD_LETTERS),
        acks=wire(names.acks, ACKS),
    )
