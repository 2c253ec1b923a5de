"""A partition whose committed message was passed over is read again, at the second look.

The end-to-end proof is ``tests/streams/test_failover.py`` (every breach notified at level 1
without waiting for another rebalance); this checks which partitions are chosen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.reread import StuckHeads, stuck_heads
from tests.streams._consumers import acking_consumer

TOPIC = "reread-test"
A, B = TP(TOPIC, 0), TP(TOPIC, 1)


@pytest.fixture
def consumer() -> Iterator[Any]:
    """A Faust consumer (never started: no broker) acking TOPIC, in generation 2."""
    with acking_consumer(TOPIC) as consumer:
        yield consumer


def done(consumer: Any, tp: TP, *offsets: int) -> None:
    for offset in offsets:
        consumer.ack(
            ConsumerMessage(
                TOPIC, tp.partition, offset, 0.0, 0, None, b"k", b"v", None, generation_id=2
            )
        )


class TestStuckHeads:
    def test_only_a_partition_past_its_undone_head_is_stuck(self, consumer: Any) -> None:
        """A: committed 10, 11 and 12 done, 10 not: stuck. B: committed 7, 7 done: not."""
        consumer._committed_offset.update({A: 10, B: 7})
        done(consumer, A, 11, 12)
        done(consumer, B, 7, 8)
        assert {A: 10} == stuck_heads(consumer, [A, B])

    def test_a_never_committed_partition_restarts_at_its_skip(self, consumer: Any) -> None:
        """No commit yet: 3 skipped (old generation), 4 done; the reread starts at 3."""
        consumer._committed_offset[A] = None
        consumer.ack(ConsumerMessage(TOPIC, 0, 3, 0.0, 0, None, b"k", b"v", None, generation_id=1))
        done(consumer, A, 4)
        assert {A: 3} == stuck_heads(consumer, [A])

    def test_a_partition_is_read_again_at_the_second_look(self) -> None:
        """Stuck at the same offset twice in one generation: read again; once: not yet."""
        heads = StuckHeads()
        first = heads.look(5, {A: 10, B: 3})
        second = heads.look(5, {A: 10, B: 4})
        assert ({}, {A: 10}) == (first, second)

    def test_a_rebalance_between_looks_starts_over(self) -> None:
        """A new generation seeks every partition anyway: the count starts again."""
        heads = StuckHeads()
        heads.look(5, {A: 10})
        assert ({}, {A: 10}) == (heads.look(6, {A: 10}), heads.look(6, {A: 10}))

    def test_after_a_reread_it_waits_two_looks_again(self) -> None:
        """A partition just sought back is not sought again at the very next look."""
        heads = StuckHeads()
        heads.look(5, {A: 10})
        heads.look(5, {A: 10})
        assert ({}, {A: 10}) == (heads.look(5, {A: 10}), heads.look(5, {A: 10}))
