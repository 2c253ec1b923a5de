"""The Tansu launcher, topic creation, and the highwater correction against the real broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.admin import TopicMismatch, ensure_topics
from streams.broker import TansuBroker, kafka_ready
from streams.tansu import fetch_highwaters

pytestmark = pytest.mark.integration


class TestTansuBroker:
    """Start, answer, stop."""

    def test_start_and_stop(self, tmp_path) -> None:
        """The broker answers a Metadata request while it runs and not after it stops."""
        broker = TansuBroker(log_path=tmp_path / "tansu.log")
        with broker:
            running = kafka_ready(broker.host, broker.port)
            url = broker.url

        assert (True, False) == (running, kafka_ready(broker.host, broker.port))
        assert f"kafka://127.0.0.1:{broker.port}" == url


class TestEnsureTopics:
    """Creating topics is idempotent and refuses a partition-count mismatch when strict."""

    def test_idempotent_and_strict(self, tansu: TansuBroker) -> None:
        """A second call changes nothing; a different count raises when strict."""
        wanted = {"admin-test.a": 3, "admin-test.b": 1}
        first = ensure_topics(tansu.bootstrap, wanted)
        second = ensure_topics(tansu.bootstrap, wanted)

        assert (wanted, wanted) == (first, second)
        with pytest.raises(TopicMismatch, match=r"admin-test\.a has 3 partitions"):
            ensure_topics(tansu.bootstrap, {"admin-test.a": 4}, strict=True)


class TestHighwaterCorrection:
    """Tansu's ListOffsets under-reports the end of a batched log; a Fetch tells the truth."""

    def test_fetch_high_watermark_is_the_end_of_the_log(self, tansu: TansuBroker) -> None:
        """After 500 pipelined records ListOffsets says less; fetch_highwaters says 500."""
        topic = "hw-test"
        ensure_topics(tansu.bootstrap, {topic: 1})
        tp = TopicPartition(topic, 0)

        async def run() -> tuple[int, int]:
            producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, linger_ms=50)
            await producer.start()
            try:
                sends = [await producer.send(topic, b"x", partition=0) for _ in range(500)]
                await asyncio.gather(*sends)
            finally:
                await producer.stop()
            consumer = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap)
            await consumer.start()
            try:
                listed = (await consumer.end_offsets([tp]))[tp]
            finally:
                await consumer.stop()
            fetched = (await fetch_highwaters(tansu.bootstrap, {tp: listed}))[tp]
            return listed, fetched

        listed, fetched = asyncio.run(run())

        assert 500 == fetched
        assert listed < fetched  # Tansu's ListOffsets under-reports a batched log
