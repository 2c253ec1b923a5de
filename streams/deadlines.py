"""The deadline index: which case falls due next, per active partition, without scanning cases.

The ``cases`` table is the source of truth; this index is derived from it. It holds one entry
per case with a pending ``next_due`` (the earliest warning or deadline the engine returned),
in a heap per partition with lazy deletion: a heap entry counts only while it still equals
the case's current due time. It is rebuilt from active keys in ``@cases.on_recover`` and
dropped for revoked partitions, so a worker never fires timers for partitions it does not own
(Faust's memory store also yields standby and revoked partitions' keys, and its windowed tables
lose their expiry heap on a rebalance: this index replaces both).

The due timer (:func:`run_due_timer`) never writes the table (Faust lets only a stream write a
table: a timer's write raises "Cannot modify table key from outside of stream iteration"). It
sends one command per partition, carrying the ids of every case due there, to that partition
of ``slawatch.due``, co-partitioned with the events; the clock agent advances the cases in
order with their events.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from streams.codec import DueCommand

if TYPE_CHECKING:
    from streams.wire import WireTopic

__all__ = [
    "IDS_PER_COMMAND",
    "DeadlineIndex",
    "DueEntry",
    "by_partition",
    "due_sender",
    "run_due_timer",
]

#: A command in flight that did not come back (lost send, revoked partition) is re-sent after
#: this many seconds.
RESEND_AFTER_S = 30.0


@dataclass(frozen=True, order=True)
class DueEntry:
    """One case due at ``due_at`` (Unix seconds) in ``partition``."""

    due_at: float
    case_id: str
    partition: int = field(compare=False)


class DeadlineIndex:
    """Per-partition heaps of ``(due_at, case_id)`` with lazy deletion and an in-flight set.

    Example:
        >>> index = DeadlineIndex()
        >>> index.set(0, "C-1", 100.0)
        >>> index.set(0, "C-1", 50.0)     # moved earlier: the old entry is now stale
        >>> [e.case_id for e in index.pop_due(now=60.0)]
        ['C-1']
        >>> index.pop_due(now=200.0)      # in flight until the clock agent answers
        []
    """

    def __init__(self, *, resend_after: float = RESEND_AFTER_S) -> None:
        self._heaps: dict[int, list[tuple[float, str]]] = {}
        self._due: dict[int, dict[str, float]] = {}
        self._where: dict[str, int] = {}
        self._pending: dict[str, tuple[float, float]] = {}
        self._resend_after = resend_after
        self._wakeup: asyncio.Event | None = None
        # The earliest due time the timer knows of (from its last look, lowered by each
        # earlier entry since): only an entry before it must wake the timer, so indexing a
        # case costs no scan of the heaps.
        self._known_earliest: float | None = None

    @property
    def wakeup(self) -> asyncio.Event:
        """Set when an entry earlier than the timer's current sleep is added."""
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        return self._wakeup

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, case_id: object) -> bool:
        return case_id in self._where

    def due_of(self, case_id: str) -> float | None:
        """The indexed due time of ``case_id``, or None."""
        partition = self._where.get(case_id)
        return None if partition is None else self._due[partition].get(case_id)

    def partitions(self) -> set[int]:
        """Partitions that have entries."""
        return {p for p, due in self._due.items() if due}

    def set(self, partition: int, case_id: str, due_at: float | None) -> None:
        """Record that ``case_id`` (in ``partition``) is next due at ``due_at``; None removes.

        Called by the clock agent after every write of the case, which also ends any command
        in flight for it.
        """
        pending = self._pending.get(case_id)
        if pending is not None and due_at is not None and pending[0] == due_at:
            # The engine left the due time where it was: keep the command "in flight" so it
            # is retried after resend_after instead of spinning.
            return
        if (
            pending is None
            and due_at is not None
            and self._due.get(partition, {}).get(case_id) == due_at
        ):
            return  # unchanged and still in the heap
        self._pending.pop(case_id, None)
        old_partition = self._where.get(case_id)
        if old_partition is not None and (old_partition != partition or due_at is None):
            self._due[old_partition].pop(case_id, None)
            del self._where[case_id]
        if due_at is None:
            return
        self._due.setdefault(partition, {})[case_id] = due_at
        self._where[case_id] = partition
        heapq.heappush(self._heaps.setdefault(partition, []), (due_at, case_id))
        known = self._known_earliest
        if known is None or due_at < known:
            self._known_earliest = due_at
            self.wakeup.set()

    def rebuild(self, entries: Iterable[DueEntry], partitions: Iterable[int]) -> None:
        """Replace the entries of ``partitions`` with ``entries`` (after a table recovery)."""
        self.drop_partitions(partitions)
        for entry in entries:
            self.set(entry.partition, entry.case_id, entry.due_at)
        self.wakeup.set()

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget every entry of ``partitions`` (revoked, or about to be rebuilt)."""
        for partition in set(partitions):
            for case_id in self._due.pop(partition, {}):
                self._where.pop(case_id, None)
                self._pending.pop(case_id, None)
            self._heaps.pop(partition, None)

    def keep_only(self, partitions: Iterable[int]) -> None:
        """Drop every partition not in ``partitions``."""
        keep = set(partitions)
        self.drop_partitions([p for p in list(self._due) if p not in keep])

    def earliest(self) -> float | None:
        """The earliest live due time over all partitions (stale heap tops are discarded)."""
        best: float | None = None
        for partition, heap in self._heaps.items():
            due = self._due.get(partition, {})
            while heap and due.get(heap[0][1]) != heap[0][0]:
                heapq.heappop(heap)
            if heap and (best is None or heap[0][0] < best):
                best = heap[0][0]
        self._known_earliest = best
        return best

    def pop_due(self, now: float, *, clock: Callable[[], float] = time.monotonic) -> list[DueEntry]:
        """Entries due at or before ``now`` that are not already in flight.

        Popped entries stay indexed (the case is still due) and are marked in flight until the
        clock agent calls :meth:`set` for the case, or until ``resend_after`` passes.
        """
        out: list[DueEntry] = []
        tick = clock()
        # ``_pending`` is in the order commands were sent: only its head can have waited long
        # enough, so a storm of 100,000 commands in flight costs nothing per tick.
        expired = []
        for case_id, (_due_at, sent) in self._pending.items():
            if tick - sent < self._resend_after:
                break
            expired.append(case_id)
        for case_id in expired:
            del self._pending[case_id]
            partition = self._where.get(case_id)
            if partition is not None:
                due_at = self._due[partition][case_id]
                heapq.heappush(self._heaps.setdefault(partition, []), (due_at, case_id))
        for partition, heap in self._heaps.items():
            due = self._due.get(partition, {})
            while heap and heap[0][0] <= now:
                due_at, case_id = heapq.heappop(heap)
                if due.get(case_id) != due_at or case_id in self._pending:
                    continue
                self._pending[case_id] = (due_at, tick)
                out.append(DueEntry(due_at, case_id, partition))
        out.sort()
        return out

    def in_flight(self) -> int:
        """Commands sent and not yet answered."""
        return len(self._pending)


def by_partition(entries: Iterable[DueEntry]) -> dict[int, list[DueEntry]]:
    """Entries grouped by partition, each group in due order (one timer command per group)."""
    groups: dict[int, list[DueEntry]] = {}
    for entry in sorted(entries):
        groups.setdefault(entry.partition, []).append(entry)
    return groups


#: Case ids in one timer command at most (a command stays far below Kafka's 1 MB record limit).
IDS_PER_COMMAND = 2000


def due_sender(topic: WireTopic[DueCommand]) -> Callable[[int, list[DueEntry]], Awaitable[None]]:
    """``send_due`` for :func:`run_due_timer`: commands of up to :data:`IDS_PER_COMMAND` ids."""

    async def send_due(partition: int, entries: list[DueEntry]) -> None:
        for start in range(0, len(entries), IDS_PER_COMMAND):
            chunk = entries[start : start + IDS_PER_COMMAND]
            due_at = datetime.fromtimestamp(chunk[-1].due_at, UTC)
            command = DueCommand([e.case_id for e in chunk], partition, due_at)
            await topic.send(command, partition=partition)

    return send_due


async def run_due_timer(
    index: DeadlineIndex,
    send_due: Callable[[int, list[DueEntry]], Awaitable[None]],
    *,
    ready: Callable[[], bool],
    stopped: Callable[[], bool],
    max_sleep: float = 1.0,
    now: Callable[[], float] = time.time,
    on_tick: Callable[[], None] | None = None,
) -> None:
    """Send due commands for the cases whose due time has come, until ``stopped()``.

    The cases due in one partition at one tick go out as one command (``send_due(partition,
    entries)``): a morning's 100,000 registrations reaching their limit in the same second are
    a handful of records, not 100,000 round trips.

    Sleeps until the earliest due time (at most ``max_sleep``), woken early when an earlier
    entry is indexed. Does nothing while ``ready()`` is false (rebalancing, recovering: Faust
    keeps running timers through both).

    Args:
        index: the deadline index.
        send_due: sends one command for one partition's due entries (to ``slawatch.due``).
        ready: True when the app owns its partitions and tables are recovered.
        stopped: True when the timer should return.
        max_sleep: the longest sleep between checks, in seconds.
        now: the wall clock, Unix seconds.
        on_tick: called once per loop (metrics).
    """
    wakeup = index.wakeup
    while not stopped():
        if on_tick is not None:
            on_tick()
        if not ready():
            await asyncio.sleep(min(max_sleep, 0.25))
            continue
        wakeup.clear()
        for partition, entries in by_partition(index.pop_due(now())).items():
            await send_due(partition, entries)
        earliest = index.earliest()
        delay = max_sleep if earliest is None else min(max_sleep, max(0.0, earliest - now()))
        if delay <= 0:
            await asyncio.sleep(0)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=delay)
