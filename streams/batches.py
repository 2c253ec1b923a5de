"""The clock channel's messages are handed over a fetch at a time, not one task per message.

Faust delivers each fetched message on its own: its fetch loop starts two tasks and an
``asyncio.wait`` per message (the delivery, and the wait for a flow stop), the conductor wraps
the message in an event and puts it in the agent's queue, the stream takes it out, sets the
current event and acknowledges it after the agent's next step. For the clock agent that was
about a third of the worker's CPU before any slawatch code ran (bench/README.md, 2026-12-06).

:func:`route` names topics whose messages a handler takes as lists: every message one fetch
brought for one partition, in offset order (several handlers of one topic each get the list;
only what all of them processed is acknowledged). The patched fetch loop (:func:`install`) hands
such a list to the handler directly and acknowledges the messages the handler says it
processed; messages of every other topic go through Faust's own path as before. What Faust
relies on still holds:

* **commits** cover only acknowledged offsets, and a message is acknowledged after its records
  were handed to the producer and its table writes made (at-least-once, as with the agent);
* **rebalances** wait for the list being processed: its messages are in the consumer's
  unacknowledged set until the handler returns, and Faust's revocation waits for that set to
  empty before it commits and hands partitions over. The handler stops early when the flow is
  suspended (it returns how many it processed); the rest is read again from the committed
  offset by whoever owns the partition next;
* **back-pressure**: the handler starts only when the producer's buffer has ebbed;
* a handler that raises stops the worker (:meth:`faust.App.crash`): its supervisor restarts it
  from the committed offset, where Faust's agent would have gone on past the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import faust
import structlog
from faust.types import TP, Message

__all__ = ["BatchHandler", "install", "route"]

log = structlog.get_logger("slawatch.batches")

#: Takes one partition's fetched messages in offset order; returns how many it processed,
#: always a prefix (the rest is read again later).
BatchHandler = Callable[[Sequence[Message]], Awaitable[int]]

_ROUTES = "_slawatch_batch_routes"
_REST_TO_AGENT = "_slawatch_batch_rest_to_agent"
_MARK = "_slawatch_batches"


def route(
    app: faust.App, topics: Iterable[str], handler: BatchHandler, *, rest_to_agent: bool = False
) -> None:
    """Hand ``topics``' messages to ``handler`` a fetch at a time in ``app``'s worker.

    A topic may have several handlers (the clock agent and the shadow both read the events):
    each gets every list, in the order they were routed, as Faust gives a message to every
    agent reading its topic.

    ``rest_to_agent``: messages the handler did not process while the flow runs are delivered
    through Faust's own path, to the agent declared on the topic, instead of waiting for the
    partition's next owner. The alert topics use it: when Redis does not answer, their agents
    wait for it one record at a time and Faust's flow control pauses only their partitions,
    where a handler waiting in the fetch loop would hold up the clocks too.
    """
    routes: dict[str, list[BatchHandler]] = app.__dict__.setdefault(_ROUTES, {})
    to_agent: set[str] = app.__dict__.setdefault(_REST_TO_AGENT, set())
    for topic in topics:
        handlers = routes.setdefault(topic, [])
        if handler in handlers:
            raise ValueError(f"topic {topic!r} already has this batch handler")
        handlers.append(handler)
        if rest_to_agent:
            to_agent.add(topic)


def routes_of(app: faust.App) -> dict[str, list[BatchHandler]]:
    """The batch handlers of ``app`` by topic (empty when none was routed)."""
    routes: dict[str, list[BatchHandler]] = app.__dict__.get(_ROUTES, {})
    return routes


def rest_to_agent_of(app: faust.App) -> set[str]:
    """The routed topics whose unprocessed messages go on to their agent (:func:`route`)."""
    topics: set[str] = app.__dict__.get(_REST_TO_AGENT, set())
    return topics


def install() -> None:
    """Patch Faust's fetch loop once per process (idempotent); apps without routes keep it."""
    from faust.transport import consumer as consumer_module

    consumer_cls = consumer_module.Consumer
    if getattr(consumer_cls._drain_messages, _MARK, False):
        return
    original = consumer_cls._drain_messages

    async def _drain_messages(self: Any, fetcher: Any) -> None:
        routes = routes_of(self.app)
        if not routes:
            await original(self, fetcher)
            return
        await _Drain(self, routes, rest_to_agent_of(self.app)).run(fetcher)

    setattr(_drain_messages, _MARK, True)
    _drain_messages.__doc__ = original.__doc__
    consumer_cls._drain_messages = _drain_messages  # type: ignore[method-assign]  # Faust's loop


class _Drain:
    """Faust's fetch loop, with routed topics taken a fetch at a time."""

    def __init__(
        self,
        consumer: Any,
        routes: dict[str, list[BatchHandler]],
        rest_to_agent: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self._consumer = consumer
        self._app: faust.App = consumer.app
        self._routes = routes
        self._rest_to_agent = rest_to_agent
        #: A handler raised and the worker is stopping: the loop takes nothing more.
        self.failed = False

    async def run(self, fetcher: Any) -> None:
        consumer = self._consumer
        try:
            while not (consumer._stopped.is_set() or fetcher._stopped.is_set() or self.failed):
                consumer.diag.set_flag("C_FETCHING")  # as Faust's loop (CONSUMER_FETCHING)
                records, active = await consumer._wait_next_records(1.0)
                await consumer.sleep(0)
                if records and not consumer.should_stop:
                    await self._take(records, active)
                consumer.diag.unset_flag("C_FETCHING")
        except consumer.consumer_stopped_errors:
            if self._app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self._app.should_stop:
                return
            raise
        finally:
            consumer.diag.unset_flag("C_FETCHING")

    async def _take(self, records: dict[TP, list[Any]], active: set[TP] | None) -> None:
        """Deliver one fetch: each partition's records in order, while the flow runs."""
        consumer, app = self._consumer, self._app
        if not consumer.flow_active:
            await consumer.perform_seek()  # as Faust does: back to the committed offsets
            return
        generation = app.consumer_generation_id
        for tp, partition_records in records.items():
            if not consumer.flow_active or app.consumer_generation_id != generation:
                return  # a rebalance started: what is left is read again
            if not (active is None or tp in active or tp in consumer._buffered_partitions):
                continue
            app.monitor.track_tp_end_offset(tp, consumer.highwater(tp))
            messages = self._unread(tp, partition_records)
            if not messages:
                continue
            handlers = self._routes.get(tp.topic)
            if not handlers:
                await self._one_at_a_time(messages)
            else:
                await self._batch(handlers, tp, messages)
                if self.failed:
                    return

    def _unread(self, tp: TP, partition_records: list[Any]) -> list[Message]:
        """The records past the partition's read offset, as Faust messages."""
        consumer = self._consumer
        read = consumer._read_offset[tp]
        to_message = consumer._to_message
        return [
            to_message(tp, record)
            for record in partition_records
            if read is None or record.offset >= read
        ]

    async def _one_at_a_time(self, messages: Sequence[Message], *, gaps: bool = True) -> None:
        """Faust's own delivery, message by message (the topics no handler takes, and the rest
        of a batch that goes on to its agent, its gaps already recorded)."""
        consumer = self._consumer
        for message in messages:
            if not consumer.flow_active:
                return
            if gaps:
                await self._gaps(message.tp, [message.offset])
            await consumer.wait_first(consumer.callback(message), consumer.suspend_flow.wait())
            consumer._read_offset[message.tp] = message.offset

    async def _batch(self, handlers: list[BatchHandler], tp: TP, messages: list[Message]) -> None:
        """Hand ``messages`` to each handler; acknowledge what every one of them processed."""
        consumer, app = self._consumer, self._app
        await app.producer.buffer.wait_until_ebb()
        await self._gaps(tp, [m.offset for m in messages])
        unacked = consumer._unacked_messages
        for message in messages:  # revocation waits for these (Consumer.wait_empty)
            unacked.add(message)
        done = len(messages)
        try:
            for handler in handlers:
                done = min(done, await handler(messages))
        except Exception as exc:
            log.critical("worker_stopping", reason="a batch failed", error=repr(exc))
            self.failed = True
            await app.crash(exc)
            return
        finally:
            unacked.difference_update(messages)  # acknowledged below, or read again later
        ack = consumer.ack
        for message in messages[:done]:
            ack(message)
        if done:
            consumer._read_offset[tp] = messages[done - 1].offset
        if done < len(messages) and tp.topic in self._rest_to_agent:
            await self._one_at_a_time(messages[done:], gaps=False)
        commit_every = consumer._commit_every
        if commit_every is not None and consumer._n_acked >= commit_every:
            consumer._n_acked = 0
            await consumer.commit()

    async def _gaps(self, tp: TP, offsets: list[int]) -> None:
        """Record offsets missing from the log (compaction, transaction markers) as done, so
        commits pass them.

        Faust's loop records the gap up to and *including* the message that follows it, which
        lets a commit pass that message before it is processed; here the gap ends before it.
        """
        consumer = self._consumer
        if not self._app.topics.acks_enabled_for(tp.topic):
            return
        previous = consumer._read_offset[tp]
        for offset in offsets:
            if previous and offset - previous > 1:
                await consumer._add_gap(tp, previous + 1, offset - 1)
            previous = offset
