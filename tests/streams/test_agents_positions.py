"""Where the worker's consumer stands: Faust's read and committed offsets read in one place.

A committed offset is the next offset to read; a read offset is the last one read, except right
after a seek to the committed offset. The lag gauge and the broker watchdog both read
:func:`streams.positions.positions`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import pytest

from streams.positions import fetch_highwater, next_offset, positions


class TP(NamedTuple):
    topic: str
    partition: int


class Consumer:
    """Faust's consumer as far as positions are concerned."""

    def __init__(self, assigned: list[TP], highwaters: dict[TP, int] | None = None) -> None:
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._assigned = assigned
        self._highwaters = highwaters or {}

    def assignment(self) -> list[TP]:
        return self._assigned

    def highwater(self, tp: TP) -> int | None:
        if tp not in self._highwaters:
            raise AssertionError(f"no fetch yet for {tp}")  # as aiokafka before the first Fetch
        return self._highwaters[tp]


class TestNextOffset:
    @pytest.mark.parametrize(
        ("read", "committed", "expected"),
        [
            (None, None, None),  # nothing known
            (None, 12, 12),  # committed, nothing read since: the committed offset is next
            (12, 12, 12),  # right after the seek to the committed offset
            (0, None, 0),  # seeked to the start with nothing committed
            (15, 12, 16),  # read up to 15 since the commit
            (15, 16, 16),  # read and committed up to 15
            (4, None, 5),  # read up to 4, nothing committed yet
        ],
    )
    def test_the_next_offset_to_read(
        self, read: int | None, committed: int | None, expected: int | None
    ) -> None:
        """The next offset to read, never past the truth."""
        assert expected == next_offset(read, committed)

    def test_an_idle_partition_after_a_restart_is_not_past_its_end(self) -> None:
        """Regression: after the seek to committed offset 8 of a topic ending at 8, not 9."""
        end = 8
        position = next_offset(read=8, committed=8)
        assert position is not None and position <= end


class TestPositions:
    def test_only_assigned_partitions_of_the_topics_asked_for(self) -> None:
        """Partitions of other topics, or with no offset yet, are left out."""
        events0, events1, due0, other0 = (
            TP("ev", 0),
            TP("ev", 1),
            TP("due", 0),
            TP("other", 0),
        )
        consumer = Consumer([events0, events1, due0, other0])
        consumer._read_offset[events0] = 41
        consumer._committed_offset[events0] = 40
        consumer._committed_offset[due0] = 7
        consumer._read_offset[other0] = 3

        assert {("ev", 0): 42, ("due", 0): 7} == positions(consumer, {"ev", "due"})

    def test_the_high_watermark_is_none_before_the_first_fetch(self) -> None:
        """A partition not fetched yet has no high watermark (no error)."""
        fetched, not_yet = TP("ev", 0), TP("ev", 1)
        consumer = Consumer([fetched, not_yet], highwaters={fetched: 50})
        assert (50, None) == (
            fetch_highwater(consumer, fetched),
            fetch_highwater(consumer, not_yet),
        )
