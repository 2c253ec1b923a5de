"""The case engine: every clock of one case, driven by lifecycle events and by time.

:meth:`Engine.apply` takes the stored state of one case and one event, :meth:`Engine.advance`
the state and the current time. Both return a :class:`Step`: the new state, the effects to
carry out (records to send, counters to bump) and the next instant the case needs attention.
No I/O happens here: the Faust agent stores the state, sends the records and schedules the
next call, and tests drive time by hand.

Rules, in the order one event is handled for each clock that knows its type:
cancel → reset → stop → pause/resume → start. An event in both a clock's stop and start lists
ends the running cycle and starts the next one (tracking scans). Clocks count from the event's
own time; events for a running cycle are slotted in by event time; events for a cycle whose
outcome was sent are ignored as late; a stop, pause or resume with no cycle to act on waits up
to the policy's ``allowed_lateness`` for its start. See ``docs/design.md`` (Time semantics).

Policy changes (``docs/design.md``, Policy changes): a cycle keeps the terms and the policy
version it started with. When the engine first touches a case (an event or a timer) it reviews
the case's open cycles against its own policy: a cycle of a clock the policy no longer has is
ended as ``cancelled``; with ``reevaluate=True`` a cycle started under another version takes
the terms the current policy gives for its start and records the current version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from sla.calendar import Calendar, ElapsedCalendar, build_calendars
from sla.case import (
    SEEN_LIMIT,
    STATE_FORMAT,
    CaseEvent,
    CaseState,
    ClockTrack,
    EndedCycle,
    OpenCycleKey,
    Orphan,
    open_cycle_keys,
)
from sla.clock import Closing, Cycle, EndKind, Mark, MarkKind
from sla.effects import (
    Breached,
    BreachRetracted,
    ClockEnded,
    ClockStarted,
    Effect,
    EventIgnored,
    WarningDue,
)
from sla.events import LifecycleEvent
from sla.policy import (
    FIRST_EVENT,
    OTHER_EVENT,
    AttributeFilter,
    ClockPolicy,
    ClockTerms,
    PolicySpec,
    matches,
)
from sla.records import (
    BreachRecord,
    ClockRef,
    OpenCycleRecord,
    OutcomeRecord,
    WarningRecord,
    breach_id,
    outcome_id,
    warning_id,
)
from sla.trusted import record
from sla.zones import utc

__all__ = [
    "DEFAULT_RETENTION",
    "SEEN_LIMIT",
    "STATE_FORMAT",
    "CaseState",
    "ClockTrack",
    "EndedCycle",
    "Engine",
    "Orphan",
    "Step",
]

#: How long an idle case is kept by default (see :class:`Engine`).
DEFAULT_RETENTION: Final = timedelta(days=7)
_ELAPSED: Final = ElapsedCalendar()
_ROLES: Final = ("start", "stop", "pause", "resume", "cancel", "reset")
_ORPHAN_ROLES: Final = frozenset({"stop", "pause", "resume", "cancel"})
#: The order one event is handled in for one clock: cancel, reset, stop, then pause/resume.
_END_ROLES: Final[tuple[EndKind, ...]] = ("cancel", "reset", "stop")
_MARK_KINDS: Final[tuple[MarkKind, ...]] = ("resume", "pause")
_START: Final = frozenset({"start"})
_RESUME: Final = frozenset({"resume"})
_MARK_ROLES: Final = frozenset(_MARK_KINDS)
_NO_ROLES: Final[frozenset[str]] = frozenset()
#: (role, event) pairs that are keywords, not event types: start: first_event, resume: other.
_KEYWORDS: Final = frozenset({("start", FIRST_EVENT), ("resume", OTHER_EVENT)})


def _order(sequence: int | None) -> int:
    """A source sequence as a sort key: events without one go first at their instant."""
    return -1 if sequence is None else sequence


def _could_match(filter_: AttributeFilter, attributes: Mapping[str, Any]) -> bool:
    """Like :func:`sla.policy.matches`, but an attribute not known yet does not rule a clock out."""
    for name, accepted in filter_.items():
        value = attributes.get(name)
        if value is not None and str(value) not in accepted:
            return False
    return True


def _as_text(value: Any) -> str | None:
    """An attribute value as a filter compares it (:func:`sla.policy.matches`)."""
    return None if value is None else str(value)


def _own_running(case: CaseState, clock_id: str) -> tuple[ClockTrack, Cycle]:
    """The track of a clock with a running cycle, this step's own to change (copy on write)."""
    track = case.own(clock_id)
    if track.running is None:
        raise AssertionError(f"clock {clock_id} has no running cycle")
    return track, track.running


@dataclass(frozen=True, init=False)
class Step:
    """The result of one engine call.

    Attributes:
        state: the new state to store, or None to forget the case (delete it).
        effects: what to send and count, in a deterministic order.
        next_due: when to call :meth:`Engine.advance` next, or None for "only on an event".
    """

    state: CaseState | None
    effects: list[Effect]
    next_due: datetime | None

    def __init__(
        self, state: CaseState | None, effects: list[Effect], next_due: datetime | None
    ) -> None:
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "effects", effects)
        object.__setattr__(self, "next_due", next_due)


#: Distinct (clock, override inputs) answers remembered; beyond it terms are worked out anew.
_TERMS_MEMO_SIZE: Final = 4096


@dataclass(frozen=True)
class _TermsBasis:
    """What a clock's overrides look at when a cycle starts (see ``Engine._terms_for``).

    ``names``: the attributes their filters name. ``periods``: (special period, calendar)
    for every ``during`` override and every calendar the terms could be on by then (an
    earlier override may change the calendar whose zone dates the period).
    """

    names: tuple[str, ...]
    periods: tuple[tuple[str, str | None], ...]
    #: Each period's (first instant, first instant after) in UTC, in the order of ``periods``.
    spans: tuple[tuple[datetime, datetime], ...]

    @classmethod
    def of(cls, policy: ClockPolicy, spec: PolicySpec) -> _TermsBasis:
        overrides = policy.overrides
        names = sorted({name for o in overrides for name in o.when})
        calendars = [policy.calendar] + [o.calendar for o in overrides if o.calendar]
        periods = tuple(
            dict.fromkeys(
                (o.during, calendar)
                for o in overrides
                if o.during is not None
                for calendar in dict.fromkeys(calendars)
            )
        )
        spans = tuple(spec.period_span(name, calendar) for name, calendar in periods)
        return cls(tuple(names), periods, spans)


@dataclass(frozen=True)
class _Rules:
    """One clock policy, indexed by event type: event type -> ((role, condition filter), ...).

    ``first`` and ``other`` hold the filters of ``start: first_event`` and ``resume: other``.
    """

    policy: ClockPolicy
    by_type: Mapping[str, tuple[tuple[str, AttributeFilter], ...]]
    first: tuple[AttributeFilter, ...] = ()
    other: tuple[AttributeFilter, ...] = ()
    #: Event type -> its roles, for the types whose conditions have no attribute filter (the
    #: roles are then the same for every event of the type; :meth:`roles` runs per event).
    fixed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: ``first`` / ``other`` hold a condition without a filter: it matches every event.
    first_always: bool = False
    other_always: bool = False
    #: ``policy.id``, read where every event is applied: an attribute of a pydantic model
    #: goes through its ``__getattr__`` hook (about 250 instructions), this one does not.
    clock_id: str = ""

    @classmethod
    def of(cls, policy: ClockPolicy) -> _Rules:
        by_type: dict[str, list[tuple[str, AttributeFilter]]] = {}
        first = tuple(c.when for c in policy.start if c.event == FIRST_EVENT)
        other = tuple(c.when for c in policy.resume if c.event == OTHER_EVENT)
        for role in _ROLES:
            for condition in getattr(policy, role):
                keyword = (role, condition.event) in _KEYWORDS
                if not keyword:
                    by_type.setdefault(condition.event, []).append((role, condition.when))
        fixed = {
            t: frozenset(role for role, _ in found)
            for t, found in by_type.items()
            if not any(when for _, when in found)
        }
        return cls(
            policy,
            {k: tuple(v) for k, v in by_type.items()},
            first,
            other,
            fixed,
            any(not when for when in first),
            any(not when for when in other),
            policy.id,
        )

    @property
    def any_type(self) -> bool:
        """Whether events of any type can act on this clock (first_event, resume: other)."""
        return bool(self.first or self.other)

    def starts_first(self, event: CaseEvent) -> bool:
        """Whether ``event``, as the case's first, starts this clock (``start: first_event``)."""
        if self.first_always:
            return True
        return any(matches(when, event.attributes) for when in self.first)

    def roles(self, event: CaseEvent, first: bool = False) -> frozenset[str]:
        """The roles (start, stop, ...) the event plays for this clock.

        ``first``: the event is the case's first; with ``start: first_event`` it starts the
        clock and plays no other role unless ``first_event_also`` names it.
        """
        roles = self.fixed.get(event.event_type)
        if roles is None:
            found = self.by_type.get(event.event_type, ())
            roles = frozenset(role for role, when in found if matches(when, event.attributes))
        if first and self.starts_first(event):
            return _START | (roles & frozenset(self.policy.first_event_also))
        if (
            not roles
            and self.other
            and (self.other_always or any(matches(w, event.attributes) for w in self.other))
        ):
            return _RESUME
        return roles


class Engine:
    """Runs every clock of a policy over one case at a time. Pure: no I/O, no wall clock.

    Args:
        spec: the policy; its version is recorded on every cycle started.
        calendars: calendar name -> calendar, for clocks with ``working`` limits.
        retention: how long an idle case (no open cycle, no waiting event) is kept after its
            last event, so late duplicates are still recognised.
        reevaluate: re-judge open cycles started under another policy version by this policy
            (the operator's choice at a policy change); by default they keep their own terms.

    Raises:
        ValueError: a working-time limit with no calendar, or one the mapping lacks.
    """

    def __init__(
        self,
        spec: PolicySpec,
        calendars: Mapping[str, Calendar],
        *,
        retention: timedelta = DEFAULT_RETENTION,
        reevaluate: bool = False,
    ) -> None:
        if retention <= timedelta(0):
            raise ValueError(f"retention must be longer than zero, got {retention}")
        self._spec = spec
        self._calendars = dict(calendars)
        self._retention = retention
        self._reevaluate = reevaluate
        self._review_memo: dict[tuple[OpenCycleKey, ...], bool] = {}
        #: (clock id, what its overrides look at) -> the terms a cycle starting then gets.
        self._terms_memo: dict[
            tuple[str, tuple[str | None, ...], tuple[bool, ...]], ClockTerms
        ] = {}
        self._terms_basis: dict[str, _TermsBasis] = {}
        #: id(terms) -> (terms, the calendar they count in or None): see :meth:`_counted_in`.
        self._calendar_memo: dict[int, tuple[ClockTerms, Calendar | None]] = {}
        self._lateness = spec.allowed_lateness
        by_kind: dict[str, list[_Rules]] = {}
        self._order: dict[str, int] = {}
        for index, policy in enumerate(spec.clocks):
            by_kind.setdefault(policy.case_kind, []).append(_Rules.of(policy))
            self._order[policy.id] = index
            self._terms_basis[policy.id] = _TermsBasis.of(policy, spec)
            self._check_calendars(policy)
        self._by_kind = {k: tuple(v) for k, v in by_kind.items()}
        self._by_clock = {(r.policy.case_kind, r.policy.id): r for v in by_kind.values() for r in v}
        self._types_by_kind = {
            kind: frozenset(t for r in rules for t in r.by_type)
            for kind, rules in self._by_kind.items()
        }
        self._event_types = frozenset(t for types in self._types_by_kind.values() for t in types)
        #: Case kinds with a clock that any event type can act on.
        self._any_type_kinds = frozenset(
            kind for kind, rules in self._by_kind.items() if any(r.any_type for r in rules)
        )
        self._source_order = spec.same_instant == "source_order"

    @classmethod
    def for_policy(
        cls,
        spec: PolicySpec,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        reevaluate: bool = False,
    ) -> Engine:
        """The engine for ``spec`` with the working calendars the policy file declares.

        The worker, the shadow policy and replay all judge with this one, so a replayed
        deadline is the live one. Raises as :class:`Engine` and ``build_calendars`` do.
        """
        return cls(spec, build_calendars(spec), retention=retention, reevaluate=reevaluate)

    @property
    def version(self) -> str:
        """The policy version new cycles are judged by."""
        return self._spec.version

    @property
    def reevaluate(self) -> bool:
        """Whether open cycles of other policy versions are re-judged by this one."""
        return self._reevaluate

    def event_types(self) -> frozenset[str]:
        """Every event type any clock reacts to."""
        return self._event_types

    def needs_review(self, state: CaseState) -> bool:
        """Whether an open cycle of ``state`` must change under this policy (see ``review``).

        True when a cycle's clock is no longer in the policy, its calendar is gone, or (with
        ``reevaluate``) it was started under another version. The worker schedules such a
        case at once after a restart instead of waiting for its stored due time.
        """
        return any(
            self._cycle_needs_review(
                (
                    state.case_kind,
                    clock_id,
                    cycle.terms.limit.kind,
                    cycle.terms.calendar,
                    cycle.policy_version,
                )
            )
            for clock_id, cycle in state.running()
        )

    def stored_needs_review(self, data: Mapping[str, Any]) -> bool:
        """:meth:`needs_review` of a stored state (``CaseState.to_json``), without rebuilding it.

        A worker asks this of every open case after a restart; the answer depends only on each
        open cycle's clock, limit kind, calendar and policy version, which a million cases share
        a handful of, so each combination is judged once.
        """
        keys = open_cycle_keys(data)
        known = self._review_memo.get(keys)
        if known is None:
            known = self._review_memo[keys] = any(self._cycle_needs_review(k) for k in keys)
        return known

    def _cycle_needs_review(self, key: OpenCycleKey) -> bool:
        case_kind, clock_id, limit_kind, calendar, version = key
        if (case_kind, clock_id) not in self._by_clock:
            return True
        if limit_kind == "working" and calendar not in self._calendars:
            return True
        return self._reevaluate and version != self._spec.version

    # ------------------------------------------------------------------ public steps

    def apply(self, state: CaseState | None, event: LifecycleEvent, now: datetime) -> Step:
        """Apply one event to a case, then fire whatever is due at ``now``.

        ``state`` is not changed; the new state is in the returned step. An event of a type
        no clock of its case kind knows leaves the state as it is (None stays None).
        """
        now = utc(now, "now")
        fields: dict[str, Any] = event.__dict__  # read once: see CaseEvent.of_fields
        event_type: str = fields["event_type"]
        case_kind: str = fields["case_kind"]
        event_id: str = fields["event_id"]
        if event_type not in self._types_by_kind.get(case_kind, frozenset()) and (
            case_kind not in self._any_type_kinds
        ):
            ignored = EventIgnored("unknown_event_type", event_id, f"{case_kind}/{event_type}")
            return Step(state, [ignored], None if state is None else self._due(state, now))
        if state is not None and state.has_seen(event_id):
            ignored = EventIgnored("duplicate", event_id, event_type)
            return Step(state, [ignored], self._due(state, now))
        ev = CaseEvent.of_fields(fields)
        case = CaseState(fields["case_id"], case_kind) if state is None else state.step_copy(True)
        effects: list[Effect] = []
        self._review(case, now, effects)
        first = not case.seen
        case.remember(ev.event_id)
        case.merge(ev.attributes, ev.at)
        case.touched_at = now if case.touched_at is None else max(case.touched_at, now)
        used, reasons = False, []
        for rules in self._by_kind[case_kind]:
            roles = rules.roles(ev, first)
            if roles:
                first_start = first and rules.starts_first(ev)
                reason = self._apply_to_clock(case, rules, ev, roles, now, effects, first_start)
                used = used or reason is None
                if reason is not None:
                    reasons.append((reason, rules.clock_id))
        if not used:
            reason, clock_id = reasons[0] if reasons else ("no_matching_clock", "")
            detail = f"{clock_id}/{ev.event_type}" if clock_id else ev.event_type
            effects.append(EventIgnored(reason, ev.event_id, detail))
        self._expire_orphans(case, now, effects)
        dues = self._fire(case, now, effects)
        case.end_step()
        return Step(case, effects, self._next_due(case, dues))

    def advance(self, state: CaseState, now: datetime) -> Step:
        """Fire every warning, breach and orphan expiry due at or before ``now``.

        Returns state None (forget the case) once it is idle and ``retention`` has passed
        since its last event.
        """
        now = utc(now, "now")
        case = state.step_copy(False)
        effects: list[Effect] = []
        self._review(case, now, effects)
        self._expire_orphans(case, now, effects)
        dues = self._fire(case, now, effects)
        case.end_step()
        purge_at = self._purge_at(case)
        if purge_at is not None and now >= purge_at:
            return Step(None, effects, None)
        return Step(case, effects, self._next_due(case, dues))

    def open_cycles(self, state: CaseState, as_of: datetime) -> list[OpenCycleRecord]:
        """The case's running cycles as of ``as_of``: elapsed and paused time so far.

        For the end of a replay, where a running clock must be told apart from one that never
        started. Changes nothing; a cycle that starts after ``as_of`` counts nothing yet.
        """
        as_of = utc(as_of, "as_of")
        records = []
        for clock_id, cycle in sorted(state.running(), key=lambda item: self._rank(item[0])):
            calendar = self._calendar(cycle.terms)
            closing = cycle.clone().close(calendar, max(as_of, cycle.started_at), "stop")
            records.append(
                record(
                    OpenCycleRecord,
                    {
                        **self._ref_fields(state, clock_id, cycle),
                        "outcome_id": outcome_id(state.case_id, clock_id, cycle.number),
                        "started_at": cycle.started_at,
                        "deadline": cycle.due_at(calendar),
                        "as_of": as_of,
                        "breached": cycle.breach_emitted,
                        "elapsed_seconds": closing.elapsed.total_seconds(),
                        "paused_seconds": closing.paused.total_seconds(),
                    },
                )
            )
        return records

    # ------------------------------------------------------------------ one event, one clock

    def _apply_to_clock(
        self,
        case: CaseState,
        rules: _Rules,
        ev: CaseEvent,
        roles: frozenset[str],
        now: datetime,
        effects: list[Effect],
        first_start: bool = False,
    ) -> str | None:
        """Apply ``ev`` playing ``roles`` to one clock; None when used, else why it was not.

        The case's first event starting a ``first_event`` clock plays its other roles
        (``first_event_also``) on the cycle it started, after starting it.
        """
        clock_id = rules.clock_id
        after_start = _NO_ROLES
        if first_start:  # (sets built only then: this runs for every clock an event acts on)
            after_start = roles - _START
            roles = roles & _START
        track = case.own(clock_id) if clock_id in case.clocks else ClockTrack()
        previous_end = None if track.last is None else track.last.ended_at
        # An event from before the running cycle's start cannot act on that cycle.
        running = track.running
        cycle = running if running and not running.precedes_start(ev.at, ev.sequence) else None
        used = started = ended = wants_orphan = False
        start_wanted = "start" in roles
        reasons: list[str] = []
        for role in _END_ROLES:
            if role not in roles or ended:
                continue
            if cycle is not None:
                self._end(case, clock_id, track, cycle, ev.at, role, now, effects)
                ended = used = True
                start_wanted = start_wanted or role == "reset"
            elif role == "reset":
                start_wanted = True  # a reopen after the cycle ended starts the next one
            else:
                wants_orphan = True
        if not ended and not roles.isdisjoint(_MARK_ROLES):
            if cycle is not None:
                for kind in _MARK_KINDS:
                    if kind in roles:
                        cycle.add_mark(
                            Mark(ev.at, kind, ev.event_id, ev.sequence), self._source_order
                        )
                used = True
            else:
                wants_orphan = True
        if start_wanted:
            reason = self._try_start(case, rules, track, ev, previous_end, now, effects)
            started = reason is None
            reasons += [] if reason is None else [reason]
            if started and after_start and track.running is not None:
                self._act_on(case, clock_id, track, track.running, ev, after_start, now, effects)
        if wants_orphan and not started:
            if previous_end is not None and ev.at <= previous_end:
                reasons.append("late_after_end")
            elif _could_match(rules.policy.when, case.attributes):
                self._keep_orphan(case, clock_id, ev)
                used = True
            else:
                reasons.append("no_matching_clock")
        if track.cycles or track.last is not None:
            case.clocks[clock_id] = track
        if used or started:
            return None
        return reasons[0] if reasons else "no_matching_clock"

    def _try_start(
        self,
        case: CaseState,
        rules: _Rules,
        track: ClockTrack,
        ev: CaseEvent,
        previous_end: datetime | None,
        now: datetime,
        effects: list[Effect],
    ) -> str | None:
        """Start the next cycle if nothing stands in the way; None when started, else why not."""
        if track.running is not None:
            return "already_running"
        if previous_end is not None and ev.at <= previous_end:
            return "stale_start"
        if not matches(rules.policy.when, case.attributes):
            return "no_matching_clock"
        return self._start(case, rules, track, ev, now, effects)

    def _keep_orphan(self, case: CaseState, clock_id: str, ev: CaseEvent) -> None:
        for orphan in case.orphans:
            if orphan.event_id == ev.event_id:
                if clock_id not in orphan.clocks:
                    orphan.clocks.append(clock_id)
                return
        waiting = case.orphans
        waiting.append(
            Orphan(ev.event_id, ev.event_type, ev.at, ev.attributes, [clock_id], False, ev.sequence)
        )
        if len(waiting) > 1:  # one alone is in order (mostly so: they wait minutes)
            waiting.sort(key=lambda o: (o.occurred_at, _order(o.sequence), o.event_id))

    def _start(
        self,
        case: CaseState,
        rules: _Rules,
        track: ClockTrack,
        ev: CaseEvent,
        now: datetime,
        effects: list[Effect],
    ) -> str | None:
        """Start the next cycle at the event's time; None when started, else why not."""
        policy = rules.policy
        found = self._terms(case, policy, ev.at, ev)
        if found is None:
            return "missing_attribute"
        terms, fixed = found
        calendar = self._calendar(terms)
        track.cycles += 1
        cycle = Cycle(
            number=track.cycles,
            started_at=ev.at,
            start_event_id=ev.event_id,
            start_sequence=ev.sequence,
            policy_version=self._spec.version,
            terms=terms,
            fixed_deadline=fixed,
            clock_team=policy.team,
        )
        track.running = cycle
        ref = self._ref(case, rules.clock_id, cycle)
        effects.append(ClockStarted(ref, cycle.started_at, cycle.due_at(calendar)))
        self._adopt_orphans(case, rules, track, now, effects)
        return None

    def _terms(
        self, case: CaseState, policy: ClockPolicy, start: datetime, ev: CaseEvent | None
    ) -> tuple[ClockTerms, datetime | None] | None:
        """The terms ``policy`` gives a cycle starting at ``start``, with the promised deadline
        of an ``until`` limit; None when neither ``ev`` nor the case holds that promise."""
        terms = self._terms_for(policy, case.attributes, start)
        if terms.limit.kind != "until":
            return terms, None
        fixed = self._promised(terms, ev, case)
        return None if fixed is None else (terms, fixed)

    def _terms_for(
        self, policy: ClockPolicy, attributes: Mapping[str, Any], start: datetime
    ) -> ClockTerms:
        """``policy.terms_for``, remembered by what decides it: the values of the attributes
        its overrides filter on, and which special periods ``start`` falls in.

        Asked at every cycle start (2-4 µs in Python each time, and a new terms object that
        defeats the cycle's due-time memo); the answers are a handful per clock.
        """
        basis = self._terms_basis[policy.id]
        # As the filters compare them (as strings): 1 and True are equal keys, not equal text.
        values = tuple([_as_text(attributes.get(name)) for name in basis.names])
        # spec.in_period of each, from the spans worked out once (a pydantic method call each)
        periods = tuple([first <= start < after for first, after in basis.spans])
        key = (policy.id, values, periods)
        terms = self._terms_memo.get(key)
        if terms is None:
            terms = policy.terms_for(attributes, start, self._spec)
            if len(self._terms_memo) < _TERMS_MEMO_SIZE:
                self._terms_memo[key] = terms
        return terms

    def _promised(
        self, terms: ClockTerms, ev: CaseEvent | None, case: CaseState
    ) -> datetime | None:
        """The promised instant for an ``until`` limit: from the event, else the case."""
        name = terms.limit.attribute or ""
        value = None if ev is None else ev.attributes.get(name)
        if value is None:
            value = case.attributes.get(name)
        if not isinstance(value, str):
            return None
        try:
            promised = datetime.fromisoformat(value)
        except ValueError:
            return None
        if promised.tzinfo is None or promised.utcoffset() is None:
            return None
        return promised.astimezone(UTC)

    def _adopt_orphans(
        self,
        case: CaseState,
        rules: _Rules,
        track: ClockTrack,
        now: datetime,
        effects: list[Effect],
    ) -> None:
        """Apply the events that waited for this start, in event-time order.

        An event whose wait is over is left to expire, even if its expiry has not been
        processed yet: whether the timer ran first must not change the outcome. One at the
        start's own instant with a lower source sequence came before the start: not adopted.
        """
        clock_id = rules.clock_id
        for orphan in case.orphans:
            cycle = track.running
            if cycle is None:
                break
            if (
                clock_id not in orphan.clocks
                or cycle.precedes_start(orphan.occurred_at, orphan.sequence)
                or now >= orphan.occurred_at + self._lateness
            ):
                continue
            ev = orphan.event()
            roles = rules.roles(ev) & _ORPHAN_ROLES
            self._act_on(case, clock_id, track, cycle, ev, roles, now, effects)
            orphan.clocks.remove(clock_id)
            orphan.used = True
        case.orphans = [o for o in case.orphans if o.clocks]

    def _act_on(
        self,
        case: CaseState,
        clock_id: str,
        track: ClockTrack,
        cycle: Cycle,
        ev: CaseEvent,
        roles: frozenset[str],
        now: datetime,
        effects: list[Effect],
    ) -> None:
        """Apply an event's stop, pause, resume or cancel to a cycle started since it came."""
        end_role: EndKind | None = next((r for r in _END_ROLES if r in roles), None)
        if end_role is not None:
            self._end(case, clock_id, track, cycle, ev.at, end_role, now, effects)
            return
        for kind in _MARK_KINDS:
            if kind in roles:
                cycle.add_mark(Mark(ev.at, kind, ev.event_id, ev.sequence), self._source_order)

    def _end(
        self,
        case: CaseState,
        clock_id: str,
        track: ClockTrack,
        cycle: Cycle,
        at: datetime,
        kind: EndKind,
        now: datetime,
        effects: list[Effect],
    ) -> None:
        """End the running cycle; make the breach record agree with the final judgement.

        The breach stands exactly when the cycle ended after its deadline: a missing breach
        is sent first (stop and deadline both arrived late), a sent one is retracted.
        """
        closing = cycle.close(self._calendar(cycle.terms), at, kind)
        if closing.late and not cycle.breach_emitted:
            effects.append(Breached(self._breach(case, clock_id, cycle, closing, now, "breach")))
            cycle.breach_emitted = True
        elif not closing.late and cycle.breach_emitted:
            record = self._breach(case, clock_id, cycle, closing, now, "breach_retracted")
            effects.append(BreachRetracted(record))
        effects.append(ClockEnded(self._outcome(case, clock_id, cycle, closing)))
        track.running = None
        track.last = EndedCycle(cycle.number, at, closing.outcome)

    # ------------------------------------------------------------------ policy changes

    def _review(self, case: CaseState, now: datetime, effects: list[Effect]) -> None:
        """Bring the open cycles of a stored case in line with this engine's policy.

        A cycle whose clock the policy no longer has is ended as ``cancelled``. A cycle whose
        calendar the policy no longer has, or (with ``reevaluate``) one started under another
        version, takes the terms this policy gives for its start; if it cannot (an ``until``
        limit whose promise the case lacks) it keeps its terms, or is cancelled when their
        calendar is gone.
        """
        for clock_id, shared in case.clocks.items():
            cycle = shared.running
            if cycle is None:
                continue
            rules = self._by_clock.get((case.case_kind, clock_id))
            if rules is None:
                self._retire(case, clock_id, *_own_running(case, clock_id), now, effects)
                continue
            other = self._reevaluate and cycle.policy_version != self._spec.version
            if not other and self._has_calendar(cycle.terms):
                continue  # keeps the terms it started with
            track, cycle = _own_running(case, clock_id)
            adopted = self._readopt(case, rules, cycle)
            if not adopted and not self._has_calendar(cycle.terms):
                self._retire(case, clock_id, track, cycle, now, effects)

    def _readopt(self, case: CaseState, rules: _Rules, cycle: Cycle) -> bool:
        """Give ``cycle`` this policy's terms for its start; False when they cannot apply.

        Marks, warnings already passed and a breach already sent are kept: a warning is not
        sent twice, and a sent breach stands until the stop judges it (retracted if the stop
        comes before the new deadline).
        """
        policy = rules.policy
        found = self._terms(case, policy, cycle.started_at, None)
        if found is None:
            return False
        cycle.terms, fixed = found
        cycle.fixed_deadline = fixed
        cycle.policy_version = self._spec.version
        cycle.clock_team = policy.team
        return True

    def _retire(
        self,
        case: CaseState,
        clock_id: str,
        track: ClockTrack,
        cycle: Cycle,
        now: datetime,
        effects: list[Effect],
    ) -> None:
        """End a cycle the policy can no longer judge: outcome ``cancelled`` at ``now``.

        No breach is sent or retracted for it: the clock is gone, and a breach already sent
        stands. Counted on the calendar it started with when the policy still has it, else in
        elapsed time (for the outcome's elapsed and paused seconds only).
        """
        at = max(now, cycle.started_at)
        counted = self._counted_in(cycle.terms)
        calendar = _ELAPSED if counted is None else counted
        closing = cycle.close(calendar, at, "cancel")
        effects.append(ClockEnded(self._outcome(case, clock_id, cycle, closing)))
        track.running = None
        track.last = EndedCycle(cycle.number, at, closing.outcome)

    def _has_calendar(self, terms: ClockTerms) -> bool:
        return self._counted_in(terms) is not None

    def _counted_in(self, terms: ClockTerms) -> Calendar | None:
        """The calendar ``terms`` count in (elapsed time for an elapsed limit); None when the
        engine lacks it.

        Asked several times per event, and each read of a pydantic model's field goes through
        its ``__getattr__`` hook; remembered per terms object (held in the entry, so its id
        cannot be reused while the entry stands; terms objects are few and shared).
        """
        found = self._calendar_memo.get(id(terms))
        if found is not None and found[0] is terms:
            return found[1]
        counted: Calendar | None = _ELAPSED
        if terms.limit.kind == "working":
            counted = None if terms.calendar is None else self._calendars.get(terms.calendar)
        if len(self._calendar_memo) >= _TERMS_MEMO_SIZE:
            self._calendar_memo.clear()
        self._calendar_memo[id(terms)] = (terms, counted)
        return counted

    def _due(self, state: CaseState, now: datetime) -> datetime | None:
        """The next due time of a case not changed by this call: now if it needs a review."""
        return now if self.needs_review(state) else self._next_due(state)

    # ------------------------------------------------------------------ time

    def _expire_orphans(self, case: CaseState, now: datetime, effects: list[Effect]) -> None:
        kept: list[Orphan] = []
        for orphan in case.orphans:
            if now >= orphan.occurred_at + self._lateness:
                if not orphan.used:
                    detail = f"{'/'.join(orphan.clocks)}/{orphan.event_type}"
                    effects.append(EventIgnored("orphan_expired", orphan.event_id, detail))
            else:
                kept.append(orphan)
        case.orphans = kept

    def _fire(self, case: CaseState, now: datetime, effects: list[Effect]) -> list[datetime | None]:
        """Send what is due on every open cycle; several due at once send only the latest.

        A breach passes over warnings due with it, and of several warnings due at once only
        the highest threshold is sent (after downtime or a late start, one alert, not three).
        Returns each open cycle's next warning or breach after that, in clock order, for
        :meth:`_next_due` (which would otherwise ask every cycle again).
        """
        found = []
        dues: list[datetime | None] = []
        for clock_id, cycle in case.running():
            pending = cycle.pending_dues(self._calendar(cycle.terms))
            if pending and pending[0].at <= now:  # in time order: nothing due if the first is not
                found.append((clock_id, len(dues), [d for d in pending if d.at <= now]))
            dues.append(pending[0].at if pending else None)
        if len(found) > 1:
            found.sort(key=lambda item: self._rank(item[0]))
        for clock_id, index, due in found:
            _, cycle = _own_running(case, clock_id)
            for item in due:
                if item.threshold is not None:
                    cycle.warned.append(item.threshold)
            latest = due[-1]
            if any(d.threshold is None for d in due):
                cycle.breach_emitted = True
                effects.append(Breached(self._breach_at(case, clock_id, cycle, now)))
            elif latest.threshold is not None:
                warning = self._warning(case, clock_id, cycle, latest.threshold, latest.at, now)
                effects.append(WarningDue(warning))
            pending = cycle.pending_dues(self._calendar(cycle.terms))
            dues[index] = pending[0].at if pending else None
        return dues

    def _next_due(
        self, case: CaseState, dues: list[datetime | None] | None = None
    ) -> datetime | None:
        """The earliest of: the open cycles' next warning or breach (``dues``, from
        :meth:`_fire`, else asked here), the waiting events' expiries, and the purge of an
        idle case (one pass: it runs after every step)."""
        if dues is None:
            dues = []
            for track in case.clocks.values():
                cycle = track.running
                if cycle is not None:
                    pending = cycle.pending_dues(self._calendar(cycle.terms))
                    dues.append(pending[0].at if pending else None)
        earliest: datetime | None = None
        for due in dues:
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        for orphan in case.orphans:
            expiry = orphan.occurred_at + self._lateness
            if earliest is None or expiry < earliest:
                earliest = expiry
        if not dues and not case.orphans and case.touched_at is not None:
            purge_at = case.touched_at + self._retention
            if earliest is None or purge_at < earliest:
                earliest = purge_at
        return earliest

    def _purge_at(self, case: CaseState) -> datetime | None:
        if not case.idle() or case.touched_at is None:
            return None
        return case.touched_at + self._retention

    def _rank(self, clock_id: str) -> tuple[int, str]:
        return (self._order.get(clock_id, len(self._order)), clock_id)

    # ------------------------------------------------------------------ calendars and records

    def _check_calendars(self, policy: ClockPolicy) -> None:
        names = {policy.calendar} | {o.calendar for o in policy.overrides}
        missing = sorted(n for n in names if n is not None and n not in self._calendars)
        if missing:
            raise ValueError(
                f"clock {policy.id!r} uses calendar(s) {', '.join(missing)} but the engine was "
                f"given only {sorted(self._calendars) or 'none'}; build them from the policy"
            )
        limits = [(policy.limit, policy.calendar)]
        limits += [(o.limit, o.calendar or policy.calendar) for o in policy.overrides if o.limit]
        for limit, calendar in limits:
            if limit.kind == "working" and calendar is None:
                raise ValueError(
                    f"clock {policy.id!r} has the working-time limit {limit.text!r} but no "
                    "calendar; set 'calendar:' on the clock or the override"
                )

    def _calendar(self, terms: ClockTerms) -> Calendar:
        counted = self._counted_in(terms)
        if counted is not None:
            return counted
        raise ValueError(
            f"working-time limit {terms.limit.text!r} needs calendar {terms.calendar!r}, "
            f"which the engine does not have (it has {sorted(self._calendars)}); "
            "add it to the policy's calendars"
        )

    def _ref_fields(self, case: CaseState, clock_id: str, cycle: Cycle) -> dict[str, Any]:
        """The :class:`ClockRef` fields of a cycle, each of its field's type (records are
        built from them without a second validation, :func:`sla.trusted.record`)."""
        attrs = case.attributes
        team = attrs.get("team")
        region = attrs.get("region")
        department = attrs.get("department")
        assignee = attrs.get("assignee")
        return {
            "case_id": case.case_id,
            "case_kind": case.case_kind,
            "clock": clock_id,
            "cycle": cycle.number,
            "policy_version": cycle.policy_version,
            "standard": cycle.terms.standard,
            "target": float(cycle.terms.target),
            "team": str(team) if team is not None else cycle.clock_team,
            "region": None if region is None else str(region),
            "department": None if department is None else str(department),
            "assignee": None if assignee is None else str(assignee),
        }

    def _ref(self, case: CaseState, clock_id: str, cycle: Cycle) -> ClockRef:
        return record(ClockRef, self._ref_fields(case, clock_id, cycle))

    def _warning(
        self,
        case: CaseState,
        clock_id: str,
        cycle: Cycle,
        threshold: float,
        due_at: datetime,
        now: datetime,
    ) -> WarningRecord:
        deadline = cycle.due_at(self._calendar(cycle.terms))
        if deadline is None:  # pending() is empty while paused
            raise AssertionError("a warning fired while the deadline is unknown")
        return record(
            WarningRecord,
            {
                **self._ref_fields(case, clock_id, cycle),
                "type": "warning",  # every field, in order: the dict is the record's own
                "warning_id": warning_id(case.case_id, clock_id, cycle.number, threshold),
                "threshold": float(threshold),
                "started_at": cycle.started_at,
                "due_at": due_at,
                "deadline": deadline,
                "emitted_at": now,
            },
        )

    def _breach_at(
        self, case: CaseState, clock_id: str, cycle: Cycle, now: datetime
    ) -> BreachRecord:
        deadline = cycle.due_at(self._calendar(cycle.terms))
        if deadline is None:  # pending() is empty while paused
            raise AssertionError("a breach fired while the deadline is unknown")
        return record(
            BreachRecord,
            {
                **self._ref_fields(case, clock_id, cycle),
                "type": "breach",
                "breach_id": breach_id(case.case_id, clock_id, cycle.number),
                "started_at": cycle.started_at,
                "deadline": deadline,
                "emitted_at": now,
                "stopped_at": None,
            },
        )

    def _breach(
        self,
        case: CaseState,
        clock_id: str,
        cycle: Cycle,
        closing: Closing,
        now: datetime,
        kind: Literal["breach", "breach_retracted"],
    ) -> BreachRecord:
        return record(
            BreachRecord,
            {
                **self._ref_fields(case, clock_id, cycle),
                "type": kind,
                "breach_id": breach_id(case.case_id, clock_id, cycle.number),
                "started_at": cycle.started_at,
                "deadline": closing.deadline,
                "emitted_at": now,
                "stopped_at": closing.ended_at,
            },
        )

    def _outcome(
        self, case: CaseState, clock_id: str, cycle: Cycle, closing: Closing
    ) -> OutcomeRecord:
        return record(
            OutcomeRecord,
            {
                **self._ref_fields(case, clock_id, cycle),
                "type": "outcome",
                "outcome_id": outcome_id(case.case_id, clock_id, cycle.number),
                "outcome": closing.outcome,
                "started_at": cycle.started_at,
                "deadline": closing.deadline,
                "ended_at": closing.ended_at,
                "elapsed_seconds": closing.elapsed.total_seconds(),
                "paused_seconds": closing.paused.total_seconds(),
            },
        )
