"""Case rows in a Faust table: written to its store, their changelog records sent directly.

A write through a Faust table (``table[key] = value``) queues a ``FutureMessage`` in Faust's
producer buffer, which a task of its own later hands to the producer, and the record's answer
writes the changelog offset to RocksDB, one ``put`` per record. In a deadline storm's profile
(2026-12-07) that path was about 8 % of the worker's samples. :class:`TableRows` does what it
did, with less:

* the row goes to the table's store under the message's partition, as Faust's ``__setitem__``
  does, and is read from there: straight from the partition's RocksDB (or the memory store's
  dict), past the store's per-key layers (key serializer, current event, key index), which
  cost more than the database's own get and put;
* its changelog record goes straight to the producer, keyed and valued in the bytes Faust
  writes (the table's key serializer, raw value bytes), so a changelog written by either form
  is recovered by the other; the delivery guard (:mod:`streams.deliveries`) watches it as it
  watched Faust's. Given an :class:`~streams.outbox.Outbox`, the record is staged there
  instead, and leaves with the other records of its partition when the outbox is sent;
* the store's persisted offset (where a restart on the same disk resumes the changelog) is
  written once per partition per answer from the broker, not once per record.

What is left out is Faust's table sensor (its own statistics, which nothing here reads), key
expiry, which only windowed tables have, and the RocksDB store's key index (which partition
holds a key, for reads outside a message: such a read looks in each partition instead).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, Protocol

from faust.serializers import codecs
from faust.stores import memory, rocksdb
from faust.types import TP, ProducerT, TableT

from streams.outbox import Outbox

__all__ = ["Rows", "TableRows"]


class Rows(Protocol):
    """Where the case processor reads and writes its rows (case id -> row bytes).

    Reads and writes happen under a message's context (:func:`streams.processor._under`): a
    store reached through Faust's own mapping files a key under the current event's
    partition. Rows with ``filed_by_event = False`` take the partition as given, and the
    processor skips setting the context (twice per event).
    """

    def get(self, partition: int, key: str, /) -> bytes | None: ...

    async def put(self, partition: int, key: str, value: bytes) -> None: ...

    async def delete(self, partition: int, key: str) -> None: ...


class TableRows:
    """:class:`Rows` of a Faust table of ``str`` keys and ``bytes`` values; see the module
    docstring."""

    def __init__(self, table: TableT[str, bytes], outbox: Outbox | None = None) -> None:
        self.table = table
        self._outbox = outbox
        #: Staged changelog futures (one per partition and send) with :meth:`_on_answer` on.
        self._hooked: set[asyncio.Future[Any]] = set()
        self._producer: ProducerT | None = None
        #: Changelog partition -> the highest offset answered and not yet persisted.
        self._answered: dict[int, int] = {}
        self._persist_scheduled = False

    @functools.cached_property
    def _store(self) -> Any:
        """The table's store; made by the table when first asked for, so asked late."""
        return self.table.data

    @functools.cached_property
    def _changelog(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    @functools.cached_property
    def _key_bytes(self) -> Callable[[str], bytes]:
        """How Faust writes a key into the changelog (the table's key serializer)."""
        serializer = getattr(self.table, "key_serializer", None) or "raw"
        dumps: Callable[[str], bytes] = codecs.get_codec(serializer).dumps
        return dumps

    @functools.cached_property
    def _access(self) -> _StoreAccess:
        store = self._store
        if isinstance(store, rocksdb.Store):
            return _RocksAccess(store, self._key_bytes)
        if isinstance(store, memory.Store):
            return _StoreAccess(store.data)  # its dict, where its mapping methods end
        return _StoreAccess(store)

    @property
    def filed_by_event(self) -> bool:
        """Whether a key is filed under Faust's current event (not with the memory store,
        whose dict holds every partition, nor with RocksDB, reached by partition)."""
        return type(self._access) is _StoreAccess and not isinstance(self._store, memory.Store)

    def get(self, partition: int, key: str) -> bytes | None:
        """The row of ``key`` in ``partition``, or None."""
        return self._access.get(partition, key)

    async def put(self, partition: int, key: str, value: bytes) -> None:
        """Store ``value`` for ``key`` and send its changelog record to ``partition``."""
        self._access.put(partition, key, value)
        await self._send(partition, key, value)

    async def delete(self, partition: int, key: str) -> None:
        """Delete ``key`` and send its tombstone to ``partition``."""
        self._access.delete(partition, key)
        await self._send(partition, key, None)

    async def _send(self, partition: int, key: str, value: bytes | None) -> None:
        outbox = self._outbox
        if outbox is not None:
            staged = outbox.stage(self._changelog, partition, self._key_bytes(key), value)
            if staged not in self._hooked:
                self._hooked.add(staged)
                staged.add_done_callback(self._on_answer)
            return
        producer = self._producer
        if producer is None:
            producer = self._producer = await self.table.app.maybe_start_producer()
        record: asyncio.Future[Any] = await producer.send(  # type: ignore[assignment]
            self._changelog, self._key_bytes(key), value, partition, None, None
        )  # aiokafka's send returns the record's future
        record.add_done_callback(self._on_answer)

    def _on_answer(self, record: asyncio.Future[Any]) -> None:
        self._hooked.discard(record)
        if record.cancelled() or record.exception() is not None:
            return  # refused: the delivery guard stops the worker (streams/deliveries.py)
        metadata = record.result()
        if metadata is None:
            return  # no acknowledgement asked for (acks=0): no offset to keep
        answered = self._answered
        if metadata.offset > answered.get(metadata.partition, -1):
            answered[metadata.partition] = metadata.offset
        if not self._persist_scheduled:  # every answer of one produce response, at once
            self._persist_scheduled = True
            asyncio.get_running_loop().call_soon(self._persist)

    def _persist(self) -> None:
        """Tell the store how far the changelog is in it (RocksDB keeps it per partition)."""
        self._persist_scheduled = False
        answered, self._answered = self._answered, {}
        for partition, offset in answered.items():
            self._store.set_persisted_offset(TP(self._changelog, partition), offset)


class _StoreAccess:
    """Reads and writes through a Faust store's own mapping (any store; under the current
    event, which the processor sets)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def get(self, partition: int, key: str) -> bytes | None:
        value: bytes | None = self._store.get(key)
        return value

    def put(self, partition: int, key: str, value: bytes) -> None:
        self._store[key] = value

    def delete(self, partition: int, key: str) -> None:
        del self._store[key]


class _RocksAccess(_StoreAccess):
    """Faust's RocksDB store: the partition's database, with the keys Faust writes there."""

    def __init__(self, store: rocksdb.Store, key_bytes: Callable[[str], bytes]) -> None:
        super().__init__(store)
        self._db = store._db_for_partition  # opens the partition's database on first use
        self._key_bytes = key_bytes

    def get(self, partition: int, key: str) -> bytes | None:
        value: bytes | None = self._db(partition).get(self._key_bytes(key))
        return value

    def put(self, partition: int, key: str, value: bytes) -> None:
        self._db(partition).put(self._key_bytes(key), value)

    def delete(self, partition: int, key: str) -> None:
        self._store._del(self._key_bytes(key))  # from whichever partition holds it, as Faust
