"""The records of a batch of messages, handed to the producer as one batch per topic partition.

``producer.send`` takes one record at a time: Faust's and aiokafka's coroutines, a metadata
check, the key's hash, a future per record and a callback on each answer. On the worker's path
that was about 20 µs a record and a quarter of its CPU (py-spy, bench/README.md, 2026-12-07
evening). The case processor stages the records of a batch here instead (an append to a list)
and :meth:`Outbox.send` hands each topic partition's records to aiokafka as one produce batch
(``send_batch``), in the order they were staged.

Staging returns the future of the record's *bundle*: the records staged for one topic partition
since the last :meth:`Outbox.send`. It is answered once the broker has answered every one of
them, with the metadata of the last (its offset), or fails with the first refusal. The delivery
guard (:mod:`streams.deliveries`) watches each bundle as it watches a record sent alone, and
code collecting what it sends (``deliveries.collect``) is given it, so a refusal still stops the
worker and puts back the rows of exactly the cases whose records were in the refused bundle.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.structs import RecordMetadata

from streams import deliveries

__all__ = ["Outbox"]


@dataclass(slots=True, eq=False)
class _Bundle:
    """The records staged for one topic partition, and how far they have been handed over."""

    topic: str
    partition: int
    future: asyncio.Future[RecordMetadata]
    records: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)
    #: Records handed to the producer so far (a failed hand-over resumes after them).
    handed: int = 0
    #: Produce batches handed over and not yet answered.
    waiting: int = 0
    #: The highest offset answered so far.
    last: RecordMetadata | None = None


class Outbox:
    """Records staged by one processor, sent by it at the end of each step of its batch.

    Args:
        app: the Faust app whose producer sends the records (started on first use).
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._open: dict[tuple[str, int], _Bundle] = {}
        self._queue: list[_Bundle] = []
        #: One send at a time: a batch's send and the refusal hook's may overlap, and a
        #: bundle handed over twice would never be answered as a whole.
        self._sending = asyncio.Lock()

    @property
    def staged(self) -> int:
        """How many records wait to be handed to the producer."""
        return sum(len(bundle.records) - bundle.handed for bundle in self._queue)

    def stage(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None
    ) -> asyncio.Future[RecordMetadata]:
        """Keep a record for :meth:`send`; returns its bundle's future (see the module)."""
        bundle = self._open.get((topic, partition))
        if bundle is None:
            future: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
            bundle = self._open[topic, partition] = _Bundle(topic, partition, future)
            self._queue.append(bundle)
            deliveries.watch(self._app, topic, future)
        bundle.records.append((key, value))
        deliveries.note(bundle.future)
        return bundle.future

    async def send(self) -> None:
        """Hand every staged record to the producer, in the order staged per topic partition.

        A round hands over one produce batch of each topic partition, so the partitions' batches
        share the producer's requests (aiokafka takes a partition's next batch only once its
        last one has left). An error (a record that could not be handed over) leaves the rest
        staged: calling again resumes where this stopped.
        """
        if not self._queue:
            return
        async with self._sending:
            await self._send_queue()

    async def _send_queue(self) -> None:
        self._open = {}  # what is staged from now on goes in new bundles, after these
        client = await self._client()
        while True:
            left = [bundle for bundle in self._queue if bundle.handed < len(bundle.records)]
            if not left:
                break
            self._queue = left
            this_round: set[tuple[str, int]] = set()
            for bundle in left:
                where = (bundle.topic, bundle.partition)
                if where not in this_round:  # a later bundle of a partition waits for the first
                    this_round.add(where)
                    await self._hand_over(client, bundle)
        self._queue = []

    async def _client(self) -> Any:
        """aiokafka's producer (Faust's own has no batch API), started on first use."""
        producer = await self._app.maybe_start_producer()
        return producer._ensure_producer()

    async def _hand_over(self, client: Any, bundle: _Bundle) -> None:
        """Hand the next produce batch of ``bundle``'s records to ``client``."""
        builder = client.create_batch()
        records = bundle.records
        count = 0
        for n in range(bundle.handed, len(records)):
            key, value = records[n]
            if builder.append(timestamp=None, key=key, value=value) is None:
                break  # full: the rest go in the next batch
            count += 1
        if count == 0:
            raise MessageSizeTooLargeError(
                f"a record for {bundle.topic}[{bundle.partition}] is larger than a batch"
            )
        builder.close()  # sent at once, not after the producer's linger
        answer = await client.send_batch(builder, bundle.topic, partition=bundle.partition)
        bundle.handed += count
        bundle.waiting += 1
        answer.add_done_callback(lambda done: _answered(bundle, done, count))


def _answered(bundle: _Bundle, answer: asyncio.Future[RecordMetadata], count: int) -> None:
    """One produce batch of ``bundle`` was answered: the bundle is, once all of them are."""
    bundle.waiting -= 1
    future = bundle.future
    if future.done():
        return
    if answer.cancelled():
        future.cancel()
        return
    error = answer.exception()
    if error is not None:
        future.set_exception(error)
        return
    first = answer.result()
    if first is not None:  # None: the producer asks for no acknowledgement (acks=0)
        last = first._replace(offset=first.offset + count - 1)
        if bundle.last is None or last.offset > bundle.last.offset:
            bundle.last = last
    if bundle.waiting == 0 and bundle.handed == len(bundle.records):
        future.set_result(bundle.last)  # None only with acks=0
