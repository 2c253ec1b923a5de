"""After a rebalance, a partition the group never committed is read again from its start.

Faust drops what it fetched and did not process when a rebalance starts (the records of the
fetch in hand, the agents' queues) and relies on seeking every partition back to its committed
offset afterwards (``Consumer.perform_seek`` → ``seek_to_committed``). aiokafka's
``seek_to_committed`` seeks only partitions whose committed offset is above 0: a partition the
group never committed (or committed at 0) stays where the fetcher was, past the dropped
records, and they are never read. Nothing says so; the next commit moves the group past them.

That lost the level-1 notifications of a worker's first breaches (their partitions of
``sla.breaches`` not yet committed) when another worker stopped right after they were sent:
``tests/streams/test_failover.py`` failed that way in 1 to 2 runs of 3 on 2026-12-06, on main
as well. :func:`install` seeks such partitions to offset 0: their start, which is where
``auto_offset_reset=earliest`` begins a group that never committed (aiokafka resets an offset
below the log's start, after retention, to the earliest one). Records read again are handled
as duplicates (event ids, breach ids, notification keys). Changelog partitions, which Faust
positions itself for recovery and standbys and never commits, are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["install", "seek_to_committed"]

_MARK = "_slawatch_rewind"


async def seek_to_committed(consumer: Any, rewinds: Callable[[str], bool]) -> dict[Any, Any]:
    """aiokafka's ``seek_to_committed``, and partitions of ``rewinds`` topics that have no
    committed offset above 0 sought to 0; returns the committed offsets as aiokafka does."""
    committed: dict[Any, Any] = await consumer.seek_to_committed()
    for tp, offset in committed.items():
        if (offset is None or offset <= 0) and rewinds(tp.topic):
            consumer.seek(tp, 0)
    return committed


def install() -> None:
    """Wrap the seek of Faust's aiokafka consumer thread once per process (idempotent)."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if getattr(AIOKafkaConsumerThread.seek_to_committed, _MARK, False):
        return
    original = AIOKafkaConsumerThread.seek_to_committed

    async def seek(self: Any) -> Any:
        acked = self.app.topics.acks_enabled_for  # the agents' topics; not the changelogs
        return await self.call_thread(seek_to_committed, self._ensure_consumer(), acked)

    setattr(seek, _MARK, True)
    seek.__doc__ = original.__doc__
    AIOKafkaConsumerThread.seek_to_committed = seek  # type: ignore[method-assign]  # Faust's
