"""The case processor, in process: a batch of messages → effects, one write per case, errors.

The rows here are a plain dict and the effects go to a list: the processor's contract with
its rows is ``get``/``put``/``delete`` (:class:`streams.rows.Rows`) under the current-event
context, both checked below; :class:`streams.rows.TableRows` is tested in test_rows.py and the
real worker against the real broker in test_worker.py.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faust.streams import current_event

from sla.effects import Breached, ClockEnded, ClockStarted, Effect
from sla.engine import Engine
from sla.events import LifecycleEvent
from sla.policy import PolicySpec
from streams.case_row import CaseRow, decode_row
from streams.codec import encode_due, encode_model
from streams.deadlines import DeadlineIndex
from streams.processor import (
    FORGOTTEN_KEEP,
    CaseProcessor,
    ErrorPolicy,
    SendFailed,
    Unconfirmed,
    _collections_wait,
    _Undo,
)

EVENTS, DUE = "slawatch.events", "slawatch.due"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = PolicySpec.model_validate(
    {
        "version": "t-1",
        "clocks": [
            {
                "id": "first_response",
                "case_kind": "complaint",
                "start": ["complaint_registered"],
                "stop": ["complaint_acknowledged"],
                "limit": "1h",
                "warn_at": [],
            }
        ],
    }
)


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None


@dataclass(eq=False)
class Event:
    message: Message


class Table(dict[str, Any]):
    """Rows in a dict that records, per write, the partition it was filed under, and checks
    it is the partition of the message Faust would file the store's key under."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, int]] = []

    def get(self, partition: int, key: str, /) -> Any:
        return super().get(key)

    async def put(self, partition: int, key: str, value: bytes) -> None:
        self._check(partition)
        self.writes.append((key, partition))
        self[key] = value

    async def delete(self, partition: int, key: str) -> None:
        self._check(partition)
        del self[key]

    @staticmethod
    def _check(partition: int) -> None:
        event = current_event()
        assert event is not None, "a table write outside a message's context"
        assert partition == event.message.partition, "the changelog and the store disagree"


@dataclass
class Effects:
    sent: list[Effect] = field(default_factory=list)
    fail: int = 0
    #: How many effects had been sent when each batch ended.
    batch_ends: list[int] = field(default_factory=list)

    async def emit(self, effects: Iterable[Effect], ctx: dict[str, Any], partition: int) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("broker refused the write")
        self.sent.extend(effects)

    def end_batch(self) -> None:
        self.batch_ends.append(len(self.sent))


def row(table: Table, case_id: str) -> CaseRow:
    decoded = decode_row(table[case_id])
    assert decoded is not None
    return decoded


def lifecycle(case: str, kind: str, minutes: int, offset: int, partition: int = 0) -> Event:
    event = LifecycleEvent.model_validate(
        {
            "event_id": f"{case}-{kind}",
            "case_id": case,
            "case_kind": "complaint",
            "event_type": kind,
            "occurred_at": (NOW - timedelta(minutes=30) + timedelta(minutes=minutes)).isoformat(),
        }
    )
    return Event(Message(EVENTS, partition, offset, encode_model(event)))


def processor(
    table: Table,
    effects: Effects,
    dead: list[tuple[str, str]],
    clock: list[datetime] | None = None,
    **kw: Any,
) -> CaseProcessor:
    now = clock if clock is not None else [NOW]

    async def dead_letter(message: Any, reason: str, detail: str) -> None:
        dead.append((reason, detail))

    return CaseProcessor(
        engine=Engine(POLICY, {}),
        rows=table,
        index=DeadlineIndex(),
        effects=effects,
        due_topic=DUE,
        dead_letter=dead_letter,
        now=lambda: now[0],
        **kw,
    )


class TestBatch:
    def test_one_write_per_case_per_batch(self) -> None:
        """Two events of one case in one batch: both applied in order, the state written once."""
        table, effects, dead = Table(), Effects(), []
        batch = [
            lifecycle("C-1", "complaint_registered", 0, 10),
            lifecycle("C-1", "complaint_acknowledged", 20, 11),
        ]

        asyncio.run(processor(table, effects, dead).process(batch))

        kinds = [type(e).__name__ for e in effects.sent]
        assert (["ClockStarted", "ClockEnded"], [("C-1", 0)], []) == (kinds, table.writes, dead)
        assert [] == row(table, "C-1")["open"]

    def test_the_effects_hear_when_each_batch_ends(self) -> None:
        """After a batch's last effect, once per batch (the breach summary line hangs on it)."""
        table, effects, dead = Table(), Effects(), []
        proc = processor(table, effects, dead)

        asyncio.run(proc.process([lifecycle("C-3", "complaint_registered", 0, 1)]))
        asyncio.run(proc.process([lifecycle("C-3", "complaint_acknowledged", 5, 2)]))

        assert [1, 2] == effects.batch_ends

    def test_due_command_advances_every_case_it_names(self) -> None:
        """One timer command for a partition breaches each overdue case it carries."""
        table, effects, dead, clock = Table(), Effects(), [], [NOW]
        proc = processor(table, effects, dead, clock)
        starts = [lifecycle(c, "complaint_registered", 0, i) for i, c in enumerate(["A", "B"])]
        asyncio.run(proc.process(starts))
        clock[0] = NOW + timedelta(hours=1)
        due = Event(Message(DUE, 0, 0, encode_due(0, ["A", "B"], clock[0])))

        asyncio.run(proc.process([due]))

        breached = sorted(e.record.case_id for e in effects.sent if isinstance(e, Breached))
        assert (["A", "B"], []) == (breached, dead)

    def test_bad_event_is_dead_lettered_and_the_batch_goes_on(self) -> None:
        """A message that is not a canonical event is dead-lettered; the next one is applied."""
        table, effects, dead = Table(), Effects(), []
        batch = [
            Event(Message(EVENTS, 0, 1, b'{"case_id": "C-9"}')),
            lifecycle("C-2", "complaint_registered", 0, 2),
        ]

        asyncio.run(processor(table, effects, dead).process(batch))

        started = [e.ref.case_id for e in effects.sent if isinstance(e, ClockStarted)]
        assert (["invalid_event"], ["C-2"]) == ([r for r, _ in dead], started)


class TestErrorPolicy:
    def test_a_failed_send_is_retried_before_the_state_is_stored(self) -> None:
        """The producer refuses twice, then takes the records: nothing is lost or skipped."""
        table, effects, dead = Table(), Effects(fail=2), []
        proc = processor(table, effects, dead, errors=ErrorPolicy(send_backoff=0.001))

        asyncio.run(proc.process([lifecycle("C-3", "complaint_registered", 0, 1)]))

        assert (1, ["C-3"]) == (len(effects.sent), list(table))

    def test_a_send_that_never_succeeds_stops_the_worker_and_stores_nothing(self) -> None:
        """After every retry the processor raises SendFailed; the case state is not written,
        so the message is processed again after the restart."""
        table, effects, dead = Table(), Effects(fail=99), []
        proc = processor(table, effects, dead, errors=ErrorPolicy(3, send_backoff=0.001))

        with pytest.raises(SendFailed, match="after 3 tries"):
            asyncio.run(proc.process([lifecycle("C-4", "complaint_registered", 0, 1)]))

        assert ([], []) == (effects.sent, list(table))

    def test_outcome_is_sent_before_the_row_that_implies_it(self) -> None:
        """When the outcome record is out, the table still held the open state (order)."""
        table, dead = Table(), []
        seen_open: list[list[str]] = []

        class Watching(Effects):
            async def emit(
                self, effects: Iterable[Effect], ctx: dict[str, Any], partition: int
            ) -> None:
                for effect in effects:
                    if isinstance(effect, ClockEnded):
                        seen_open.append(row(table, "C-5")["open"])
                await super().emit(effects, ctx, partition)

        proc = processor(table, Watching(), dead)
        asyncio.run(proc.process([lifecycle("C-5", "complaint_registered", 0, 1)]))
        asyncio.run(proc.process([lifecycle("C-5", "complaint_acknowledged", 5, 2)]))

        assert ([["first_response"]], []) == (seen_open, row(table, "C-5")["open"])


class TestRecordsBeforeRows:
    """A batch that sent records waits for the broker's answer to them before it writes rows."""

    def test_rows_are_written_after_the_records_are_confirmed(self) -> None:
        """The outcome record a row implies is in the log first: confirmed, then written."""
        table, effects, dead = Table(), Effects(), []
        order: list[str] = []

        async def confirm() -> None:
            order.append(f"confirmed after {len(effects.sent)} effects, {len(table.writes)} rows")

        proc = processor(table, effects, dead, confirm_records=confirm)
        batch = [
            lifecycle("C-1", "complaint_registered", 0, 1),
            lifecycle("C-1", "complaint_acknowledged", 5, 2),
        ]
        asyncio.run(proc.process(batch))

        assert ["confirmed after 2 effects, 0 rows"] == order
        assert [("C-1", 0)] == table.writes

    def test_a_batch_that_sent_no_record_does_not_wait(self) -> None:
        """A clock started (a counter, no record), then the same event again: no wait."""
        table, effects, dead = Table(), Effects(), []
        confirmed: list[int] = []

        async def confirm() -> None:
            confirmed.append(len(effects.sent))

        proc = processor(table, effects, dead, confirm_records=confirm)
        asyncio.run(proc.process([lifecycle("C-1", "complaint_registered", 0, 1)]))
        asyncio.run(proc.process([lifecycle("C-1", "complaint_registered", 0, 1)]))
        asyncio.run(proc.process([lifecycle("C-1", "complaint_acknowledged", 5, 2)]))

        assert [3] == confirmed  # only the batch that sent the outcome


class TestForgottenCases:
    """A case retention forgot keeps its cycle numbering: an outcome id never repeats."""

    def run(self, proc: CaseProcessor, *events: Event) -> None:
        asyncio.run(proc.process(list(events)))

    def test_cycles_are_numbered_on_after_retention_forgot_the_case(self) -> None:
        """Met, forgotten (a marker row stays), seen again: the new cycle is number 2."""
        table, effects, dead, clock = Table(), Effects(), [], [NOW]
        revived: list[int] = []
        proc = processor(table, effects, dead, clock, on_revive=lambda: revived.append(1))
        proc.engine = Engine(POLICY, {}, retention=timedelta(minutes=5))
        self.run(proc, lifecycle("C-7", "complaint_registered", 0, 1))
        self.run(proc, lifecycle("C-7", "complaint_acknowledged", 5, 2))
        clock[0] = NOW + timedelta(hours=1)
        self.run(proc, Event(Message(DUE, 0, 3, encode_due(0, ["C-7"], clock[0]))))
        marker = row(table, "C-7")
        again = lifecycle("C-7", "complaint_registered", 80, 4)
        again.message.value = again.message.value.replace(b"C-7-complaint_registered", b"C-7-r2")
        self.run(proc, again)

        cycles = [e.ref.cycle for e in effects.sent if isinstance(e, ClockStarted)]
        assert ({"first_response": 1}, None, [1, 2], [1]) == (
            marker["forgotten"],  # type: ignore[typeddict-item]
            marker["s"],
            cycles,
            revived,
        )

    def test_marker_goes_after_it_was_kept_long_enough(self) -> None:
        """A marker's own due time deletes it: the table forgets the case for good."""
        table, effects, dead, clock = Table(), Effects(), [], [NOW]
        proc = processor(table, effects, dead, clock)
        proc.engine = Engine(POLICY, {}, retention=timedelta(minutes=5))
        self.run(proc, lifecycle("C-8", "complaint_registered", 0, 1))
        self.run(proc, lifecycle("C-8", "complaint_acknowledged", 5, 2))
        clock[0] = NOW + timedelta(hours=1)
        self.run(proc, Event(Message(DUE, 0, 3, encode_due(0, ["C-8"], clock[0]))))
        assert "C-8" in table
        clock[0] = NOW + FORGOTTEN_KEEP + timedelta(hours=2)
        self.run(proc, Event(Message(DUE, 0, 4, encode_due(0, ["C-8"], clock[0]))))
        assert "C-8" not in table


class TestRebalance:
    def test_a_rebalance_stops_the_batch_and_keeps_what_was_done(self) -> None:
        """Once a rebalance begins, the rest of the batch is left for the next owner; the cases
        already processed are written."""
        table, effects, dead = Table(), Effects(), []
        seen: list[int] = []

        def interrupted() -> bool:
            seen.append(1)
            return len(seen) > 1  # the rebalance begins after the first message

        proc = processor(table, effects, dead, interrupted=interrupted)
        batch = [
            lifecycle("A-1", "complaint_registered", 0, 1),
            lifecycle("A-2", "complaint_registered", 0, 2),
        ]

        asyncio.run(proc.process(batch))

        assert ["A-1"] == list(table)


class TestKeptStates:
    """The states kept beside their rows follow the partitions the worker owns."""

    def test_a_takeover_leaves_no_states_of_partitions_given_back(self) -> None:
        """Each takeover processes the cases of partitions 2 and 3 for a while; once they are
        given back, their states go. Over many takeovers the kept states do not grow."""
        table, effects, dead = Table(), Effects(), []
        proc = processor(table, effects, dead)
        own = [lifecycle(f"O-{p}", "complaint_registered", 0, 1, partition=p) for p in (0, 1)]
        asyncio.run(proc.process(own))
        for takeover in range(20):
            batch = [
                lifecycle(f"T{takeover}-{p}-{i}", "complaint_registered", 0, i, partition=p)
                for p in (2, 3)
                for i in range(5)
            ]
            asyncio.run(proc.process(batch))
            assert 12 == proc.kept_states
            assert 10 == proc.keep_partitions({0, 1})
            assert 2 == proc.kept_states

    def test_kept_states_of_owned_partitions_stay(self) -> None:
        """Keeping every partition forgets nothing."""
        table, effects, dead = Table(), Effects(), []
        proc = processor(table, effects, dead)
        asyncio.run(proc.process([lifecycle("A-1", "complaint_registered", 0, 1, partition=3)]))
        assert (0, 1) == (proc.keep_partitions({0, 1, 2, 3}), proc.kept_states)


class TestUnconfirmed:
    """Records in flight keep the undo of their case until the broker confirms them."""

    def test_confirmed_records_are_forgotten_and_refused_ones_undo_the_earliest(self) -> None:
        """A confirmed record leaves nothing; for a case with refused records the undo of its
        earliest refused message is returned, once."""

        async def scenario() -> tuple[int, list[tuple[str, bytes | None]]]:
            loop = asyncio.get_running_loop()
            ok, first, second, other = (loop.create_future() for _ in range(4))
            unconfirmed = Unconfirmed()
            unconfirmed.track([ok], _Undo("A-1", b"row0", Event(Message(EVENTS, 0, 0, b""))))
            unconfirmed.track([first], _Undo("A-1", b"row1", Event(Message(EVENTS, 0, 1, b""))))
            unconfirmed.track([second], _Undo("A-1", b"row2", Event(Message(EVENTS, 0, 2, b""))))
            unconfirmed.track([other], _Undo("B-1", None, Event(Message(EVENTS, 1, 0, b""))))
            ok.set_result(None)
            other.set_result(None)
            first.set_exception(RuntimeError("refused"))
            second.set_exception(RuntimeError("refused"))
            await asyncio.wait([ok, first, second, other])
            return len(unconfirmed), [(u.case_id, u.stored) for u in unconfirmed.refused()]

        left, undone = asyncio.run(scenario())
        assert (2, [("A-1", b"row1")]) == (left, undone)


class TestCollectionsWait:
    """The cyclic collector waits for the end of a batch (a collection in the middle walks the
    batch's live objects and frees none), and comes back as it was."""

    def test_off_during_a_batch_and_on_after_it(self) -> None:
        seen: list[bool] = []

        class Watching(Effects):
            async def emit(
                self, effects: Iterable[Effect], ctx: dict[str, Any], partition: int
            ) -> None:
                seen.append(gc.isenabled())
                await super().emit(effects, ctx, partition)

        assert gc.isenabled()
        proc = processor(Table(), Watching(), [])
        asyncio.run(proc.process([lifecycle("G-1", "complaint_registered", 0, 1)]))
        assert ([False], True) == (seen, gc.isenabled())

    def test_nested_batches_and_a_collector_turned_off_elsewhere(self) -> None:
        with _collections_wait():
            with _collections_wait():
                pass
            assert not gc.isenabled()  # the outer batch is still running
        assert gc.isenabled()
        gc.disable()
        try:
            with _collections_wait():
                pass
            assert not gc.isenabled()  # someone else turned it off: it stays off
        finally:
            gc.enable()
