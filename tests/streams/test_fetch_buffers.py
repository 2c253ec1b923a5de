"""Fetched records dropped before they are read to the end are freed without the collector.

The worker's soak found ``w0`` keeping 3-5 MB per takeover: aiokafka's ``PartitionRecords``
(a partition's fetched data) form a reference cycle with their own generator, and a rebalance
drops them half read; the worker's garbage collector, tuned to run rarely, freed them late.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.consumer.fetcher import PartitionRecords
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from streams import fetch_buffers

TP = TopicPartition("fetch-buffers-test", 0)


@pytest.fixture(autouse=True)
def _no_collector() -> Iterator[None]:
    """The cyclic collector off: only reference counting may free what the test drops."""
    fetch_buffers.install()
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def records(first: int, count: int, value_size: int = 1_000) -> MemoryRecords:
    """One record batch of ``count`` records from offset ``first``, as a fetch returns it."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 20)
    for i in range(count):
        builder.append(i, 1_700_000_000_000 + i, f"k{i}".encode(), b"v" * value_size, [])
    buffer = bytearray(builder.build())
    buffer[0:8] = first.to_bytes(8, "big")  # the batch's base offset (re-checked: no CRC)
    return MemoryRecords(bytes(buffer))


def partition_records(first: int = 100, count: int = 5) -> PartitionRecords:
    return PartitionRecords(TP, records(first, count), [], first, None, None, False, 0)


class TestDroppedRecords:
    def test_half_read_records_are_freed_at_once(self) -> None:
        """A rebalance drops records half read: they go with the last reference."""
        fetched = partition_records()
        next(fetched)
        gone = weakref.ref(fetched)
        del fetched
        assert gone() is None

    def test_unread_records_are_freed_at_once(self) -> None:
        """Records fetched and never read (the fetcher cleared them on revocation)."""
        fetched = partition_records()
        gone = weakref.ref(fetched)
        del fetched
        assert gone() is None

    def test_many_rebalances_keep_no_records(self) -> None:
        """What each rebalance drops does not pile up: no PartitionRecords is left alive."""
        for _ in range(50):
            fetched = partition_records(count=20)
            next(fetched)
            del fetched
        alive = [o for o in gc.get_objects() if isinstance(o, PartitionRecords)]
        assert alive == []


class TestReading:
    def test_records_and_offsets_are_unchanged(self) -> None:
        """Every record is read in order and the next fetch offset follows the last one."""
        fetched = partition_records(first=100, count=5)
        seen: list[Any] = []
        for record in fetched:
            seen.append((record.offset, record.key, len(record.value)))
            assert fetched.next_fetch_offset == record.offset + 1
        assert seen == [(100 + i, f"k{i}".encode(), 1_000) for i in range(5)]
        assert fetched.next_fetch_offset == 105

    def test_skips_records_before_the_fetch_offset(self) -> None:
        """A batch starting before the fetch position yields only the records from it on."""
        fetched = PartitionRecords(TP, records(100, 5), [], 103, None, None, False, 0)
        assert [r.offset for r in fetched] == [103, 104]

    def test_install_is_idempotent(self) -> None:
        fetch_buffers.install()
        fetched = partition_records()
        next(fetched)
        gone = weakref.ref(fetched)
        del fetched
        assert gone() is None
