"""Case rows written to a Faust table's RocksDB store and changelog, against the real broker.

What a restart and a takeover depend on: the changelog holds the bytes Faust's own table
write holds (so either form recovers the other's), a deletion is a tombstone, and the store's
persisted offset (where a restart on the same disk resumes the changelog) reaches the last
record once the broker has answered. The worker recovering these rows after a kill is tested
in test_worker.py and test_failover.py.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from faust.streams import _current_event
from faust.types import TP, Message

from streams.admin import ensure_topics
from streams.broker import TansuBroker
from streams.outbox import Outbox
from streams.rows import TableRows

PARTITIONS = 2


class AtMessage:
    """The current event Faust's RocksDB store files a key under."""

    def __init__(self, partition: int) -> None:
        self.message = Message("rows-source", partition, 0, 0.0, 0, None, b"k", b"v", None)


async def write(rows: TableRows, partition: int, key: str, value: bytes | None) -> None:
    event = AtMessage(partition)
    _current_event.set(weakref.ref(event))  # type: ignore[arg-type]  # Faust reads .message
    try:
        if value is None:
            await rows.delete(partition, key)
        else:
            await rows.put(partition, key, value)
    finally:
        _current_event.set(None)


async def changelog(bootstrap: str, topic: str, n: int) -> list[tuple[int, bytes, bytes | None]]:
    """The first ``n`` records of ``topic``, in partition and offset order: (partition, key,
    value)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[tuple[int, int, bytes, bytes | None]] = []
    try:
        while len(records) < n:
            batch = await consumer.getmany(timeout_ms=1000)
            for fetched in batch.values():
                records.extend((r.partition, r.offset, r.key or b"", r.value) for r in fetched)
    finally:
        await consumer.stop()
    return [(partition, key, value) for partition, _, key, value in sorted(records)]


async def scenario(bootstrap: str, datadir: Path, staged: bool) -> dict[str, Any]:
    app = faust.App(
        f"rows-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="rocksdb://",
        datadir=str(datadir),
    )
    table = app.Table("cases", default=None, partitions=PARTITIONS, key_type=str, value_type=bytes)
    topic = table.changelog_topic.get_topic_name()
    ensure_topics(bootstrap, {topic: PARTITIONS})
    outbox = Outbox(app) if staged else None
    rows = TableRows(table, outbox)
    try:
        await write(rows, 0, "C-1", b'{"p":0}')
        await write(rows, 0, "案-2", b'{"p":0,"x":1}')
        await write(rows, 1, "C-3", b'{"p":1}')
        await write(rows, 0, "C-1", None)
        if outbox is not None:
            await outbox.send()
        await app.producer.flush()
        await asyncio.sleep(0)  # the persisting callback runs on the loop's next turn
        store = table.data
        faust_reads = []
        for partition, key in ((0, "案-2"), (1, "C-3"), (0, "C-1")):
            event = AtMessage(partition)  # referenced: Faust keeps a weak reference
            _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
            faust_reads.append(store.get(key))  # through Faust's own store API
            _current_event.set(None)
        event = AtMessage(1)
        _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
        store["C-9"] = b'{"p":1,"by":"faust"}'  # written by Faust's store, read by the rows
        _current_event.set(None)
        return {
            "faust_reads": faust_reads,
            "reads": [rows.get(0, "案-2"), rows.get(1, "C-3"), rows.get(0, "C-1")],
            "faust_written": rows.get(1, "C-9"),
            "expected_keys": [
                table.changelog_topic.prepare_key(k, table.key_serializer)[0]
                for k in ("C-1", "案-2", "C-3")
            ],
            "records": await changelog(bootstrap, topic, 4),
            "stored": (store.get("C-1"), store.get("案-2"), store.get("C-3")),
            "persisted": [store.persisted_offset(TP(topic, p)) for p in range(PARTITIONS)],
        }
    finally:
        await app.producer.stop()


class TestMemoryStore:
    def test_rows_are_the_stores_dict(self) -> None:
        """The memory store: rows in its dict, by case id, as its own mapping keeps them."""
        app = faust.App("rows-memory", broker="kafka://127.0.0.1:1")
        table = app.Table("cases", default=None, partitions=2, key_type=str, value_type=bytes)
        rows = TableRows(table)
        rows._access.put(1, "C-1", b"row")
        assert (b"row", b"row", None) == (
            table.data.get("C-1"),
            rows.get(1, "C-1"),
            rows.get(1, "X"),
        )
        rows._access.delete(1, "C-1")
        assert "C-1" not in table.data


class TestTableRows:
    @pytest.mark.parametrize("staged", [False, True], ids=["sent", "staged-in-an-outbox"])
    def test_changelog_store_and_persisted_offsets(
        self, tansu: TansuBroker, tmp_path: Path, staged: bool
    ) -> None:
        seen = asyncio.run(scenario(tansu.bootstrap, tmp_path, staged))
        c1, c2, c3 = seen["expected_keys"]
        assert b'"C-1"' == c1  # the table's JSON key serializer, as Faust writes it
        assert [
            (0, c1, b'{"p":0}'),
            (0, c2, b'{"p":0,"x":1}'),
            (0, c1, None),  # the deletion: a tombstone
            (1, c3, b'{"p":1}'),
        ] == seen["records"]
        assert (None, b'{"p":0,"x":1}', b'{"p":1}') == seen["stored"]
        # written past Faust's store layers, read back through them, and the other way round
        assert [b'{"p":0,"x":1}', b'{"p":1}', None] == seen["faust_reads"] == seen["reads"]
        assert b'{"p":1,"by":"faust"}' == seen["faust_written"]
        assert [2, 0] == seen["persisted"]  # the last record of each partition
