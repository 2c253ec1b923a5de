"""Fetched records a rebalance drops are freed at once, not when the collector next runs.

aiokafka keeps each partition's fetched data in a ``PartitionRecords``, which reads it through
a generator of its own (``self._records_iterator = self._unpack_records()``). The generator's
frame holds ``self``, so the two form a reference cycle, which aiokafka breaks only when the
generator runs to its end. Records dropped before that are garbage that reference counting
cannot free: the fetcher clears every prefetched partition when its assignment goes (each
rebalance), and drops a partition's records when the position moved (the seek to the
committed offsets after a rebalance). Each holds the raw fetch response of its partition
(up to ``max_partition_fetch_bytes``).

Only the cyclic garbage collector frees such cycles, and the worker runs it rarely (its young
generation is 50,000 allocations and start-up objects are frozen: ``slawatch/collector.py``);
a cycle that outlives one young collection waits for the old generations, which hardly ever
run. So the worker kept the buffers of every rebalance: in the soak, ``w0``'s memory in use
grew by 3-5 MB per takeover, together with the count of live ``PartitionRecords`` objects,
and fell back only when a collection ran (docs/resilience.md, 2026-11-25).

:func:`install` makes the generator reach its ``PartitionRecords`` through a weak proxy, so
there is no cycle: dropping the records frees the generator, its frame and the buffer at once.
The records read, and the offsets they advance, are the same.
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["install"]

_MARK = "_slawatch_acyclic_records"


def install() -> None:
    """Patch aiokafka's ``PartitionRecords`` once per process (idempotent)."""
    from aiokafka.consumer.fetcher import PartitionRecords

    if getattr(PartitionRecords, _MARK, False):
        return
    original_init = PartitionRecords.__init__
    unpack = PartitionRecords._unpack_records  # a generator function of ``self``

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._records_iterator.close()  # never started: closing it releases its frame
        self._records_iterator = unpack(weakref.proxy(self))

    __init__.__doc__ = original_init.__doc__
    PartitionRecords.__init__ = __init__  # wrapping aiokafka's (untyped)
    setattr(PartitionRecords, _MARK, True)
