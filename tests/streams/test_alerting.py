"""The alert topics are taken a fetch at a time: records in order, in chunks, nothing skipped.

The handler here records what it is given; what the alert service does with a chunk is tested
against the real Redis in tests/alerts/test_service.py, and the worker taking its alert topics
this way against the real broker in tests/alerts/test_worker_alerts.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import faust
import pytest
from faust.types import Message
from redis.exceptions import ConnectionError as RedisConnectionError

from sla.records import BreachRecord
from streams.alerting import ALERT_CHUNK, record_batches
from streams.wire import BREACHES, WireTopic, raw_topic
from tests.alerts.conftest import breach

TOPIC = "alerting-breaches"


@pytest.fixture(scope="module")
def topic() -> WireTopic[BreachRecord]:
    app = faust.App("alerting-test", broker="kafka://127.0.0.1:1")
    return WireTopic(raw_topic(app, TOPIC), BREACHES)


def message(offset: int, value: bytes) -> Message:
    return Message(TOPIC, 0, offset, 0.0, 0, None, b"k", value, None)


def breaches(n: int) -> list[Message]:
    return [message(i, BREACHES.encode(breach(case_id=f"C-{i}"))) for i in range(n)]


class Handler:
    """Records the case ids of each chunk."""

    def __init__(self) -> None:
        self.chunks: list[list[str]] = []

    async def __call__(self, records: Sequence[BreachRecord]) -> None:
        self.chunks.append([r.case_id for r in records])


class TestRecordBatches:
    def test_records_go_in_offset_order_a_chunk_at_a_time(
        self, topic: WireTopic[BreachRecord]
    ) -> None:
        handler = Handler()
        messages = breaches(ALERT_CHUNK + 3)
        done = asyncio.run(record_batches(topic, handler, lambda: False)(messages))
        assert ALERT_CHUNK + 3 == done
        assert [ALERT_CHUNK, 3] == [len(c) for c in handler.chunks]
        assert [f"C-{i}" for i in range(ALERT_CHUNK + 3)] == [
            c for chunk in handler.chunks for c in chunk
        ]

    def test_a_record_that_does_not_decode_is_passed_over(
        self, topic: WireTopic[BreachRecord]
    ) -> None:
        handler = Handler()
        messages = [*breaches(1), message(1, b'{"not": "a breach"}'), message(2, b"\xff")]
        done = asyncio.run(record_batches(topic, handler, lambda: False)(messages))
        assert 3 == done
        assert [["C-0"]] == handler.chunks

    def test_a_rebalance_leaves_the_rest_to_be_read_again(
        self, topic: WireTopic[BreachRecord]
    ) -> None:
        """The flow stops after the first chunk: only that chunk counts as handled."""
        handler = Handler()
        take = record_batches(topic, handler, lambda: len(handler.chunks) >= 1)
        done = asyncio.run(take(breaches(ALERT_CHUNK * 2)))
        assert ALERT_CHUNK == done
        assert 1 == len(handler.chunks)

    def test_redis_down_leaves_the_rest_to_the_agent(self, topic: WireTopic[BreachRecord]) -> None:
        """Redis does not answer the second chunk: one chunk handled, nothing waited for.

        The fetch loop then hands the rest to the stream agent (tests/streams/test_batches.py),
        which waits for Redis without holding up the clocks.
        """
        handler = Handler()
        calls = 0

        async def handle(records: Sequence[BreachRecord]) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RedisConnectionError("Redis is down")
            await handler(records)

        done = asyncio.run(record_batches(topic, handle, lambda: False)(breaches(ALERT_CHUNK * 3)))
        assert (ALERT_CHUNK, 2) == (done, calls)
        assert [ALERT_CHUNK] == [len(c) for c in handler.chunks]

    def test_a_redis_that_never_answers_does_not_hold_the_fetch_loop(
        self, topic: WireTopic[BreachRecord]
    ) -> None:
        """The step times out: nothing handled, the records go on to the agent."""

        async def hang(records: Sequence[BreachRecord]) -> None:
            await asyncio.Event().wait()

        take = record_batches(topic, hang, lambda: False, step_timeout=0.05)
        assert 0 == asyncio.run(take(breaches(3)))
