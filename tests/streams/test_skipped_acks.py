"""A message Faust's stream skips around a rebalance is never made safe to commit.

Without the guard, Faust acks a skipped message (old consumer generation, or flow suspended
by a rebalance) and the next commit moves the group past it: the record is never read again.
That lost level-1 notifications after a SIGKILL and start events after a worker joined.
The end-to-end proof is ``tests/streams/test_failover.py`` (strict); this checks the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams import skipped_acks
from tests.streams._consumers import acking_consumer

TOPIC = "skipped-acks-test"


@pytest.fixture
def consumer() -> Iterator[Any]:
    """A Faust consumer (never started: no broker) acking TOPIC, in generation 2."""
    with acking_consumer(TOPIC) as consumer:
        yield consumer


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


class TestCommitHead:
    """Faust's commit never moves past the committed offset's own message while it is undone."""

    def test_a_missing_head_holds_the_commit(self, consumer: Any) -> None:
        """Committed 27 (the next to read), 28 and 29 done, 27 never came: nothing to commit."""
        tp = TP(TOPIC, 0)
        consumer._committed_offset[tp] = 27
        consumer.ack(message(28, 2))
        consumer.ack(message(29, 2))
        assert (None, True) == (
            consumer._new_offset(tp),
            skipped_acks.head_is_missing(consumer, tp),
        )

    def test_the_head_done_lets_the_run_commit(self, consumer: Any) -> None:
        """Once 27 is processed, 27-29 commit as offset 30."""
        tp = TP(TOPIC, 0)
        consumer._committed_offset[tp] = 27
        for offset in (28, 29, 27):
            consumer.ack(message(offset, 2))
        assert 30 == consumer._new_offset(tp)

    def test_no_committed_offset_yet(self, consumer: Any) -> None:
        """A partition the group never committed starts where the log starts."""
        tp = TP(TOPIC, 0)
        consumer._committed_offset[tp] = None
        consumer.ack(message(5, 2))
        assert 6 == consumer._new_offset(tp)

    def test_a_skip_before_any_commit_holds_the_commit(self, consumer: Any) -> None:
        """Never committed: 3 skipped, 4 and 5 done; the commit waits for 3, then passes it."""
        tp = TP(TOPIC, 0)
        consumer._committed_offset[tp] = None
        consumer.ack(message(3, 1))
        consumer.ack(message(4, 2))
        consumer.ack(message(5, 2))
        held = (consumer._new_offset(tp), skipped_acks.head_offset(consumer, tp))
        consumer.ack(message(3, 2))  # read again, processed this time
        assert ((None, 3), 6, None) == (
            held,
            consumer._new_offset(tp),
            skipped_acks.head_offset(consumer, tp),
        )
