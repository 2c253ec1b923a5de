"""A message Faust's stream skips around a rebalance is never made safe to commit.

Without the guard, Faust acks a skipped message (old consumer generation, or flow suspended
by a rebalance) and the next commit moves the group past it: the record is never read again.
That lost level-1 notifications after a SIGKILL and start events after a worker joined.
The end-to-end proof is ``tests/streams/test_failover.py`` (strict); this checks the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import faust
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams import skipped_acks

TOPIC = "skipped-acks-test"


@pytest.fixture
def consumer() -> Iterator[Any]:
    """A Faust consumer (never started: no broker) acking TOPIC, in generation 2."""
    skipped_acks.install()
    app = faust.App("skipped-acks-test", broker="kafka://127.0.0.1:1")
    app.topics._acking_topics.add(TOPIC)
    app.consumer_generation_id = 2
    app.flow_control.resume()
    yield app.consumer
    app.flow_control.suspend()


def message(offset: int, generation: int) -> ConsumerMessage:
    return ConsumerMessage(
        TOPIC, 0, offset, 0.0, 0, None, b"k", b"v", None, generation_id=generation
    )


def acked(consumer: Any) -> list[int]:
    return list(consumer._acked[TP(TOPIC, 0)])


class TestSkippedAcks:
    def test_current_generation_is_committable(self, consumer: Any) -> None:
        """A message of this generation, acked while flow runs, is safe to commit."""
        assert (True, [7]) == (consumer.ack(message(7, 2)), acked(consumer))

    def test_old_generation_is_not_committable(self, consumer: Any) -> None:
        """A message fetched before the rebalance is done for Faust, but not committed."""
        old = message(7, 1)
        assert (False, [], True) == (consumer.ack(old), acked(consumer), old.acked)

    def test_acked_while_flow_is_suspended_is_not_committable(self, consumer: Any) -> None:
        """While a rebalance suspends the flow, nothing becomes safe to commit."""
        consumer.app.flow_control.suspend()
        assert (False, []) == (consumer.ack(message(7, 2)), acked(consumer))

    def test_commit_stops_before_the_skipped_message(self, consumer: Any) -> None:
        """Skipped 5 among processed 4 and 6: the new offset to commit stops at 5."""
        consumer._committed_offset[TP(TOPIC, 0)] = 4
        consumer.ack(message(4, 2))
        consumer.ack(message(5, 1))
        consumer.ack(message(6, 2))
        assert 5 == consumer._new_offset(TP(TOPIC, 0))

    def test_install_is_idempotent(self) -> None:
        """Installing twice wraps Consumer.ack once."""
        from faust.transport.consumer import Consumer

        skipped_acks.install()
        first = Consumer.ack
        skipped_acks.install()
        assert first is Consumer.ack
