"""Where this worker's consumer stands in a partition: Faust's private offsets, read in one place.

Faust keeps two offsets per partition (``faust/transport/consumer.py``):

* ``_committed_offset``: the last committed offset, which by Kafka's rule is the **next**
  offset to read (Faust commits the last acked offset + 1);
* ``_read_offset``: the offset of the last message read, except right after a seek to the
  committed offset (at every assignment), when Faust sets it to that committed offset, which
  is the next offset to read.

So a read offset equal to the committed one may be either; :func:`next_offset` then counts it
as not read, which is never past the truth (the broker watchdog must not see an idle, fully
read partition as one record beyond its end) and at most one short while that message is
being handled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from streams.errors import DEFAULT, Failed

__all__ = ["ConsumerOffsets", "Partition", "fetch_highwater", "next_offset", "positions"]

#: A topic partition as ``(topic, partition)``.
Partition = tuple[str, int]


class _TP(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


class ConsumerOffsets(Protocol):
    """The part of Faust's consumer read here (private attributes of faust-streaming 0.15)."""

    _read_offset: Mapping[_TP, int | None]
    _committed_offset: Mapping[_TP, int | None]

    def assignment(self) -> Iterable[_TP]: ...

    def highwater(self, tp: _TP) -> int | None: ...


def next_offset(read: int | None, committed: int | None) -> int | None:
    """The next offset to read, from Faust's read and committed offsets; None if unknown.

    Example:
        >>> next_offset(None, 7)      # nothing read since the commit
        7
        >>> next_offset(7, 7)         # just seeked to the committed offset
        7
        >>> next_offset(9, 7)         # read up to 9
        10
        >>> next_offset(9, 10)        # read and committed up to 9
        10
        >>> next_offset(0, None)      # seeked to the start, nothing committed yet
        0
    """
    if read is None or read < 0:
        return committed
    done = committed if committed is not None else 0
    return done if read <= done else read + 1


def positions(consumer: ConsumerOffsets, topics: Iterable[str]) -> dict[Partition, int]:
    """The next offset to read of every assigned partition of ``topics`` that has one."""
    wanted = set(topics)
    read = consumer._read_offset
    committed = consumer._committed_offset
    out: dict[Partition, int] = {}
    for tp in list(consumer.assignment()):
        if tp.topic not in wanted:
            continue
        position = next_offset(read.get(tp), committed.get(tp))
        if position is not None:
            out[(tp.topic, tp.partition)] = position
    return out


def fetch_highwater(consumer: ConsumerOffsets, tp: _TP) -> int | None:
    """The high watermark of the consumer's last Fetch of ``tp``; None before the first."""
    seen = DEFAULT.attempt(lambda: consumer.highwater(tp))  # raises before the first fetch
    return None if isinstance(seen, Failed) or seen is None else int(seen)
