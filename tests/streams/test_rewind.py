"""A partition the group never committed is read from its start again after a rebalance.

aiokafka's ``seek_to_committed`` leaves such a partition where the fetcher was, past records
Faust dropped when the rebalance started; the end-to-end proof is test_failover.py (a
worker's first breaches, fetched and dropped when another worker stopped, were never
notified). This checks the rule against aiokafka's own consumer method, with the offsets the
broker would answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.structs import TopicPartition

from streams import rewind

AGENT, CHANGELOG = "app.breaches", "app-cases-changelog"


class Consumer:
    """The two aiokafka consumer calls the seek makes; the committed offsets are given."""

    def __init__(self, committed: dict[TopicPartition, int | None]) -> None:
        self.committed = committed
        self.seeks: list[tuple[str, int, int]] = []

    async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
        for tp, offset in self.committed.items():
            if offset and offset > 0:  # aiokafka's rule (consumer.py)
                self.seek(tp, offset)
        return dict(self.committed)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp.topic, tp.partition, offset))


def seek(committed: dict[TopicPartition, int | None]) -> tuple[Any, list[tuple[str, int, int]]]:
    consumer = Consumer(committed)
    answer = asyncio.run(rewind.seek_to_committed(consumer, lambda topic: topic == AGENT))
    return answer, consumer.seeks


class TestRewind:
    def test_never_committed_goes_back_to_the_start(self) -> None:
        """No committed offset: sought to 0, where ``earliest`` starts the group."""
        answer, seeks = seek({TopicPartition(AGENT, 3): None})
        assert ({TopicPartition(AGENT, 3): None}, [(AGENT, 3, 0)]) == (answer, seeks)

    def test_committed_at_zero_goes_back_to_zero(self) -> None:
        """Committed 0 (aiokafka skips it too): sought to 0."""
        assert [(AGENT, 1, 0)] == seek({TopicPartition(AGENT, 1): 0})[1]

    def test_a_committed_partition_is_sought_once_to_its_offset(self) -> None:
        """Committed 17: aiokafka's own seek, nothing more."""
        assert [(AGENT, 0, 17)] == seek({TopicPartition(AGENT, 0): 17})[1]

    def test_changelogs_are_left_where_faust_put_them(self) -> None:
        """A changelog (no acks, never committed) keeps its recovery or standby position."""
        assert [] == seek({TopicPartition(CHANGELOG, 2): None})[1]

    def test_install_is_idempotent(self) -> None:
        """Installing twice wraps Faust's consumer thread once."""
        from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

        rewind.install()
        first = AIOKafkaConsumerThread.seek_to_committed
        rewind.install()
        assert first is AIOKafkaConsumerThread.seek_to_committed
