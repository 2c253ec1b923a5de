"""The deadline index and the due timer, driven by hand (no broker)."""

from __future__ import annotations

import asyncio

from streams.deadlines import DeadlineIndex, DueEntry, by_partition, run_due_timer


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestDeadlineIndex:
    """Per-partition heaps with lazy deletion and an in-flight set."""

    def test_pops_only_what_is_due_in_time_order(self) -> None:
        """Entries due at or before now come out earliest first; later ones stay."""
        index = DeadlineIndex()
        index.set(0, "b", 20.0)
        index.set(1, "a", 10.0)
        index.set(0, "c", 30.0)

        popped = index.pop_due(now=25.0)

        assert [DueEntry(10.0, "a", 1), DueEntry(20.0, "b", 0)] == popped
        assert 30.0 == index.earliest()

    def test_moved_due_time_leaves_no_stale_fire(self) -> None:
        """A case whose due time moved later does not fire at the old time."""
        index = DeadlineIndex()
        index.set(0, "a", 10.0)
        index.set(0, "a", 50.0)

        assert ([], 50.0) == (index.pop_due(now=20.0), index.earliest())

    def test_removed_case_never_fires(self) -> None:
        """Setting None forgets the case."""
        index = DeadlineIndex()
        index.set(0, "a", 10.0)
        index.set(0, "a", None)

        assert ([], 0, None) == (index.pop_due(now=99.0), len(index), index.earliest())

    def test_in_flight_is_not_sent_twice(self) -> None:
        """A popped entry stays in flight until the clock agent answers for the case."""
        index = DeadlineIndex()
        index.set(0, "a", 10.0)
        first = index.pop_due(now=10.0)
        again = index.pop_due(now=11.0)
        index.set(0, "a", 40.0)  # the agent advanced the case

        assert (["a"], [], 1) == ([e.case_id for e in first], again, len(index))
        assert [DueEntry(40.0, "a", 0)] == index.pop_due(now=40.0)

    def test_unanswered_command_is_resent(self) -> None:
        """A command that got no answer is sent again after resend_after."""
        clock = FakeClock()
        index = DeadlineIndex(resend_after=30.0)
        index.set(0, "a", 10.0)
        index.pop_due(now=10.0, clock=clock)
        clock.now = 29.0
        early = index.pop_due(now=39.0, clock=clock)
        clock.now = 31.0

        assert ([], ["a"]) == (early, [e.case_id for e in index.pop_due(now=41.0, clock=clock)])

    def test_same_due_after_answer_waits_for_resend(self) -> None:
        """An answer that leaves the due time unchanged does not make the timer spin."""
        index = DeadlineIndex()
        index.set(0, "a", 10.0)
        index.pop_due(now=10.0)
        index.set(0, "a", 10.0)

        assert ([], 1) == (index.pop_due(now=12.0), index.in_flight())

    def test_drop_and_rebuild_partitions(self) -> None:
        """Revoked partitions are forgotten; a rebuild replaces a partition's entries."""
        index = DeadlineIndex()
        index.set(0, "a", 10.0)
        index.set(1, "b", 20.0)
        index.drop_partitions([0])
        index.rebuild([DueEntry(5.0, "c", 1)], partitions=[1])

        assert ({1}, ["c"]) == (index.partitions(), [e.case_id for e in index.pop_due(99.0)])

    def test_earlier_entry_wakes_the_timer(self) -> None:
        """Indexing an entry earlier than all others sets the wakeup event."""
        index = DeadlineIndex()
        index.set(0, "a", 50.0)
        index.wakeup.clear()
        index.set(0, "b", 60.0)
        later = index.wakeup.is_set()
        index.set(0, "c", 10.0)

        assert (False, True) == (later, index.wakeup.is_set())


class TestDueTimer:
    """The timer loop sends due commands and respects readiness."""

    def test_sends_due_entries_and_skips_while_not_ready(self) -> None:
        """Nothing is sent while not ready; once ready, each due case is sent once."""
        index = DeadlineIndex()
        index.set(0, "a", 100.0)
        index.set(1, "b", 101.0)
        index.set(1, "later", 10_000.0)
        sent: list[str] = []
        state = {"ready": False, "loops": 0}

        async def send(partition: int, entries: list[DueEntry]) -> None:
            assert {partition} == {e.partition for e in entries}
            sent.extend(e.case_id for e in entries)

        def stopped() -> bool:
            state["loops"] += 1
            if state["loops"] == 3:
                state["ready"] = True
            return state["loops"] > 8

        asyncio.run(
            run_due_timer(
                index,
                send,
                ready=lambda: state["ready"],
                stopped=stopped,
                max_sleep=0.01,
                now=lambda: 200.0,
            )
        )

        assert ["a", "b"] == sent


class TestByPartition:
    """Due entries leave as one command per partition."""

    def test_groups_in_due_order(self) -> None:
        """Each partition's entries form one group, earliest first."""
        entries = [DueEntry(3.0, "c", 1), DueEntry(1.0, "a", 0), DueEntry(2.0, "b", 1)]

        groups = by_partition(entries)

        assert {0: ["a"], 1: ["b", "c"]} == {
            p: [e.case_id for e in group] for p, group in groups.items()
        }
