"""Event-time replay: drive the engine with recorded events, so history runs faster than real time.

The live worker calls ``Engine.apply`` with the wall clock as ``now`` and ``Engine.advance`` when
a deadline index wakes up. Replay calls the very same two methods; only "now" differs. Here
it is the *watermark*: the latest event time seen minus the policy's allowed lateness. Events
later than that are still ordered in by the engine; timers whose due time the watermark has
passed fire in due-time order, each with ``now`` set to its own due time (what a perfect live
timer would do). Time only moves forward (a :class:`~sla.timesource.ManualTime`), so years of
history take as long as the engine needs to process the events, not as long as they took.

:class:`Replay` is incremental (``feed`` one event at a time) so a progress bar, an explain
view or the live worker can use it; :func:`replay` is the one-call form. Pure: no I/O.

Example:
    >>> from datetime import timedelta
    >>> driver = Replay(engine, allowed_lateness=timedelta(minutes=5))  # doctest: +SKIP
    >>> for event in sort_events(events):  # doctest: +SKIP
    ...     for item in driver.feed(event):
    ...         print(item.effect)
    >>> driver.open_clocks()  # doctest: +SKIP
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sla.case import CaseState, ClockTrack
from sla.effects import (
    RECORD_EFFECTS,
    Breached,
    BreachRetracted,
    ClockEnded,
    ClockStarted,
    Effect,
    EventIgnored,
)
from sla.engine import Engine, Step
from sla.events import LifecycleEvent
from sla.readmodels.reports import OpenClock
from sla.records import ClockRef
from sla.timesource import ManualTime
from sla.zones import utc

#: ``UTC`` as a ``Final`` name: compiled, it is a C variable instead of a dict lookup per use.
_UTC: Final = UTC

__all__ = [
    "Emitted",
    "Replay",
    "event_order",
    "replay",
    "sort_events",
]


@dataclass(frozen=True, init=False)
class Emitted:
    """One effect, with what caused it.

    Attributes:
        case_id: the case whose clock produced it.
        at: the ``now`` the engine was called with (the watermark, or a timer's due time).
        effect: the engine's effect value.
        event: the event being applied, or None when time passing caused it.
    """

    case_id: str
    at: datetime
    effect: Effect
    event: LifecycleEvent | None

    def __init__(
        self, case_id: str, at: datetime, effect: Effect, event: LifecycleEvent | None
    ) -> None:
        object.__setattr__(self, "case_id", case_id)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "effect", effect)
        object.__setattr__(self, "event", event)


def sort_events(events: Iterable[LifecycleEvent]) -> list[LifecycleEvent]:
    """Events in event-time order, then ``sequence``; ties keep their input order (stable).

    Recorded logs are usually grouped by case, not ordered by time; replaying them as read
    would push the watermark years ahead after the first case.
    """
    return sorted(events, key=event_order)


def event_order(event: LifecycleEvent) -> tuple[datetime, int]:
    """Sort key: event time, then the source's ``sequence`` (events without one first)."""
    return (event.occurred_at.astimezone(_UTC), -1 if event.sequence is None else event.sequence)


@dataclass(init=False)
class _Open:
    ref: ClockRef
    started_at: datetime
    deadline: datetime | None
    breached: bool = False

    def __init__(
        self, ref: ClockRef, started_at: datetime, deadline: datetime | None, breached: bool = False
    ) -> None:
        self.ref = ref
        self.started_at = started_at
        self.deadline = deadline
        self.breached = breached


class Replay:
    """Feeds events to an engine in event time and fires timers as the watermark passes them.

    Args:
        engine: the engine (live and replay share it, so the same events give the same outcomes).
        allowed_lateness: how far the watermark trails the latest event time.
        listener: called with every :class:`Emitted`, as well as returned from ``feed``.
    """

    def __init__(
        self,
        engine: Engine,
        allowed_lateness: timedelta,
        *,
        listener: Callable[[Emitted], None] | None = None,
    ) -> None:
        if allowed_lateness < timedelta(0):
            raise ValueError(f"allowed_lateness must not be negative, got {allowed_lateness}")
        self._engine = engine
        self._lateness = allowed_lateness
        self._listener = listener
        self._time: ManualTime | None = None
        self._states: dict[str, CaseState] = {}
        self._due: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, int, str]] = []
        #: Case -> the due times of its heap entries not popped yet: one entry per pair is
        #: enough. A short list, not a set of pairs: hashing an aware datetime asks its zone
        #: for the offset, comparing two in UTC does not (3 % of a replay, py-spy).
        self._queued: dict[str, list[datetime]] = {}
        self._seq = 0
        self._open: dict[tuple[str, str, int], _Open] = {}
        #: Case id -> clock id -> cycles numbered, for cases retention forgot.
        self._forgotten: dict[str, dict[str, int]] = {}
        #: Cases retention forgot that got events again (their cycles are numbered on).
        self.revived = 0
        self.events = 0
        self.latest: datetime | None = None

    # -- inspection ---------------------------------------------------------------------------

    @property
    def watermark(self) -> datetime | None:
        """The latest event time minus the allowed lateness; None before the first event."""
        return None if self._time is None else self._time.now()

    @property
    def states(self) -> Mapping[str, CaseState]:
        """Case id -> the engine's state for every case it still keeps."""
        return self._states

    def open_clocks(self) -> list[OpenClock]:
        """Cycles still running now; ``breached`` when their breach has fired (deadline passed)."""
        return [
            OpenClock(ref=o.ref, started_at=o.started_at, deadline=o.deadline, breached=o.breached)
            for o in self._open.values()
        ]

    # -- driving ------------------------------------------------------------------------------

    def feed(self, event: LifecycleEvent) -> list[Emitted]:
        """Apply one event: first fire what the new watermark makes due, then the event."""
        self.events += 1
        fields = event.__dict__  # one read; each field read on a pydantic model is a lookup
        case_id: str = fields["case_id"]
        out = self.tick(fields["occurred_at"])
        assert self._time is not None
        now = self._time.now()
        state = self._states.get(case_id)
        if state is None and case_id in self._forgotten:
            state = self._revive(event)
        step = self._engine.apply(state, event, now)
        self._take(case_id, step, now, event, out)
        if self._heap and self._heap[0][0] <= now:  # the step scheduled something due now
            self._fire(now, out)
        return out

    def _revive(self, event: LifecycleEvent) -> CaseState:
        """A fresh state for a case retention forgot, numbering its cycles on.

        Without it the case's next cycle would be number 1 again, and its outcome id one that
        already exists. Counted in :attr:`revived`.
        """
        numbering = self._forgotten.pop(event.case_id)
        self.revived += 1
        state = CaseState(event.case_id, event.case_kind)
        state.clocks = {clock: ClockTrack(cycles=n) for clock, n in numbering.items()}
        return state

    def tick(self, event_time: datetime) -> list[Emitted]:
        """Move the watermark as an event at ``event_time`` would, without applying one.

        Explaining one case replays only its events but ticks for every other event, so its
        timers fire exactly when they would in a full replay.
        """
        event_time = utc(event_time, "occurred_at")  # the engine's conversion of it is kept
        if self.latest is None or event_time > self.latest:
            self.latest = event_time
        mark = event_time - self._lateness
        out: list[Emitted] = []
        if self._time is None:
            self._time = ManualTime(mark)
        elif mark > self._time.now():
            self._fire(mark, out)
            self._time.set(mark)
        return out

    def advance_to(self, when: datetime) -> list[Emitted]:
        """Move the watermark to ``when`` (if later) and fire everything due by then."""
        out: list[Emitted] = []
        if self._time is None:
            self._time = ManualTime(when)
        self._fire(when, out)
        self._time.set(when)
        return out

    def _fire(self, until: datetime, out: list[Emitted]) -> None:
        """Fire every timer due at or before ``until``, earliest first, at its own due time."""
        assert self._time is not None
        while self._heap and self._heap[0][0] <= until:
            due, _, case_id = heapq.heappop(self._heap)
            queued = self._queued[case_id]
            queued.remove(due)
            if not queued:
                del self._queued[case_id]
            if self._due.get(case_id) != due or case_id not in self._states:
                continue  # superseded by a later step of the same case
            del self._due[case_id]
            self._time.set(due)
            now = self._time.now()
            step = self._engine.advance(self._states[case_id], now)
            self._take(case_id, step, now, None, out)

    def _take(
        self,
        case_id: str,
        step: Step,
        now: datetime,
        event: LifecycleEvent | None,
        out: list[Emitted],
    ) -> None:
        if step.state is None:
            forgotten = self._states.pop(case_id, None)
            self._due.pop(case_id, None)
            if isinstance(forgotten, CaseState):
                numbering = {k: t.cycles for k, t in forgotten.clocks.items() if t.cycles}
                if numbering:
                    self._forgotten[case_id] = numbering
        else:
            self._states[case_id] = step.state
            if step.next_due is None:
                self._due.pop(case_id, None)
            else:
                due = step.next_due.astimezone(_UTC)
                self._due[case_id] = due
                # A case fires at its first entry still queued for its due time (a later one
                # for the same time finds it fired), so that entry keeps its place: pushing
                # another would only add one more to pop.
                queued = self._queued.get(case_id)
                if queued is None:
                    queued = self._queued[case_id] = []
                if due not in queued:
                    queued.append(due)
                    self._seq += 1
                    heapq.heappush(self._heap, (due, self._seq, case_id))
        for effect in step.effects:
            if type(effect) is not EventIgnored:  # the most common effect; it opens nothing
                self._track(effect)
            emitted = Emitted(case_id=case_id, at=now, effect=effect, event=event)
            out.append(emitted)
            if self._listener is not None:
                self._listener(emitted)

    def _track(self, effect: Effect) -> None:
        """Keep the set of open cycles up to date, for :meth:`open_clocks`."""
        if isinstance(effect, ClockStarted):
            ref = effect.ref
            key = (ref.case_id, ref.clock, ref.cycle)
            self._open[key] = _Open(ref, effect.started_at, effect.deadline)
            return
        if isinstance(effect, RECORD_EFFECTS):
            record = effect.record
            key = (record.case_id, record.clock, record.cycle)
            if isinstance(effect, ClockEnded):
                self._open.pop(key, None)
                return
            current = self._open.get(key)
            if current is None:
                return
            current.deadline = record.deadline
            if isinstance(effect, Breached):
                current.breached = True
            elif isinstance(effect, BreachRetracted):
                current.breached = False


def replay(
    events: Iterable[LifecycleEvent],
    engine: Engine,
    allowed_lateness: timedelta,
    *,
    presorted: bool = False,
) -> Iterator[Emitted]:
    """Every effect of replaying ``events`` in event time, in the order they happen.

    Args:
        events: the recorded events, in any order unless ``presorted``.
        engine: the engine to drive.
        allowed_lateness: how far the watermark trails the latest event time.
        presorted: the events already come in time order; stream them without sorting.
    """
    driver = Replay(engine, allowed_lateness)
    ordered = events if presorted else sort_events(events)
    for event in ordered:
        yield from driver.feed(event)
