"""One cycle of one clock: when it is due, whether it is paused, and how it ended.

A cycle runs from a start event until a stop, cancel or reset. Its pause and resume marks are
kept in event-time order, so a mark that arrives late is slotted in and everything is derived
again from the marks: the deadline, the warning times and, at the end, the counted elapsed and
paused time. Derived values are never stored, so the same marks always give the same answer.

States::

    running ──pause──▶ paused ──resume──▶ running
    running/paused ──deadline passes──▶ breached  (still open)
    open ──stop──▶ met (at or before the deadline) | met_late (after it)
    open ──cancel──▶ cancelled        open ──reset──▶ reset (a new cycle follows)

Deadlines: for ``elapsed`` and ``working`` limits every pause moves the deadline by exactly the
counted time it lasted; while a pause is open the deadline is unknown (None). For ``until``
limits the deadline is the promised instant and pauses do not move it: a promise to the
customer does not wait for the courier. Nothing here knows about cases, topics or records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, cast

from sla.calendar import Calendar
from sla.limits import Limit
from sla.policy import ClockTerms

__all__ = [
    "ClockStatus",
    "Closing",
    "Cycle",
    "Due",
    "EndKind",
    "Mark",
    "MarkKind",
    "format_time",
    "parse_time",
    "terms_from_json",
    "terms_to_json",
]

MarkKind = Literal["pause", "resume"]
EndKind = Literal["stop", "cancel", "reset"]
ClockStatus = Literal["running", "paused", "breached", "met", "met_late", "cancelled", "reset"]

#: At one instant a resume sorts before a pause: "resumed and paused again" stays paused.
_MARK_RANK: Final[dict[str, int]] = {"resume": 0, "pause": 1}
_END_STATUS: Final[dict[str, ClockStatus]] = {"cancel": "cancelled", "reset": "reset"}
_LIMIT_KINDS: Final = ("elapsed", "working", "until")
_ZERO: Final = timedelta(0)


#: Imported names as ``Final`` ones: compiled, those are C variables, the others dict lookups.
_UTC: Final = UTC
_DATETIME: Final = datetime
#: instant -> its :func:`format_time` text, for the instants written lately (bounded).
_FORMATTED: Final[dict[datetime, str]] = {}
_FORMATTED_SIZE: Final = 4096


def format_time(value: datetime) -> str:
    """An aware datetime as ISO-8601 in UTC, the form state and records are stored in.

    The worker writes a case's state after every event, and in it the same few instants (the
    event's time, the batch's ``now``, the cycles' starts) again and again; a conversion and
    ``isoformat`` cost about 11,000 instructions, a lookup of one already written a few
    hundred. Equal instants give equal text whatever their zone, so the text is remembered
    by instant (plain datetimes only: a subclass may format otherwise).

    >>> from datetime import timezone
    >>> format_time(datetime(2026, 1, 2, 11, 0, tzinfo=timezone(timedelta(hours=8))))
    '2026-01-02T03:00:00+00:00'
    """
    if type(value) is not _DATETIME:
        return value.astimezone(_UTC).isoformat()
    text = _FORMATTED.get(value)
    if text is None:
        text = _utc_iso(value if value.tzinfo is _UTC else value.astimezone(_UTC))
        if len(_FORMATTED) >= _FORMATTED_SIZE:
            _FORMATTED.clear()
        _FORMATTED[value] = text
    return text


#: "00" to "99": the two-digit fields of a formatted time.
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(100))


def _utc_iso(value: datetime) -> str:
    """``value.isoformat()`` of a plain datetime in UTC, from its fields.

    ``isoformat`` formats through ``PyUnicode_FromFormat`` and asks the zone for its offset
    and name: about 11,000 instructions, two or three times per event written (callgrind of
    bench/processor.py, 2026-12-07). Joined from two-digit strings, compiled, it is a tenth
    of that; the text is the same (``tests/sla/test_clock.py`` compares them).
    """
    year = value.year
    if year < 1000:
        return value.isoformat()  # isoformat pads the year; never seen in an event
    two = _TWO_DIGITS
    micro = value.microsecond
    fraction = "" if micro == 0 else "." + str(1_000_000 + micro)[1:]
    return (
        f"{year}-{two[value.month]}-{two[value.day]}T{two[value.hour]}:{two[value.minute]}"
        f":{two[value.second]}{fraction}+00:00"
    )


def parse_time(text: str) -> datetime:
    """The inverse of :func:`format_time`; refuses a time without an offset."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"stored time {text!r} has no UTC offset; the state was not written by us")
    return value.astimezone(UTC)


#: (limit, fraction) -> the limit times the fraction; a handful of pairs per policy.
_SCALED: Final[dict[tuple[timedelta, float], timedelta]] = {}


def _scaled(amount: timedelta, fraction: float) -> timedelta:
    """``amount * fraction``, remembered: a timedelta times a float takes the float apart
    into an integer ratio each time (0.3-0.4 µs), and each cycle asks for its warnings'
    due times again whenever its marks change."""
    if fraction == 1.0:
        return amount
    key = (amount, fraction)
    found = _SCALED.get(key)
    if found is None:
        found = amount * fraction
        if len(_SCALED) < 1024:
            _SCALED[key] = found
    return found


@dataclass(frozen=True, init=False)
class Mark:
    """A pause or resume of the cycle, at the time the event happened."""

    at: datetime
    kind: MarkKind
    event_id: str
    sequence: int | None = None

    def __init__(
        self, at: datetime, kind: MarkKind, event_id: str, sequence: int | None = None
    ) -> None:
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "event_id", event_id)
        object.__setattr__(self, "sequence", sequence)

    def key(self) -> tuple[datetime, int, int, str]:
        """Sort key: event time, the source's sequence, then resume before pause, event id."""
        return (self.at, self.order(), _MARK_RANK[self.kind], self.event_id)

    def order(self) -> int:
        """The source's sequence (``order_by``); marks without one go first at their instant."""
        return -1 if self.sequence is None else self.sequence


def _mark_time(mark: Mark) -> tuple[datetime, int]:
    return (mark.at, mark.order())


@dataclass(frozen=True, init=False)
class Due:
    """Something the cycle will do at ``at``: a warning at ``threshold``, or the breach (None)."""

    at: datetime
    threshold: float | None

    def __init__(self, at: datetime, threshold: float | None) -> None:
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "threshold", threshold)


@dataclass(frozen=True, init=False)
class Closing:
    """How a cycle ended, judged against its deadline with all its pauses taken into account."""

    kind: EndKind
    ended_at: datetime
    deadline: datetime
    elapsed: timedelta
    paused: timedelta
    late: bool
    status: ClockStatus

    def __init__(
        self,
        kind: EndKind,
        ended_at: datetime,
        deadline: datetime,
        elapsed: timedelta,
        paused: timedelta,
        late: bool,
        status: ClockStatus,
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "ended_at", ended_at)
        object.__setattr__(self, "deadline", deadline)
        object.__setattr__(self, "elapsed", elapsed)
        object.__setattr__(self, "paused", paused)
        object.__setattr__(self, "late", late)
        object.__setattr__(self, "status", status)

    @property
    def outcome(self) -> Literal["met", "breached", "cancelled", "reset"]:
        """The outcome written to ``sla.outcomes``: met late counts as breached."""
        if self.kind == "cancel":
            return "cancelled"
        if self.kind == "reset":
            return "reset"
        return "breached" if self.late else "met"


#: What a cycle's remembered due times were computed from: calendar, terms, start, promise,
#: marks, and the pause intervals those marks make (what the due times actually depend on).
_Basis = tuple[
    Calendar,
    ClockTerms,
    datetime,
    datetime | None,
    list[Mark],
    list[tuple[datetime, datetime | None]],
]


@dataclass(init=False)
class Cycle:
    """One cycle of one clock on one case, with the terms fixed when it started.

    Attributes:
        number: 1 for the first cycle, +1 for every restart (reopen, reset, tracking scan).
        started_at: the start event's own time (UTC).
        start_event_id: the event that started it.
        start_sequence: that event's source sequence (``order_by``), if it had one.
        policy_version: the policy version that judges this cycle.
        terms: limit, calendar, target, standard and warning thresholds from the policy.
        fixed_deadline: the promised instant for ``until`` limits, else None.
        clock_team: the clock's default team, used when the case names none.
        marks: pause and resume marks in event-time order.
        warned: thresholds already passed (warned, or passed over by a later warning or breach).
        breach_emitted: the breach record was sent.
    """

    number: int
    started_at: datetime
    start_event_id: str | None
    policy_version: str
    terms: ClockTerms
    fixed_deadline: datetime | None = None
    clock_team: str | None = None
    marks: list[Mark] = field(default_factory=list)
    warned: list[float] = field(default_factory=list)
    breach_emitted: bool = False
    start_sequence: int | None = None
    #: Due times already computed (fraction -> instant), valid while ``_memo_basis`` matches.
    _memo: dict[float, datetime | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _memo_basis: _Basis | None = field(default=None, init=False, repr=False, compare=False)
    #: The key ``marks`` were last sorted by, their number and the last one then: while they
    #: still hold, a mark that sorts after the last is appended without sorting them again.
    _marks_order: tuple[Callable[[Mark], tuple[Any, ...]], int, Mark] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    #: :meth:`pending` for (a copy of warned, breach_emitted), valid with the memo of due times.
    _pending: tuple[list[float], bool, tuple[Due, ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    #: ``started_at`` and its stored text, written once per cycle rather than per event.
    _started_text: tuple[datetime, str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __init__(
        self,
        number: int,
        started_at: datetime,
        start_event_id: str | None,
        policy_version: str,
        terms: ClockTerms,
        fixed_deadline: datetime | None = None,
        clock_team: str | None = None,
        marks: list[Mark] | None = None,
        warned: list[float] | None = None,
        breach_emitted: bool = False,
        start_sequence: int | None = None,
    ) -> None:
        self.number = number
        self.started_at = started_at
        self.start_event_id = start_event_id
        self.policy_version = policy_version
        self.terms = terms
        self.fixed_deadline = fixed_deadline
        self.clock_team = clock_team
        self.marks = [] if marks is None else marks
        self.warned = [] if warned is None else warned
        self.breach_emitted = breach_emitted
        self.start_sequence = start_sequence
        self._memo = {}
        self._memo_basis = None
        self._marks_order = None
        self._pending = None
        self._started_text = None

    def add_mark(self, mark: Mark, source_order: bool = False) -> bool:
        """Slot ``mark`` in by event time; False when the same event already marked the cycle.

        At one instant a resume goes before a pause (:meth:`Mark.key`); with ``source_order``
        marks of one instant keep the order they were added in (a stable sort by time).
        """
        marks = self.marks
        for other in marks:
            if other.event_id == mark.event_id and other.kind == mark.kind:
                return False
        key: Callable[[Mark], tuple[Any, ...]] = _mark_time if source_order else Mark.key
        last = marks[-1] if marks else None
        marks.append(mark)
        if (
            last is None
            or self._marks_order != (key, len(marks) - 1, last)
            or key(mark) < key(last)
        ):
            marks.sort(key=key)  # not simply a later mark on marks sorted by this key
        self._marks_order = (key, len(marks), marks[-1])
        return True

    def pauses(self, end: datetime | None = None) -> list[tuple[datetime, datetime | None]]:
        """Pause intervals in order; an open one ends at ``end``, or is open (None) without it.

        A pause while paused and a resume while running change nothing. Marks after ``end``
        are left out.
        """
        intervals: list[tuple[datetime, datetime | None]] = []
        opened: datetime | None = None
        for mark in self.marks:
            if end is not None and mark.at > end:
                break
            if mark.kind == "pause":
                if opened is None:
                    opened = mark.at
            elif opened is not None:
                intervals.append((opened, mark.at))
                opened = None
        if opened is not None:
            intervals.append((opened, end))
        return intervals

    def is_paused(self) -> bool:
        """Whether the latest pause has not been resumed."""
        intervals = self.pauses()
        return bool(intervals) and intervals[-1][1] is None

    def limit_amount(self, calendar: Calendar) -> timedelta:
        """The limit in counted time (``until`` limits: the time from start to the promise)."""
        limit = self.terms.limit
        if self.fixed_deadline is not None:
            return self.fixed_deadline - self.started_at
        if limit.working_days is not None:
            return calendar.working_days(limit.working_days)
        if limit.duration is None:
            raise ValueError(f"limit {limit.text!r} has neither a duration nor working days")
        return limit.duration

    def due_at(
        self, calendar: Calendar, fraction: float = 1.0, end: datetime | None = None
    ) -> datetime | None:
        """When ``fraction`` of the limit is used up, counting around the pauses.

        Walks the pauses in order: each pause that starts before the running due time uses
        up the counted time before it and restarts counting when it ends. None while an open
        pause (``end`` not given) started before the due time.

        The engine asks for the same due times after every event of the case and every timer,
        so the open cycle's answers (``end`` not given) are remembered until anything they
        depend on changes: the calendar, the terms, the start, the promise or the marks.

        Args:
            calendar: the calendar the limit is counted on.
            fraction: 1.0 for the deadline, e.g. 0.8 for the 80 % warning.
            end: the cycle's end, if it ended: a pause still open then ends there.
        """
        if end is not None:
            return self._compute_due_at(calendar, fraction, end)
        memo = self._memo_for(calendar)
        if fraction in memo:
            return memo[fraction]
        # The deadline asked for first (a cycle's start) brings its warnings along: the
        # warnings asked for next would walk the same working days again.
        self._due_together(calendar)
        if fraction in memo:
            return memo[fraction]
        due = memo[fraction] = self._compute_due_at(calendar, fraction, None)
        return due

    def _memo_for(self, calendar: Calendar) -> dict[float, datetime | None]:
        """The memo of due times, emptied when what they were computed from has changed.

        New marks that leave the pause intervals as they were (a resume while running, a
        pause while paused: "resume: other" adds one on most events) keep the memo: the due
        times depend on the intervals, not on the marks.
        """
        basis = self._memo_basis
        if (
            basis is not None
            and basis[0] is calendar
            and basis[1] is self.terms
            and basis[2] is self.started_at
            and basis[3] is self.fixed_deadline
        ):
            if basis[4] == self.marks:
                return self._memo
            pauses = self.pauses()
            if basis[5] == pauses:
                self._memo_basis = (
                    calendar,
                    basis[1],
                    basis[2],
                    basis[3],
                    list(self.marks),
                    pauses,
                )
                return self._memo
        else:
            pauses = self.pauses()
        self._memo_basis = (
            calendar,
            self.terms,
            self.started_at,
            self.fixed_deadline,
            list(self.marks),
            pauses,
        )
        self._memo = {}
        self._pending = None
        return self._memo

    def _due_together(self, calendar: Calendar) -> None:
        """Remember the deadline and the warnings still to come in one pass of the calendar
        (:meth:`Calendar.add_each`), when nothing pauses the cycle: each :meth:`due_at` apart
        walks the same working days from the start again."""
        if self.fixed_deadline is not None or self.breach_emitted:
            return
        memo = self._memo_for(calendar)
        basis = self._memo_basis
        if basis is None or basis[5]:
            return  # paused: each due time is counted around the pauses
        fractions = [1.0] if 1.0 not in memo else []
        for threshold in self.terms.warn_at:
            if threshold not in self.warned and threshold not in memo:
                fractions.append(threshold)
        if len(fractions) < 2:
            return
        fractions.sort()  # the amounts ascend with them
        limit = self.limit_amount(calendar)
        amounts = [_scaled(limit, fraction) for fraction in fractions]
        dues = calendar.add_each(self.started_at, amounts)
        for n, fraction in enumerate(fractions):
            memo[fraction] = dues[n]

    def _compute_due_at(
        self, calendar: Calendar, fraction: float, end: datetime | None
    ) -> datetime | None:
        if self.fixed_deadline is not None:
            if fraction == 1.0:
                return self.fixed_deadline
            return self.started_at + (self.fixed_deadline - self.started_at) * fraction
        at, remaining = self.started_at, _scaled(self.limit_amount(calendar), fraction)
        for paused_at, resumed_at in self.pauses(end):
            due = calendar.add(at, remaining)
            if paused_at >= due:
                return due
            remaining -= calendar.between(at, paused_at)
            if resumed_at is None:
                return None
            at = resumed_at
        return calendar.add(at, remaining)

    def pending(self, calendar: Calendar) -> list[Due]:
        """Warnings and the breach still to come, in time order; empty while paused.

        Once the breach is sent no warning follows it, even if a late pause moved the deadline.
        """
        return list(self.pending_dues(calendar))

    def pending_dues(self, calendar: Calendar) -> tuple[Due, ...]:
        """:meth:`pending` as the remembered tuple, not copied: the engine only reads it."""
        self._memo_for(calendar)  # drops a stale answer
        cached = self._pending
        if cached is not None and cached[1] == self.breach_emitted and cached[0] == self.warned:
            return cached[2]
        dues = tuple(self._compute_pending(calendar))
        self._pending = (self.warned.copy(), self.breach_emitted, dues)
        return dues

    def _compute_pending(self, calendar: Calendar) -> list[Due]:
        deadline = self.due_at(calendar)
        if deadline is None or self.breach_emitted:
            return []
        dues: list[Due] = []
        for threshold in self.terms.warn_at:
            if threshold in self.warned:
                continue
            due = self.due_at(calendar, threshold)
            if due is not None:
                dues.append(Due(due, threshold))
        dues.append(Due(deadline, None))
        dues.sort(key=lambda d: (d.at, 2.0 if d.threshold is None else d.threshold))
        return dues

    def status(self, calendar: Calendar, now: datetime) -> ClockStatus:
        """The state of the open cycle at ``now``: running, paused or breached."""
        if self.breach_emitted:
            return "breached"
        deadline = self.due_at(calendar)
        if deadline is not None and now >= deadline:
            return "breached"
        return "paused" if self.is_paused() else "running"

    def close(self, calendar: Calendar, at: datetime, kind: EndKind) -> Closing:
        """Judge the cycle as ended at ``at`` by a ``kind`` event.

        A pause still open at the end stops counting there. Met means ``at <= deadline``.
        """
        deadline = self.due_at(calendar, 1.0, end=at)
        if deadline is None:  # cannot happen: every pause is closed at ``at``
            raise AssertionError("a closed cycle has a deadline")
        paused = sum(
            (calendar.between(p0, p1 or at) for p0, p1 in self.pauses(end=at)),
            start=_ZERO,
        )
        elapsed = max(calendar.between(self.started_at, at) - paused, _ZERO)
        late = at > deadline
        if kind == "stop":
            status: ClockStatus = "met_late" if late else "met"
        else:
            status = _END_STATUS[kind]
        return Closing(kind, at, deadline, elapsed, paused, late, status)

    def clone(self) -> Cycle:
        """A copy that can change without changing this one (it keeps the memo of due times).

        The attributes are taken over and the mutable ones copied.
        """
        copy = Cycle(
            self.number,
            self.started_at,
            self.start_event_id,
            self.policy_version,
            self.terms,
            self.fixed_deadline,
            self.clock_team,
            self.marks.copy(),
            self.warned.copy(),
            self.breach_emitted,
            self.start_sequence,
        )
        # The memo's basis is never mutated (it is replaced when stale), so it is shared.
        copy._memo = self._memo.copy()
        copy._memo_basis = self._memo_basis
        copy._marks_order = self._marks_order
        copy._pending = self._pending
        copy._started_text = self._started_text
        return copy

    def precedes_start(self, at: datetime, sequence: int | None) -> bool:
        """Whether an event at ``at`` came before this cycle's start: earlier, or at the same
        instant with a lower source sequence than the start's."""
        if at != self.started_at:
            return at < self.started_at
        if sequence is None or self.start_sequence is None:
            return False
        return sequence < self.start_sequence

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (str, int, float, bool, None, list, dict only)."""
        data = self._json()
        if self.start_sequence is not None:  # absent in states written before sequences existed
            data["start_sequence"] = self.start_sequence
        return data

    def _json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "started_at": self._started_json(),
            "start_event_id": self.start_event_id,
            "policy_version": self.policy_version,
            "terms": _shared_terms_json(self.terms),
            "fixed_deadline": (
                None if self.fixed_deadline is None else format_time(self.fixed_deadline)
            ),
            "clock_team": self.clock_team,
            "marks": [_mark_json(m) for m in self.marks],
            "warned": list(self.warned),
            "breach_emitted": self.breach_emitted,
        }

    def _started_json(self) -> str:
        """``format_time(started_at)``, kept while ``started_at`` is the same object."""
        known = self._started_text
        if known is not None and known[0] is self.started_at:
            return known[1]
        text = format_time(self.started_at)
        self._started_text = (self.started_at, text)
        return text

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cycle:
        """Rebuild a cycle written by :meth:`to_json`."""
        fixed = data["fixed_deadline"]
        marks: list[Mark] = []
        for at, kind, event_id, *sequence in data["marks"]:
            if kind not in _MARK_RANK:
                raise ValueError(f"stored mark kind {kind!r} is neither 'pause' nor 'resume'")
            order = int(sequence[0]) if sequence else None
            marks.append(Mark(parse_time(at), cast(MarkKind, kind), event_id, order))
        # the class named, arguments by position: compiled, a native constructor call
        return Cycle(
            int(data["number"]),
            parse_time(data["started_at"]),
            data["start_event_id"],
            data["policy_version"],
            terms_from_json(data["terms"]),
            None if fixed is None else parse_time(fixed),
            data["clock_team"],
            marks,
            [float(t) for t in data["warned"]],
            bool(data["breach_emitted"]),
            data.get("start_sequence"),
        )


def _mark_json(mark: Mark) -> list[Any]:
    """``[at, kind, event_id]``, plus the sequence when the source gave one."""
    row: list[Any] = [format_time(mark.at), mark.kind, mark.event_id]
    return row if mark.sequence is None else [*row, mark.sequence]


def terms_to_json(terms: ClockTerms) -> dict[str, Any]:
    """JSON-safe form of the terms, complete enough to rebuild them without re-parsing."""
    limit = terms.limit
    return {
        "limit": {
            "kind": limit.kind,
            "text": limit.text,
            "seconds": None if limit.duration is None else limit.duration.total_seconds(),
            "working_days": limit.working_days,
            "attribute": limit.attribute,
        },
        "calendar": terms.calendar,
        "target": terms.target,
        "standard": terms.standard,
        "warn_at": list(terms.warn_at),
    }


#: id(terms) -> (terms, their JSON): see :func:`_shared_terms_json`.
_TERMS_JSON: Final[dict[int, tuple[ClockTerms, dict[str, Any]]]] = {}
_TERMS_JSON_SIZE: Final = 1024


def _shared_terms_json(terms: ClockTerms) -> dict[str, Any]:
    """:func:`terms_to_json`, one dict per terms object, shared by every state that holds them.

    Terms objects are few (one per clock and matched rule of a policy) and every open cycle
    writes its terms with its state after each event of its case. The entry holds the terms,
    so their id cannot be reused while it stands. The dict is never changed in place: states
    are written as JSON and read back, never edited.
    """
    found = _TERMS_JSON.get(id(terms))
    if found is not None and found[0] is terms:
        return found[1]
    data = terms_to_json(terms)
    if len(_TERMS_JSON) >= _TERMS_JSON_SIZE:
        _TERMS_JSON.clear()
    _TERMS_JSON[id(terms)] = (terms, data)
    return data


#: The JSON values of terms read back -> the terms built from them (bounded): see below.
_TERMS_READ: Final[dict[tuple[Any, ...], ClockTerms]] = {}
_TERMS_READ_SIZE: Final = 1024


def terms_from_json(data: dict[str, Any]) -> ClockTerms:
    """Rebuild terms written by :func:`terms_to_json`.

    Terms are few (one per clock and matched rule) and every state read back holds them, so
    equal JSON gives the same (frozen) terms object: building one took about 27,000
    instructions (two dataclass constructors), and the engine's memos are keyed by the
    object.
    """
    raw = data["limit"]
    key = (
        raw["kind"],
        raw["text"],
        raw["seconds"],
        raw["working_days"],
        type(raw["working_days"]),  # kept as read (3 and 3.0 are equal keys, not equal JSON)
        raw["attribute"],
        data["calendar"],
        data["target"],
        data["standard"],
        tuple(data["warn_at"]),
    )
    found = _TERMS_READ.get(key)
    if found is not None:
        return found
    terms = _build_terms(data)
    if len(_TERMS_READ) >= _TERMS_READ_SIZE:
        _TERMS_READ.clear()
    _TERMS_READ[key] = terms
    return terms


def _build_terms(data: dict[str, Any]) -> ClockTerms:
    raw = data["limit"]
    kind = raw["kind"]
    if kind not in _LIMIT_KINDS:
        raise ValueError(f"stored limit kind {kind!r} is not one of {', '.join(_LIMIT_KINDS)}")
    seconds = raw["seconds"]
    limit = Limit(
        kind=cast(Literal["elapsed", "working", "until"], kind),
        text=raw["text"],
        duration=None if seconds is None else timedelta(seconds=seconds),
        working_days=raw["working_days"],
        attribute=raw["attribute"],
    )
    return ClockTerms(
        limit=limit,
        calendar=data["calendar"],
        target=float(data["target"]),
        standard=data["standard"],
        warn_at=tuple(float(t) for t in data["warn_at"]),
    )
