"""A fetch of a routed topic goes to its handler as one list; acks follow what it processed.

The consumer here is Faust's own, never started (no broker): what is checked is the fetch
loop's bookkeeping (acks, read offsets, gaps, the unacknowledged set a rebalance waits on).
The real worker taking its clock channel this way against the real broker is tested in
test_worker.py and test_failover.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faust.types import TP, Message

from streams import batches
from streams.batches import _Drain
from tests.streams._consumers import acking_consumer

ROUTED, OTHER = "batches-routed", "batches-other"


@pytest.fixture
def consumer() -> Iterator[Any]:
    """A never-started Faust consumer acking both topics; generation 2, flow running."""
    with acking_consumer(ROUTED) as consumer:
        consumer.app.topics._acking_topics.add(OTHER)
        consumer.highwater = lambda tp: None
        yield consumer


def record(topic: str, offset: int, partition: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 0, 0, b"k", b"v", None, 1, 1, headers=())


def acked(consumer: Any, topic: str = ROUTED) -> list[int]:
    return sorted(consumer._acked[TP(topic, 0)])


class Handler:
    """Records each list it is given; processes ``limit`` messages of each (all when None)."""

    def __init__(self, consumer: Any, limit: int | None = None) -> None:
        self.consumer = consumer
        self.limit = limit
        self.lists: list[list[int]] = []
        self.in_flight: list[bool] = []

    async def __call__(self, messages: Sequence[Message]) -> int:
        self.lists.append([m.offset for m in messages])
        self.in_flight.append(all(m in self.consumer._unacked_messages for m in messages))
        return len(messages) if self.limit is None else self.limit


def take(consumer: Any, handler: Handler, records: dict[TP, list[Any]]) -> None:
    asyncio.run(_Drain(consumer, {ROUTED: [handler]})._take(records, None))


class TestRoutedFetch:
    def test_one_list_per_partition_in_offset_order(self, consumer: Any) -> None:
        """Three records of one partition: one call with all three; all acked; read offset 7."""
        handler = Handler(consumer)
        take(consumer, handler, {TP(ROUTED, 0): [record(ROUTED, o) for o in (5, 6, 7)]})
        assert ([[5, 6, 7]], [5, 6, 7]) == (handler.lists, acked(consumer))
        assert 7 == consumer._read_offset[TP(ROUTED, 0)]

    def test_in_the_unacked_set_while_the_handler_runs(self, consumer: Any) -> None:
        """A rebalance waits for the messages being processed (Consumer.wait_empty)."""
        handler = Handler(consumer)
        take(consumer, handler, {TP(ROUTED, 0): [record(ROUTED, 1), record(ROUTED, 2)]})
        assert ([True], 0) == (handler.in_flight, len(consumer._unacked_messages))

    def test_only_the_processed_prefix_is_acked(self, consumer: Any) -> None:
        """A handler stopped by a rebalance after two of four: the other two are read again."""
        handler = Handler(consumer, limit=2)
        take(consumer, handler, {TP(ROUTED, 0): [record(ROUTED, o) for o in range(10, 14)]})
        assert ([10, 11], 11) == (acked(consumer), consumer._read_offset[TP(ROUTED, 0)])
        assert 0 == len(consumer._unacked_messages)

    def test_records_before_the_read_offset_are_not_handed_again(self, consumer: Any) -> None:
        """Faust's rule: a record below the partition's read offset was already delivered."""
        consumer._read_offset[TP(ROUTED, 0)] = 6
        handler = Handler(consumer)
        take(consumer, handler, {TP(ROUTED, 0): [record(ROUTED, o) for o in (5, 6, 7)]})
        assert [[6, 7]] == handler.lists

    def test_a_gap_in_the_offsets_is_recorded(self, consumer: Any) -> None:
        """Offsets 4 then 7 (5 and 6 compacted away): the gap lets the commit pass them."""
        consumer._read_offset[TP(ROUTED, 0)] = 3
        handler = Handler(consumer)
        take(consumer, handler, {TP(ROUTED, 0): [record(ROUTED, 4), record(ROUTED, 7)]})
        gaps = consumer._gap[TP(ROUTED, 0)]
        assert [(5, 7)] == [(int(g.begin), int(g.end)) for g in gaps]  # 5 and 6, not 7

    def test_nothing_is_handed_while_the_flow_is_stopped(self, consumer: Any) -> None:
        """A rebalance stopped the flow after the fetch: the records wait for the next owner."""
        seeks: list[bool] = []

        async def perform_seek() -> None:
            seeks.append(True)

        consumer.perform_seek = perform_seek
        consumer.flow_active = False
        handler = Handler(consumer)
        take(consumer, handler, {TP(ROUTED, 0): [record(ROUTED, 1)]})
        assert ([], [], [True]) == (handler.lists, acked(consumer), seeks)

    def test_a_handler_that_raises_stops_the_worker(self, consumer: Any) -> None:
        """Nothing acked, the app crashed with the error, the loop takes nothing more."""
        crashed: list[BaseException] = []

        async def crash(reason: BaseException) -> None:
            crashed.append(reason)

        consumer.app.crash = crash

        async def broken(messages: Sequence[Message]) -> int:
            raise RuntimeError("boom")

        drain = _Drain(consumer, {ROUTED: [broken]})
        records = {TP(ROUTED, 0): [record(ROUTED, 1)], TP(ROUTED, 1): [record(ROUTED, 1, 1)]}
        asyncio.run(drain._take(records, None))
        assert ([], ["boom"], True) == (
            acked(consumer),
            [str(c) for c in crashed],
            drain.failed,
        )
        assert 0 == len(consumer._unacked_messages)


class TestOtherTopics:
    def test_go_through_fausts_callback_one_by_one(self, consumer: Any) -> None:
        """A topic no handler takes: each message to the conductor's callback, in order."""
        delivered: list[tuple[str, int]] = []

        async def callback(message: Message) -> None:
            delivered.append((message.topic, message.offset))

        async def wait_first(delivery: Any, flow_stop: Any) -> None:
            flow_stop.close()  # Faust's races the delivery against a flow stop, on its own loop
            await delivery

        consumer.callback = callback
        consumer.wait_first = wait_first
        handler = Handler(consumer)
        records = {
            TP(OTHER, 0): [record(OTHER, 3), record(OTHER, 4)],
            TP(ROUTED, 0): [record(ROUTED, 8)],
        }
        take(consumer, handler, records)
        assert ([(OTHER, 3), (OTHER, 4)], [[8]]) == (delivered, handler.lists)
        assert 4 == consumer._read_offset[TP(OTHER, 0)]


class TestRestToAgent:
    def test_what_the_handler_left_goes_to_fausts_callback_unacked(self, consumer: Any) -> None:
        """The alert handler took one of three (Redis went away): the other two go on to the
        agent through Faust's path, which acknowledges them when the agent has handled them."""
        delivered: list[int] = []

        async def callback(message: Message) -> None:
            delivered.append(message.offset)

        async def wait_first(delivery: Any, flow_stop: Any) -> None:
            flow_stop.close()
            await delivery

        consumer.callback = callback
        consumer.wait_first = wait_first
        handler = Handler(consumer, limit=1)
        records = {TP(ROUTED, 0): [record(ROUTED, o) for o in (4, 5, 6)]}
        asyncio.run(_Drain(consumer, {ROUTED: [handler]}, {ROUTED})._take(records, None))
        assert ([[4, 5, 6]], [4], [5, 6]) == (handler.lists, acked(consumer), delivered)
        assert 6 == consumer._read_offset[TP(ROUTED, 0)]

    def test_without_it_the_rest_waits_for_the_next_owner(self, consumer: Any) -> None:
        """The clock channel's handler stopped at a rebalance: the rest is not delivered."""
        delivered: list[int] = []

        async def callback(message: Message) -> None:
            delivered.append(message.offset)

        consumer.callback = callback
        handler = Handler(consumer, limit=1)
        take(consumer, handler, {TP(ROUTED, 0): [record(ROUTED, o) for o in (4, 5, 6)]})
        assert ([4], []) == (acked(consumer), delivered)


class TestSeveralHandlers:
    def test_each_gets_the_list_and_acks_follow_the_slowest(self, consumer: Any) -> None:
        """The clock agent processed four, the shadow two (a rebalance): two acked."""
        live, shadow = Handler(consumer), Handler(consumer, limit=2)
        records = {TP(ROUTED, 0): [record(ROUTED, o) for o in range(4)]}
        asyncio.run(_Drain(consumer, {ROUTED: [live, shadow]})._take(records, None))
        assert ([[0, 1, 2, 3]], [[0, 1, 2, 3]], [0, 1]) == (
            live.lists,
            shadow.lists,
            acked(consumer),
        )


class TestRoutes:
    def test_handlers_are_kept_in_routing_order(self, consumer: Any) -> None:
        """Two handlers of one topic: both kept, first routed first; one twice is refused."""
        app = consumer.app
        first, second = Handler(consumer), Handler(consumer)
        batches.route(app, [ROUTED], first)
        batches.route(app, [ROUTED, OTHER], second)
        with pytest.raises(ValueError, match="already has this batch handler"):
            batches.route(app, [ROUTED], first)
        routes = batches.routes_of(app)
        assert ([first, second], [second]) == (routes[ROUTED], routes[OTHER])
        assert set() == batches.rest_to_agent_of(app)
        batches.route(app, [OTHER], Handler(consumer), rest_to_agent=True)
        assert {OTHER} == batches.rest_to_agent_of(app)

    def test_install_is_idempotent(self) -> None:
        """Installing twice wraps Faust's fetch loop once."""
        from faust.transport.consumer import Consumer

        batches.install()
        first = Consumer._drain_messages
        batches.install()
        assert first is Consumer._drain_messages
