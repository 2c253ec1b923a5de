"""Records staged in an outbox reach the real broker as one batch per topic partition.

What the case processor depends on: per partition the records keep the order they were staged
in, also when they fill more than one produce batch; a bundle's future carries the offset of
its last record; the code collecting what it sends gets each bundle once; a refused bundle
fails its future and the delivery guard sees it; a failed hand-over resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams import deliveries
from streams.admin import ensure_topics
from streams.broker import TansuBroker
from streams.outbox import Outbox, _Bundle

#: A JSON schema no record matches: Tansu refuses every write to the topic (INVALID_RECORD).
REFUSE_ALL = {"type": "object", "properties": {"value": {"type": "object", "required": ["never"]}}}


def app_on(bootstrap: str, **settings: Any) -> faust.App:
    return faust.App(f"outbox-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", **settings)


async def read(bootstrap: str, topic: str, n: int) -> list[tuple[int, bytes, bytes]]:
    """The first ``n`` records of ``topic`` in partition and offset order: (partition, key,
    value)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[tuple[int, int, bytes, bytes]] = []
    try:
        while len(records) < n:
            for fetched in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(
                    (r.partition, r.offset, r.key or b"", r.value or b"") for r in fetched
                )
    finally:
        await consumer.stop()
    return [(partition, key, value) for partition, _, key, value in sorted(records)]


class TestToTheBroker:
    def test_order_split_batches_offsets_and_collection(self, tansu: TansuBroker) -> None:
        """60 records staged for two partitions, too many for one 1 kB batch: all arrive in
        staging order per partition; each bundle's future has its last record's offset."""
        topic = f"outbox-{uuid.uuid4().hex[:8]}"
        ensure_topics(tansu.bootstrap, {topic: 2})

        async def scenario() -> dict[str, Any]:
            app = app_on(tansu.bootstrap, producer_max_batch_size=1024)
            outbox = Outbox(app)
            try:
                with deliveries.collect() as collected:
                    futures = [
                        outbox.stage(topic, n % 3 and 1, f"k{n}".encode(), b"v" * 100 + b"%d" % n)
                        for n in range(60)
                    ]
                staged = outbox.staged
                await outbox.send()
                answers = await asyncio.gather(*set(futures))
                return {
                    "staged": (staged, outbox.staged),
                    "bundles": len(set(futures)),
                    "collected": len(collected),
                    "last_offsets": sorted((a.partition, a.offset) for a in answers),
                    "records": await read(tansu.bootstrap, topic, 60),
                }
            finally:
                await app.producer.stop()

        seen = asyncio.run(scenario())
        on_0 = [n for n in range(60) if not n % 3]
        on_1 = [n for n in range(60) if n % 3]
        assert ((60, 0), 2) == (seen["staged"], seen["bundles"])
        # partitions go 0, 1, 1, 0, 1, 1, ...: a bundle is collected again when the one
        # collected last was the other, twice in every three records
        assert 40 == seen["collected"]
        assert [(0, len(on_0) - 1), (1, len(on_1) - 1)] == seen["last_offsets"]
        assert [(0, f"k{n}".encode(), b"v" * 100 + b"%d" % n) for n in on_0] + [
            (1, f"k{n}".encode(), b"v" * 100 + b"%d" % n) for n in on_1
        ] == seen["records"]

    def test_a_refused_bundle_fails_and_the_guard_sees_it(self, tmp_path: Path) -> None:
        """The broker refuses every record of one topic: that bundle's future fails, the other
        topic's bundle is answered, and the delivery guard has the refusal."""
        refused, accepted = "refused-topic", "accepted-topic"
        schemas = tmp_path / "schemas"
        schemas.mkdir()
        (schemas / f"{refused}.json").write_text(json.dumps(REFUSE_ALL))

        async def scenario(bootstrap: str) -> tuple[bool, bool, str]:
            app = app_on(bootstrap)
            crashed: list[BaseException] = []

            async def crash(reason: BaseException) -> None:
                crashed.append(reason)

            app.crash = crash  # type: ignore[method-assign]  # the worker would exit here
            outbox = Outbox(app)
            try:
                bad = outbox.stage(refused, 0, b"C-1", b'{"a": 1}')
                good = outbox.stage(accepted, 0, b"C-1", b'{"a": 1}')
                await outbox.send()
                await asyncio.wait([bad, good])
                stopping = deliveries.failure(app)
                guard = deliveries._guard(app).stopping
                if guard is not None:
                    await guard
                return (
                    isinstance(bad.exception(), KafkaError),  # aiokafka: UnknownError (87)
                    good.exception() is None,
                    f"{type(stopping).__name__} {[type(c).__name__ for c in crashed]}",
                )
            finally:
                await app.producer.stop()

        with TansuBroker(log_path=tmp_path / "tansu.log", schema_registry=schemas) as broker:
            ensure_topics(broker.bootstrap, {refused: 1, accepted: 1})
            outcome = asyncio.run(scenario(broker.bootstrap))

        assert (True, True) == outcome[:2]
        assert "['DeliveryFailed']" in outcome[2]


class TestResume:
    def test_a_failed_hand_over_resumes_where_it_stopped(self) -> None:
        """The second bundle cannot be handed over: sending again hands over only it, and
        records staged in between go after it."""
        handed: list[tuple[str, list[tuple[bytes | None, bytes | None]]]] = []
        failures = {"b": 1}

        class Recording(Outbox):
            async def _client(self) -> None:
                return None

            async def _hand_over(self, client: None, bundle: _Bundle) -> None:
                if failures.get(bundle.topic):
                    failures[bundle.topic] -= 1
                    raise ConnectionError("not now")
                handed.append((bundle.topic, bundle.records[bundle.handed :]))
                bundle.handed = len(bundle.records)

        async def scenario() -> str:
            outbox = Recording(faust.App("outbox-resume", broker="kafka://127.0.0.1:1"))
            outbox.stage("a", 0, b"1", b"a1")
            outbox.stage("b", 0, b"1", b"b1")
            try:
                await outbox.send()
            except ConnectionError as exc:
                error = str(exc)
            outbox.stage("b", 0, b"2", b"b2")  # a new bundle, after the one left
            await outbox.send()
            return error

        assert "not now" == asyncio.run(scenario())
        assert [
            ("a", [(b"1", b"a1")]),
            ("b", [(b"1", b"b1")]),
            ("b", [(b"2", b"b2")]),
        ] == handed

    def test_sends_that_overlap_hand_each_bundle_over_once(self) -> None:
        """A batch's send and the refusal hook's may overlap: each bundle still leaves once and
        is answered."""
        handed: list[str] = []

        class Slow(Outbox):
            async def _client(self) -> None:
                return None

            async def _hand_over(self, client: None, bundle: _Bundle) -> None:
                await asyncio.sleep(0)  # as aiokafka's send_batch may
                handed.append(bundle.topic)
                bundle.handed = len(bundle.records)
                bundle.future.set_result(None)  # type: ignore[arg-type]  # no broker here

        async def scenario() -> bool:
            outbox = Slow(faust.App("outbox-overlap", broker="kafka://127.0.0.1:1"))
            futures = [outbox.stage(topic, 0, b"k", b"v") for topic in ("a", "b")]
            await asyncio.gather(outbox.send(), outbox.send())
            return all(f.done() for f in futures)

        assert (True, ["a", "b"]) == (asyncio.run(scenario()), handed)
