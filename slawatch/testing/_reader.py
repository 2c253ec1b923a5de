"""A whole topic read from its beginning, without a consumer group."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from slawatch.testing._wait import wait_for

__all__ = ["TopicReader"]


class TopicReader:
    """Reads a whole topic from the beginning, without a consumer group.

    Records accumulate in :attr:`records`; each :meth:`poll` adds what arrived since.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        partitions: set[int] = wait_for(
            lambda: self.consumer.partitions_for_topic(topic), 30, f"topic {topic}"
        )
        self.consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        self.consumer.seek_to_beginning()
        self.records: list[Any] = []

    def poll(self) -> list[Any]:
        """Read what arrived; returns every record so far (kafka-python ``ConsumerRecord``)."""
        batch = self.consumer.poll(timeout_ms=200)
        for records in batch.values():
            self.records.extend(records)
        return self.records

    def values(self) -> list[dict[str, Any]]:
        """Every value read so far, parsed as JSON."""
        self.poll()
        return [json.loads(r.value) for r in self.records]

    def wait(
        self, predicate: Callable[[list[dict[str, Any]]], object], timeout: float, what: str
    ) -> list[dict[str, Any]]:
        """Read until ``predicate(values)`` holds; returns the values."""

        def ready() -> list[dict[str, Any]] | None:
            values = self.values()
            return values if predicate(values) else None

        return wait_for(ready, timeout, what)

    def close(self) -> None:
        self.consumer.close()
