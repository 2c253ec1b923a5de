"""The case processor: decode → engine → effects → store → deadline index, a batch at a time.

The clock agent (and the shadow agent, with its own engine and table) hands every batch of
messages it takes from its channel to :meth:`CaseProcessor.process`. For each message, in
order, the processor finds the case ids and what happened to them (a canonical event, or a
timer command naming the cases that fell due), runs the pure engine on the case's current
state and carries out the effects (records sent, counters). A case touched several times in
one batch stays in memory between its messages and is written to the table **once**, after
the batch's records were handed to the producer, so:

* records are sent before the state that implies them is stored: a crash repeats records
  (their ids are deterministic, readers dedupe) but never loses one;
* the table, its changelog and the deadline index see one write per case per batch.

The table value of a case is a :class:`~streams.case_row.CaseRow`, stored as JSON bytes, and
written through :class:`~streams.rows.Rows` (a Faust table's store and changelog, without
Faust's per-key send path: :mod:`streams.rows`).

What goes wrong is handled by one :class:`ErrorPolicy`: a message that cannot be processed is
dead-lettered with its reason and the batch goes on; a record the producer cannot send is
retried, and if it still cannot be sent the worker stops with an error so the batch is read
again after the restart (docs/design.md, Errors). A record the broker refuses later, after it
was handed over, puts its case's row back as it was before the message
(:meth:`CaseProcessor.undo_refused`, called by :mod:`streams.deliveries` before the worker stops).
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

import structlog
from faust.streams import _current_event
from faust.types import Message

from sla.effects import RECORD_EFFECTS, Effect
from sla.engine import CaseState, ClockTrack, Engine, Step
from sla.events import LifecycleEvent
from streams import deliveries
from streams.case_row import CaseRow, decode_row, encode_row
from streams.codec import DUE_COMMANDS, EVENTS
from streams.deadlines import DeadlineIndex
from streams.errors import ErrorPolicy, Failed, SendFailed
from streams.outbox import Outbox
from streams.rows import Rows

__all__ = [
    "AtMessage",
    "Carrier",
    "CaseProcessor",
    "EffectHandler",
    "ErrorPolicy",
    "LogContext",
    "SendFailed",
    "summarize",
]

log = structlog.get_logger("slawatch.processor")

#: How many case states the processor keeps as objects beside their stored rows, so that the
#: next event of a recently touched case skips parsing its row. Bounded, because every object
#: kept is one more for the garbage collector to walk.
LIVE_STATES = 4_096

#: A batch (a fetch, or a timer command naming thousands of cases) lets the event loop run
#: other tasks after this many messages or cases: the alert agents, the web views and Faust's
#: own timers would otherwise wait for the whole batch, seconds in a deadline storm. Sends
#: handed to the producer rarely suspend, so without it a batch never yields.
YIELD_EVERY = 64

#: Records staged in the outbox that are sent at the next yield instead of the batch's end: a
#: timer command naming thousands of cases does not hold back its first breaches (or their
#: memory) until the last is decided. About a full produce batch of a partition.
SEND_STAGED_AT = 1_024

#: How long the cycle numbering of a case retention forgot is kept (a row of ~100 bytes), so
#: an event for it after that starts cycle numbers where they were, not at 1 (outcome ids are
#: case/clock/cycle and must not repeat). After it the case starts afresh, with a warning.
FORGOTTEN_KEEP = timedelta(days=90)


class Carrier(Protocol):
    """What carries a message to the processor: a Faust event of the agent's stream, or an
    :class:`AtMessage` of a fetch. Table writes are filed under it (Faust's current event)."""

    @property
    def message(self) -> Message: ...


#: Where a message came from, for log lines: topic, partition, offset.
LogContext = dict[str, str | int]


class EffectHandler(Protocol):
    """Carries out the engine's effects for one message (records, counters, log lines)."""

    async def emit(self, effects: Iterable[Effect], ctx: LogContext, partition: int) -> None:
        """Carry out one message's effects on a case of ``partition``; ``ctx`` is for logs."""

    def end_batch(self) -> None:
        """The batch's effects are all out (a summary log line may follow)."""


def summarize(state: CaseState) -> tuple[list[str], list[str]]:
    """Clock ids with an open cycle in ``state``, and those past their last warning.

    A clock is near breach when every warning threshold of its running cycle has passed and
    the breach has not been sent.
    """
    open_: list[str] = []
    near: list[str] = []
    for clock_id, cycle in state.running():
        open_.append(clock_id)
        warn_at = cycle.terms.warn_at
        if warn_at and not cycle.breach_emitted and max(warn_at) in cycle.warned:
            near.append(clock_id)
    return sorted(open_), sorted(near)


@dataclass(slots=True)
class _Touched:
    """A case the batch touched: what the table held (bytes, and parsed) and what it holds now."""

    case_id: str
    partition: int
    stored: bytes | None
    row: CaseRow | None
    loaded: CaseState | None
    state: CaseState | None
    next_due: datetime | None
    event: Carrier | None = field(default=None, repr=False)
    #: Clock id -> cycles numbered, of a case retention forgot (its marker row), or of the
    #: case being forgotten now.
    forgotten: dict[str, int] | None = None
    #: The marker of a forgotten case has been kept long enough: delete it.
    expire: bool = False


#: Called after each case write: (partition, old open, old near, new open, new near clocks).
GaugeUpdate = Callable[[int, Sequence[str], Sequence[str], Sequence[str], Sequence[str]], None]
#: Returns the canonical event of a source message read directly, or None (handled).
SourceDecoder = Callable[[Message], Awaitable[LifecycleEvent | None]]
#: Handles a message that could not be processed: (message, reason, detail).
DeadLetter = Callable[[Message, str, str], Awaitable[None]]


class CaseProcessor:
    """One engine's path from messages to stored state; see the module docstring.

    Args:
        engine: the pure case engine.
        rows: the case rows (of ``cases``, or of the shadow's table).
        index: the deadline index of this engine.
        effects: carries out effects (the live sink, or the shadow's).
        due_topic: name of the timer-command topic of this engine.
        sources: source topic name -> decoder, for sources read directly (keyed by case id);
            every other topic of the channel carries canonical events.
        dead_letter: handles a message that could not be processed.
        on_write: called after each case write (gauges); None: nothing.
        on_revive: called when a case retention forgot gets an event again (a counter).
        interrupted: true once a rebalance has begun: the rest of the batch is left for the
            partition's next owner (Faust does not commit what it acks during a rebalance,
            streams/skipped_acks.py), so the worker gives its partitions up at once instead of
            writing state for partitions that may no longer be its own.
        errors: the error policy.
        undo_refusals: keep, until the broker confirms each record, what puts its case back
            (:meth:`undo_refused`); off for the shadow, whose refused records stop nothing.
        outbox: where records and changelog records are staged during a batch (by ``effects``
            and ``rows``, which are given the same outbox); sent after the batch's messages,
            and again after its rows. None: they send their records themselves.
        confirm_records: waits until the broker has answered every record handed to the
            producer so far (the producer's flush); awaited before a batch that sent records
            writes its rows. Handed over first is not enough: records of different
            partitions leave in separate produce batches, each when its own linger ends, so a
            row could reach the changelog before the breach it says was sent, and a worker
            killed in between lost that breach (bench/failover.py, 2026-12-07). None: rows
            follow at once (tests without a broker).
        now: the wall clock (tests pass a fixed one).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        rows: Rows,
        index: DeadlineIndex,
        effects: EffectHandler,
        due_topic: str,
        sources: dict[str, SourceDecoder] | None = None,
        dead_letter: DeadLetter,
        on_write: GaugeUpdate | None = None,
        on_revive: Callable[[], None] | None = None,
        interrupted: Callable[[], bool] = lambda: False,
        errors: ErrorPolicy | None = None,
        undo_refusals: bool = True,
        confirm_records: Callable[[], Awaitable[object]] | None = None,
        outbox: Outbox | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.rows = rows
        #: Whether the rows file keys under Faust's current event (see :class:`Rows`); asked
        #: at the first batch (a table makes its store when first asked for it).
        self._filed_by_event: bool | None = None
        self.index = index
        self._effects = effects
        self._due_topic = due_topic
        self._sources = sources or {}
        self._dead_letter = dead_letter
        self._on_write = on_write
        self._on_revive = on_revive
        self._interrupted = interrupted
        self._errors = errors or ErrorPolicy()
        self._now = now
        self._confirm_records = confirm_records
        self._outbox = outbox
        #: The batch being processed has handed records to the producer.
        self._sent_records = False
        # least recently written first: an OrderedDict pops its oldest entry in O(1), where a
        # dict's first key is found by skipping the slots of every entry deleted before it
        self._live: OrderedDict[str, tuple[bytes | None, CaseRow, CaseState]] = OrderedDict()
        self.partition_mismatches = 0
        self._unconfirmed = Unconfirmed() if undo_refusals else None
        #: Cases retention forgot that got events again (their cycles numbered on).
        self.revived = 0

    async def process(self, batch: Sequence[Carrier]) -> int:
        """Process a batch of Faust events (messages of one channel) in order; returns how many
        were processed: all, unless the flow was suspended (a rebalance) part way."""
        with _collections_wait():
            return await self._process(batch)

    async def _process(self, batch: Sequence[Carrier]) -> int:
        if self._filed_by_event is None:
            self._filed_by_event = bool(getattr(self.rows, "filed_by_event", True))
        touched: dict[str, _Touched] = {}
        now = self._now()
        done = 0
        self._sent_records = False
        for event in batch:
            if self._interrupted():
                break
            if done and done % YIELD_EVERY == 0:
                await self._send_staged(batch[done - 1].message, SEND_STAGED_AT)
                await asyncio.sleep(0)
            if self._filed_by_event:
                with _under(event):  # table reads go straight to the message's partition
                    await self._message(event, touched, now)
            else:
                await self._message(event, touched, now)
            done += 1
        last = batch[done - 1].message if done else None
        await self._send_staged(last)
        if self._sent_records and self._confirm_records is not None:
            await self._confirm_records()  # the records are in the log before their rows
        await self._store(touched)
        await self._send_staged(last)
        self._effects.end_batch()
        if self._unconfirmed is not None:
            self._unconfirmed.prune()
        return done

    async def _send_staged(self, message: Message | None, at_least: int = 1) -> None:
        """Send what is staged in the outbox, if ``at_least`` records are (``message``: the
        last one processed, for the error's log line)."""
        outbox = self._outbox
        if outbox is None or message is None or outbox.staged < at_least:
            return
        await self._errors.send(outbox.send, _ctx(message))

    async def _message(self, event: Carrier, touched: dict[str, _Touched], now: datetime) -> None:
        if event.message.topic == self._due_topic:
            await self._due(event, touched, now)
        else:
            await self._lifecycle(event, touched, now)

    async def process_messages(self, messages: Sequence[Message]) -> int:
        """:meth:`process` for bare messages (a fetch, :mod:`streams.batches`)."""
        return await self.process([AtMessage(message) for message in messages])

    async def _lifecycle(self, event: Carrier, touched: dict[str, _Touched], now: datetime) -> None:
        message = event.message
        decode = self._sources.get(message.topic)
        if decode is not None:
            canonical = await decode(message)
            if canonical is None:
                return  # dead-lettered or skipped (counted by the decoder)
        else:
            read = self._errors.attempt(lambda: EVENTS.decode(_value(message)))
            if isinstance(read, Failed):
                await self._dead_letter(message, "invalid_event", read.detail)
                return
            canonical = read
        case = self._case(canonical.case_id, message.partition, touched)
        state = case.state
        if state is None and case.forgotten is not None:
            state = revived(canonical, case.forgotten)
        # one poisoned event must not stop every clock
        applied = self._errors.attempt(
            lambda: self.engine.apply(state, canonical, now),
            "clock_event_failed",
            partial(_ctx, message),
        )
        if isinstance(applied, Failed):
            await self._dead_letter(message, "processing_failed", applied.detail)
            return
        step = applied
        if state is not case.state:
            if step.state is state:  # nothing took the event: the case stays forgotten
                await self._carry_out(case, replace(step, state=None), event, keep=True)
                return
            self.revived += 1
            if self._on_revive is not None:
                self._on_revive()
            log.warning(
                "forgotten_case_seen_again",
                case_id=canonical.case_id,
                cycles=case.forgotten,
                **_ctx(message),
            )
            case.forgotten = None
        await self._carry_out(case, step, event)

    async def _due(self, event: Carrier, touched: dict[str, _Touched], now: datetime) -> None:
        message = event.message
        command = self._errors.attempt(lambda: DUE_COMMANDS.decode(_value(message)))
        if isinstance(command, Failed):
            await self._dead_letter(message, "invalid_timer", str(command.error))
            return
        for n, case_id in enumerate(command.case_ids, 1):
            if n % YIELD_EVERY == 0:
                await self._send_staged(message, SEND_STAGED_AT)
                await asyncio.sleep(0)
            case = self._case(case_id, message.partition, touched)
            if case.state is None:
                if case.forgotten is not None and case.next_due is not None:
                    if now >= case.next_due:  # kept long enough: forget it for good
                        case.expire, case.event = True, event
                    continue
                self.index.set(message.partition, case_id, None)
                continue
            state = case.state
            # one broken case must not stop the others
            advanced = self._errors.attempt(
                partial(self.engine.advance, state, now),
                "clock_timer_failed",
                partial(_ctx, message),
            )
            if isinstance(advanced, Failed):
                continue
            await self._carry_out(case, advanced, event)

    def _case(self, case_id: str, partition: int, touched: dict[str, _Touched]) -> _Touched:
        """The case's current state: from this batch, else from the table."""
        case = touched.get(case_id)
        if case is not None:
            return case
        stored = self.rows.get(partition, case_id)
        live = self._live.get(case_id)
        if stored is None:
            row, loaded = None, None
        elif live is not None and live[0] is stored:
            row, loaded = live[1], live[2]
        else:
            row = decode_row(stored)
            loaded = None if row is None or row["s"] is None else CaseState.from_json(row["s"])
        if row is not None and row["p"] != partition:
            self.partition_mismatches += 1
            log.error(
                "partition_mismatch",
                case_id=case_id,
                stored_partition=row["p"],
                partition=partition,
            )
        case = touched[case_id] = _Touched(case_id, partition, stored, row, loaded, loaded, None)
        if row is not None and row["s"] is None:
            case.forgotten = dict(row.get("forgotten") or {})
        if row is not None:
            due = row["due"]
            case.next_due = None if due is None else datetime.fromtimestamp(due, UTC)
        return case

    @property
    def kept_states(self) -> int:
        """How many case states are kept beside their rows (at most :data:`LIVE_STATES`)."""
        return len(self._live)

    def keep_partitions(self, partitions: set[int]) -> int:
        """Forget the kept states of cases outside ``partitions`` (this worker's actives after a
        rebalance); returns how many were forgotten.

        A state of a partition the worker no longer owns is never used again: the partition's
        rows, replayed from the changelog (standby) or recovered by a later owner, are other
        bytes. Kept, such states would stay until :data:`LIVE_STATES` newer ones pushed them
        out: each takeover left the cases of the partitions held during it (the soak, 2026-11-25).
        """
        live = self._live
        gone = [case_id for case_id, (_, row, _) in live.items() if row["p"] not in partitions]
        for case_id in gone:
            del live[case_id]
        return len(gone)

    async def undo_refused(self) -> int:
        """Put back the rows of the cases whose records the broker refused; returns how many.

        Each gets the row it had before the message whose records were refused (the earliest,
        when several were), so that message, read again after the restart, is applied again
        and its records sent again instead of being taken for a duplicate
        (:mod:`streams.deliveries`).
        """
        undone = [] if self._unconfirmed is None else self._unconfirmed.refused()
        for undo in undone:
            with _under(undo.event):
                partition = undo.event.message.partition
                if undo.stored is not None:
                    await self.rows.put(partition, undo.case_id, undo.stored)
                elif self.rows.get(partition, undo.case_id) is not None:
                    await self.rows.delete(partition, undo.case_id)
            self._live.pop(undo.case_id, None)
            log.warning("case_row_put_back", case_id=undo.case_id, **_ctx(undo.event.message))
        if self._outbox is not None:
            await self._outbox.send()
        return len(undone)

    def _remember(
        self, case_id: str, stored: bytes | None, row: CaseRow | None, state: CaseState | None
    ) -> None:
        """Keep the row and state just written beside the stored bytes they stand for.

        The engine never changes a state it is given (it works on a clone), so the object
        written last stands for the stored row as long as the table still holds those very
        bytes (the memory store does; after a recovery, or with RocksDB, the table hands out
        other objects and the row is parsed again).
        """
        live = self._live
        live.pop(case_id, None)
        if state is None or row is None:
            return
        live[case_id] = (stored, row, state)
        if len(live) > LIVE_STATES:
            live.popitem(last=False)  # the least recently written

    async def _carry_out(
        self, case: _Touched, step: Step, event: Carrier, keep: bool = False
    ) -> None:
        if step.effects:
            records = False
            for effect in step.effects:
                if isinstance(effect, RECORD_EFFECTS):
                    records = self._sent_records = True
                    break
            ctx = _ctx(event.message)
            if self._unconfirmed is None or not records:  # nothing to put back if refused
                await self._errors.send(
                    lambda: self._effects.emit(step.effects, ctx, case.partition), ctx
                )
            else:
                with deliveries.collect() as sent:
                    await self._errors.send(
                        lambda: self._effects.emit(step.effects, ctx, case.partition), ctx
                    )
                self._unconfirmed.track(sent, _Undo(case.case_id, case.stored, event))
        if keep:
            return  # a forgotten case's marker stays as it is
        if step.state is None and case.state is not None:
            # retention forgets the case: remember how far its clocks' cycles were numbered
            case.forgotten = {clock: track.cycles for clock, track in case.state.clocks.items()}
            case.next_due = None
        else:
            case.next_due = step.next_due
        case.state = step.state
        case.event = event

    async def _store(self, touched: dict[str, _Touched]) -> None:
        """Write every case the batch changed, once, under the event that last touched it."""
        for case_id, case in touched.items():
            if case.event is None:
                continue  # read, not changed (a due command for a case already handled)
            if self._filed_by_event:
                with _under(case.event):
                    await self._write(case_id, case)
            else:
                await self._write(case_id, case)

    async def _write(self, case_id: str, case: _Touched) -> None:
        partition, row = case.partition, case.row
        old_open, old_near = ([], []) if row is None else (row["open"], row["near"])
        if case.state is None:
            if case.forgotten and not case.expire:
                await self._write_marker(case_id, case)
            elif row is not None:
                await self.rows.delete(partition, case_id)
                self.index.set(partition, case_id, None)
            self._remember(case_id, None, None, None)
            if self._on_write is not None:
                self._on_write(partition, old_open, old_near, [], [])
            return
        open_, near = summarize(case.state)
        due = None if case.next_due is None else case.next_due.timestamp()
        if row is not None and case.state is case.loaded:
            state_json = row["s"]  # ignored or duplicate events only: the state is as read
        else:
            state_json = case.state.to_json()
        new: CaseRow = {"p": partition, "due": due, "open": open_, "near": near, "s": state_json}
        stored = case.stored
        if new != row:
            stored = encode_row(new)
            await self.rows.put(partition, case_id, stored)
        self._remember(case_id, stored, new, case.state)
        self.index.set(partition, case_id, due)
        if self._on_write is not None:
            self._on_write(partition, old_open, old_near, open_, near)

    async def _write_marker(self, case_id: str, case: _Touched) -> None:
        """Keep a forgotten case's cycle numbering for :data:`FORGOTTEN_KEEP` (a small row)."""
        if case.row is not None and case.row["s"] is None:
            return  # already a marker
        due = self._now().timestamp() + FORGOTTEN_KEEP.total_seconds()
        marker: CaseRow = {
            "p": case.partition,
            "due": due,
            "open": [],
            "near": [],
            "s": None,
            "forgotten": case.forgotten or {},
        }
        await self.rows.put(case.partition, case_id, encode_row(marker))
        self.index.set(case.partition, case_id, due)


class AtMessage:
    """A message standing in for the Faust event around it: what table writes and the log
    context read (``.message``), without a stream's event."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Message) -> None:
        self.message = message


@dataclass(frozen=True)
class _Undo:
    """What puts a case back as it was before a message: its row then, and the message."""

    case_id: str
    stored: bytes | None
    event: Carrier = field(repr=False)


class Unconfirmed:
    """Records sent and not yet confirmed by the broker, each with the :class:`_Undo` of its
    case. Confirmed ones are let go at :meth:`prune`, after each batch (when the flush before
    its rows has had every record answered), not by a done callback on every record."""

    def __init__(self) -> None:
        self._records: list[tuple[asyncio.Future[Any], _Undo]] = []

    def __len__(self) -> int:
        self.prune()
        return len(self._records)

    def track(self, sent: Iterable[asyncio.Future[Any]], undo: _Undo) -> None:
        """Keep ``undo`` until each of the ``sent`` records is confirmed."""
        self._records.extend((future, undo) for future in sent)

    def prune(self) -> None:
        """Let go of the records the broker confirmed."""
        self._records = [(future, undo) for future, undo in self._records if not _confirmed(future)]

    def refused(self) -> list[_Undo]:
        """One undo per case with a refused record: the earliest message's."""
        first: dict[str, _Undo] = {}
        for future, undo in self._records:
            if future.done() and not future.cancelled() and future.exception() is not None:
                first.setdefault(undo.case_id, undo)
        return list(first.values())


def _confirmed(record: asyncio.Future[Any]) -> bool:
    """Answered without an error (or cancelled: the producer stopped, nothing was refused)."""
    return record.done() and (record.cancelled() or record.exception() is None)


def revived(event: LifecycleEvent, numbering: dict[str, int]) -> CaseState:
    """A fresh state for a case retention forgot, its clocks' cycles numbered on.

    Without it the case's next cycle would be number 1 again, and its outcome id one that
    was already sent.
    """
    state = CaseState(event.case_id, event.case_kind)
    state.clocks = {clock: ClockTrack(cycles=n) for clock, n in numbering.items()}
    return state


class _collections_wait:  # a function in use: ``with _collections_wait():``
    """The cyclic garbage collector waits until the block (a batch) ends.

    A batch's objects (its cases' states, rows, records and their futures) live until it
    ends, so a collection in the middle walks them all and frees none of them: 9 % of a
    deadline storm's samples were collections in the middle of a batch (py-spy ``--native``,
    2026-12-07). Reference counting still frees everything that is not in a cycle at once;
    the first allocation after the batch starts the collection the batch put off. Nested and
    overlapping batches (the shadow's, Faust's agent path) keep it off until the last ends; a
    collector someone else turned off stays off.
    """

    _depth = 0
    _resume = False

    def __enter__(self) -> None:
        cls = _collections_wait
        if cls._depth == 0:
            cls._resume = gc.isenabled()
            gc.disable()
        cls._depth += 1

    def __exit__(self, *exc: object) -> None:
        cls = _collections_wait
        cls._depth -= 1
        if cls._depth == 0 and cls._resume:
            gc.enable()


class _under:  # a function in use: ``with _under(event):``
    """Table writes in this block go to ``event``'s partition (Faust reads the current event).

    A class, not a generator context manager: it runs once per case written."""

    __slots__ = ("_event",)

    def __init__(self, event: Carrier) -> None:
        self._event = event

    def __enter__(self) -> None:
        _current_event.set(weakref.ref(self._event))  # type: ignore[arg-type]  # reads .message

    def __exit__(self, *exc: object) -> None:
        _current_event.set(None)


def _value(message: Message) -> bytes:
    """The message's value; ValueError for a tombstone."""
    if message.value is None:
        raise ValueError("message has no value (tombstone)")
    return message.value


def _ctx(message: Message) -> LogContext:
    return {"topic": message.topic, "partition": message.partition, "offset": message.offset}
