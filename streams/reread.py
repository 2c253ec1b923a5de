"""Read a partition again from its committed offset when the agents went past an unread message.

:mod:`streams.skipped_acks` keeps the group's committed offset before a message that no agent
processed, so the record is not lost for good; but the partition's consumer reads it again only
after the next rebalance, and there may be none for hours. Meanwhile a breach has no
notification and a case has no clock. Faust's fetch loop can pass a message over without a word:
it keeps a read offset per partition and drops every fetched message below it (logged at its
``dev`` level only), and a fetch answered for a position from before a rebalance's seek moves
that read offset past records the seek was meant to deliver.

Every :data:`CHECK_INTERVAL_S` seconds, while the worker is ready, each assigned partition whose
committed offset's own message is undone while later ones are done
(:func:`streams.skipped_acks.head_is_missing`) is noted. A partition still stuck at the same
committed offset in the same consumer generation at the next check is sought back to its
committed offset: ``partition_reread`` is logged, ``slawatch_partition_rereads_total`` counts
it, and the records from there on are read again. Every agent handles a repeat (event ids,
breach ids and notification keys recognise it): at-least-once, as after a rebalance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from faust.types import TP

from streams.runtime import Runtime, ready
from streams.skipped_acks import head_is_missing, head_offset

__all__ = ["CHECK_INTERVAL_S", "StuckHeads", "register", "stuck_heads"]

log = structlog.get_logger("slawatch.reread")

#: Seconds between two looks at the partitions; a head must be stuck at two looks in a row.
CHECK_INTERVAL_S = 5.0


def stuck_heads(consumer: Any, partitions: Iterable[TP]) -> dict[TP, int]:
    """The partitions whose head message is undone while later ones are done.

    Maps each to its head (:func:`streams.skipped_acks.head_offset`: the committed offset, or
    the lowest skipped one where the group never committed), where a reread starts.
    """
    out: dict[TP, int] = {}
    for tp in partitions:
        offset = head_offset(consumer, tp)
        if offset is not None and head_is_missing(consumer, tp):
            out[tp] = offset
    return out


@dataclass
class StuckHeads:
    """Remembers the last look, so only a head stuck at two looks in a row is read again.

    One look is not enough: a rebalance's own seek (which reads the skipped messages again)
    may be a moment away, and a message may be on its way to an agent.
    """

    _last: dict[TP, int] = field(default_factory=dict)
    _generation: int | None = None

    def look(self, generation: int, stuck: Mapping[TP, int]) -> dict[TP, int]:
        """Record this look; return the partitions stuck at the same offset as at the last one."""
        same_generation = generation == self._generation
        again = {
            tp: offset
            for tp, offset in stuck.items()
            if same_generation and self._last.get(tp) == offset
        }
        self._generation = generation
        self._last = {tp: offset for tp, offset in stuck.items() if tp not in again}
        return again


def register(rt: Runtime) -> None:
    """Add the task that reads stuck partitions again to the worker's app."""
    app = rt.app
    heads = StuckHeads()
    rereads = rt.metrics.partition_rereads

    async def reread_stuck_partitions() -> None:
        while not app.should_stop:
            await asyncio.sleep(CHECK_INTERVAL_S)
            if not ready(app):
                heads.look(-1, {})  # forget: a rebalance seeks every partition anyway
                continue
            consumer: Any = app.consumer
            stuck = stuck_heads(consumer, consumer.assignment())
            for tp, offset in heads.look(app.consumer_generation_id, stuck).items():
                log.warning(
                    "partition_reread",
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=offset,
                    reason="its committed message was passed over while later ones were done",
                )
                rereads.labels(tp.topic).inc()
                await consumer.seek(tp, offset)

    app.task(reread_stuck_partitions)
