"""What happened to a case's clocks, in sentences a supervisor understands.

Two sources, one vocabulary. In a replay every step of a case is known: the event (or the
passing of time), the effects the engine returned and the case state before and after, so
:meth:`Explainer.timeline` tells the whole story: clocks started, paused and resumed, working
time left out, warnings, deadlines, breaches, stops. Live, the worker only has the case's
current state in its table, so :meth:`Explainer.state` tells what that state holds: each
clock's running cycle with its pauses and deadline, and how the last cycle ended.

Pure: the engine's values in, :class:`Sentence` values out. Times are shown in one time zone
(the supervisor's) and durations in days, hours and minutes.

Example:
    >>> from datetime import timedelta
    >>> duration(timedelta(days=1, hours=2, minutes=5))
    '1 d 2 h 5 min'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sla.calendar import Calendar, ElapsedCalendar, build_calendars
from sla.clock import Cycle
from sla.effects import (
    Breached,
    BreachRetracted,
    ClockEnded,
    ClockStarted,
    Effect,
    EventIgnored,
    WarningDue,
)
from sla.engine import CaseState
from sla.events import LifecycleEvent
from sla.policy import ClockTerms, PolicySpec
from sla.records import OutcomeRecord

__all__ = ["Explainer", "Moment", "Sentence", "duration", "render"]

_ELAPSED = ElapsedCalendar()
_ZERO = timedelta(0)

_IGNORED: Mapping[str, str] = {
    "duplicate": "was already applied (same event id): nothing changed",
    "unknown_event_type": "is not an event any clock of this case kind reacts to",
    "no_matching_clock": "matched no clock of this case ({detail})",
    "already_running": "would start a clock that is already running ({detail}): ignored",
    "late_after_end": "belongs to a cycle that had already ended ({detail}): ignored as late",
    "orphan_expired": "waited {lateness} for its clock to start and none did ({detail}): dropped",
    "missing_attribute": "would start a clock but lacks the attribute its limit needs ({detail})",
    "stale_start": "is from before the previous cycle ended ({detail}): no new cycle",
}


def duration(value: timedelta) -> str:
    """A duration as ``2 d 3 h 5 min`` (seconds only when under a minute).

    >>> duration(timedelta(seconds=42)), duration(timedelta(0))
    ('42 s', '0 min')
    """
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if 0 < seconds < 60:
        return f"{sign}{seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return sign + " ".join(parts)


@dataclass(frozen=True)
class Sentence:
    """One line of an explanation: when, which clock (None for the case), what."""

    at: datetime
    clock: str | None
    text: str


@dataclass(frozen=True)
class Moment:
    """One step of a case in a replay.

    Attributes:
        at: the event's time, or the due time when time passing caused the step.
        event: the event applied, or None for a timer.
        effects: what the engine returned for this case.
        before: the case state before the step (None before the first event).
        after: the case state after it (None once the case is forgotten).
    """

    at: datetime
    event: LifecycleEvent | None
    effects: tuple[Effect, ...]
    before: CaseState | None
    after: CaseState | None


class Explainer:
    """Turns engine values about one case into sentences.

    Args:
        spec: the policy the case was judged by (clock descriptions, lateness).
        calendars: the policy's calendars by name (as :func:`sla.calendar.build_calendars`).
        zone: the time zone times are shown in.
        verbose: also tell about events that changed nothing (duplicates, late events, stops
            that waited for a start in vain); by default only duplicates' lines are left out
            and such events are shown without comment.
    """

    def __init__(
        self,
        spec: PolicySpec,
        calendars: Mapping[str, Calendar],
        zone: tzinfo = UTC,
        *,
        verbose: bool = False,
    ) -> None:
        self._verbose = verbose
        self._spec = spec
        self._calendars = calendars
        self._zone = zone
        self._order = {clock.id: i for i, clock in enumerate(spec.clocks)}

    @classmethod
    def for_policy(
        cls, spec: PolicySpec, zone: tzinfo = UTC, *, verbose: bool = False
    ) -> Explainer:
        """The explainer for ``spec`` with the working calendars the policy file declares."""
        return cls(spec, build_calendars(spec), zone, verbose=verbose)

    # -- shared wording -----------------------------------------------------------------------

    def when(self, value: datetime) -> str:
        """A time in the explainer's zone, to the minute (seconds when it has them)."""
        local = value.astimezone(self._zone)
        return f"{local:%Y-%m-%d %H:%M:%S}" if local.second else f"{local:%Y-%m-%d %H:%M}"

    def clock_name(self, clock_id: str) -> str:
        """``helpdesk_first_response`` -> ``the helpdesk first response clock``."""
        return f"the {clock_id.replace('_', ' ')} clock"

    def calendar(self, terms: ClockTerms) -> Calendar:
        """The calendar a cycle's limit is counted on."""
        if terms.limit.kind == "working" and terms.calendar is not None:
            return self._calendars.get(terms.calendar, _ELAPSED)
        return _ELAPSED

    def _terms_text(self, terms: ClockTerms) -> str:
        if terms.limit.kind == "working":
            counted = f"{terms.limit.text} (working time on calendar {terms.calendar})"
        elif terms.limit.kind == "until":
            counted = f"{terms.limit.text} (the promised time)"
        else:
            counted = f"{terms.limit.text} (calendar time, around the clock)"
        return f"limit {counted}, target {terms.target:.0%} ({terms.standard} standard)"

    # -- replay: the whole story ----------------------------------------------------------------

    def timeline(self, moments: Iterable[Moment]) -> list[Sentence]:
        """Every step of a case as sentences, in the order they happened."""
        out: list[Sentence] = []
        last: Moment | None = None
        for moment in moments:
            out.extend(self._moment(moment))
            last = moment
        if last is not None and last.after is not None:
            out.extend(self._still_open(last.after, last.at))
        return out

    def _moment(self, moment: Moment) -> list[Sentence]:
        out: list[Sentence] = []
        event = moment.event
        duplicate = any(
            isinstance(e, EventIgnored) and e.reason == "duplicate" for e in moment.effects
        )
        if event is not None and (self._verbose or not duplicate):
            out.append(Sentence(event.occurred_at, None, f"event {event.event_type}"))
        started = {e.ref.clock for e in moment.effects if isinstance(e, ClockStarted)}
        ended = {e.record.clock for e in moment.effects if isinstance(e, ClockEnded)}
        for effect in moment.effects:
            out.extend(self._effect(effect, moment))
        out.extend(self._marks(moment, started, ended))
        return out

    def _effect(self, effect: Effect, moment: Moment) -> list[Sentence]:
        at = moment.at
        if isinstance(effect, ClockStarted):
            return [self._started(effect, moment)]
        if isinstance(effect, WarningDue):
            w = effect.record
            return [
                Sentence(
                    w.due_at,
                    w.clock,
                    f"Warning: {w.threshold:.0%} of the limit of {self.clock_name(w.clock)} "
                    f"used; the deadline is {self.when(w.deadline)}.",
                )
            ]
        if isinstance(effect, Breached):
            r = effect.record
            if r.stopped_at is not None:
                text = (
                    f"Breach: {self.clock_name(r.clock)} stopped at {self.when(r.stopped_at)}, "
                    f"after its deadline of {self.when(r.deadline)}."
                )
                return [Sentence(r.stopped_at, r.clock, text)]
            text = (
                f"Breach: {self.clock_name(r.clock)} passed its deadline of "
                f"{self.when(r.deadline)} with the case still open."
            )
            return [Sentence(r.deadline, r.clock, text)]
        if isinstance(effect, BreachRetracted):
            b = effect.record
            stopped = self.when(b.stopped_at) if b.stopped_at else "before the deadline"
            text = (
                f"Correction: {self.clock_name(b.clock)} had in fact stopped at {stopped}, before "
                f"its deadline of {self.when(b.deadline)}; the breach is withdrawn."
            )
            return [Sentence(at, b.clock, text)]
        if isinstance(effect, ClockEnded):
            return [self._ended(effect.record, moment)]
        if isinstance(effect, EventIgnored):
            if not self._verbose:
                return []
            template = _IGNORED.get(effect.reason, "changed nothing ({detail})")
            text = template.format(
                detail=effect.detail or effect.reason,
                lateness=duration(self._spec.allowed_lateness),
            )
            subject = "The event" if moment.event is not None else "A waiting event"
            return [Sentence(at, None, f"{subject} {text}.")]
        return []

    def _cycle(self, state: CaseState | None, clock: str) -> Cycle | None:
        if state is None or clock not in state.clocks:
            return None
        return state.clocks[clock].running

    def _started(self, effect: ClockStarted, moment: Moment) -> Sentence:
        ref = effect.ref
        cycle = self._cycle(moment.after, ref.clock)
        terms = cycle.terms if cycle is not None else None
        which = f" (cycle {ref.cycle})" if ref.cycle > 1 else ""
        text = f"{self.clock_name(ref.clock).capitalize()}{which} started"
        if terms is not None:
            text += f": {self._terms_text(terms)}"
        if effect.deadline is not None:
            text += f"; deadline {self.when(effect.deadline)}"
        else:
            text += "; it starts paused, so the deadline is set when it resumes"
        if terms is not None and terms.limit.kind == "working":
            calendar = self.calendar(terms)
            late_start = _next_working(calendar, effect.started_at)
            if late_start is not None and late_start > effect.started_at:
                text += (
                    f". It started outside working hours: counting begins at "
                    f"{self.when(late_start)}"
                )
        return Sentence(effect.started_at, ref.clock, text + ".")

    def _ended(self, record: OutcomeRecord, moment: Moment) -> Sentence:
        name = self.clock_name(record.clock)
        verbs = {
            "met": "stopped in time",
            "breached": "stopped late",
            "cancelled": "was cancelled",
            "reset": "was reset (the case was reopened); this cycle is not judged",
        }
        text = f"{name.capitalize()} {verbs[record.outcome]} at {self.when(record.ended_at)}"
        counted = timedelta(seconds=record.elapsed_seconds)
        paused = timedelta(seconds=record.paused_seconds)
        wall = record.ended_at - record.started_at
        text += f": {self._counted(counted, moment, record.clock)} counted"
        if record.deadline is not None and record.outcome in ("met", "breached"):
            margin = record.deadline - record.ended_at
            if margin >= _ZERO:
                text += f", {duration(margin)} before the deadline of {self.when(record.deadline)}"
            else:
                text += f", {duration(-margin)} after the deadline of {self.when(record.deadline)}"
        if paused > _ZERO:
            text += f"; {self._counted(paused, moment, record.clock)} paused (not counted)"
        cycle = self._cycle(moment.before, record.clock)
        if cycle is not None and cycle.terms.limit.kind == "working":
            calendar = self.calendar(cycle.terms)
            outside = wall - calendar.between(record.started_at, record.ended_at)
            if outside > _ZERO:
                text += f"; {duration(outside)} outside working hours not counted"
        return Sentence(record.ended_at, record.clock, text + ".")

    def _counted(self, counted: timedelta, moment: Moment, clock: str) -> str:
        """Counted time: working time in hours (a day of it is not 24 h), else a duration."""
        cycle = self._cycle(moment.before, clock)
        if cycle is not None and cycle.terms.limit.kind == "working":
            return f"{counted.total_seconds() / 3600:,.1f} working hours"
        return duration(counted)

    def _marks(self, moment: Moment, started: set[str], ended: set[str]) -> list[Sentence]:
        """Pauses and resumes: a running cycle whose paused/running state the step changed."""
        out: list[Sentence] = []
        after = moment.after
        if after is None:
            return out
        cause = f" ({moment.event.event_type})" if moment.event is not None else ""
        for clock, cycle in sorted(after.running(), key=lambda item: self._rank(item[0])):
            if clock in ended:
                continue
            before = None if clock in started else self._cycle(moment.before, clock)
            was_paused = before.is_paused() if before is not None else False
            now_paused = cycle.is_paused()
            name = self.clock_name(clock)
            if now_paused and not was_paused:
                since = cycle.pauses()[-1][0]
                out.append(
                    Sentence(
                        since,
                        clock,
                        f"{name.capitalize()} paused{cause}: from {self.when(since)} the time "
                        "does not count, and the deadline waits.",
                    )
                )
            elif was_paused and not now_paused:
                out.append(self._resumed(clock, cycle, cause))
        return out

    def _resumed(self, clock: str, cycle: Cycle, cause: str) -> Sentence:
        closed = [p for p in cycle.pauses() if p[1] is not None]
        p0, p1 = closed[-1] if closed else (cycle.started_at, cycle.started_at)
        resumed = p1 or p0
        calendar = self.calendar(cycle.terms)
        excluded = calendar.between(p0, resumed)
        text = (
            f"{self.clock_name(clock).capitalize()} resumed{cause} after "
            f"{duration(resumed - p0)} paused"
        )
        if cycle.terms.limit.kind == "working":
            text += f" ({excluded.total_seconds() / 3600:,.1f} working hours left out)"
        deadline = cycle.due_at(calendar)
        if deadline is not None:
            text += f"; the deadline is now {self.when(deadline)}"
        return Sentence(resumed, clock, text + ".")

    def _still_open(self, state: CaseState, now: datetime) -> list[Sentence]:
        out: list[Sentence] = []
        for clock, cycle in sorted(state.running(), key=lambda item: self._rank(item[0])):
            out.append(self._open_cycle(clock, cycle, now, prefix="At the end, "))
        return out

    def _open_cycle(self, clock: str, cycle: Cycle, now: datetime, prefix: str) -> Sentence:
        calendar = self.calendar(cycle.terms)
        deadline = cycle.due_at(calendar)
        name = self.clock_name(clock)
        if cycle.breach_emitted or (deadline is not None and now >= deadline):
            when = f" of {self.when(deadline)}" if deadline is not None else ""
            text = f"{prefix}{name} is still open and past its deadline{when}: breached"
        elif deadline is None:
            since = cycle.pauses()[-1][0]
            text = (
                f"{prefix}{name} is still open, paused since {self.when(since)}; its deadline "
                "is set again when it resumes"
            )
        else:
            text = (
                f"{prefix}{name} is still open; deadline {self.when(deadline)} "
                f"({duration(deadline - now)} left)"
            )
        return Sentence(now, clock, text + ".")

    def _rank(self, clock: str) -> tuple[int, str]:
        return (self._order.get(clock, len(self._order)), clock)

    # -- live: what the state holds -------------------------------------------------------------

    def state(self, state: CaseState, now: datetime) -> list[Sentence]:
        """What a case's stored state says at ``now``: each clock's last and running cycle."""
        out: list[Sentence] = []
        for clock in sorted(state.clocks, key=self._rank):
            track = state.clocks[clock]
            name = self.clock_name(clock)
            if track.last is not None:
                earlier = track.last.number - 1
                text = (
                    f"Cycle {track.last.number} of {name} ended at "
                    f"{self.when(track.last.ended_at)}: {track.last.outcome}"
                )
                if earlier > 0:
                    text += f" ({earlier} earlier cycle(s) are on the outcomes topic)"
                out.append(Sentence(track.last.ended_at, clock, text + "."))
            cycle = track.running
            if cycle is None:
                continue
            out.append(
                Sentence(
                    cycle.started_at,
                    clock,
                    f"Cycle {cycle.number} of {name} started at {self.when(cycle.started_at)}: "
                    f"{self._terms_text(cycle.terms)}.",
                )
            )
            out.extend(self._pauses(clock, cycle))
            if cycle.warned:
                levels = ", ".join(f"{t:.0%}" for t in sorted(cycle.warned))
                out.append(Sentence(now, clock, f"Warnings already due: {levels} of the limit."))
            if cycle.terms.limit.kind == "working":
                calendar = self.calendar(cycle.terms)
                outside = (now - cycle.started_at) - calendar.between(cycle.started_at, now)
                if outside > _ZERO:
                    out.append(
                        Sentence(
                            now,
                            clock,
                            f"So far {duration(outside)} fell outside working hours and was "
                            "not counted.",
                        )
                    )
            out.append(self._open_cycle(clock, cycle, now, prefix="Now "))
        for orphan in state.orphans:
            until = orphan.occurred_at + self._spec.allowed_lateness
            out.append(
                Sentence(
                    orphan.occurred_at,
                    None,
                    f"Event {orphan.event_type} of {self.when(orphan.occurred_at)} waits until "
                    f"{self.when(until)} for {', '.join(orphan.clocks)} to start.",
                )
            )
        return out

    def _pauses(self, clock: str, cycle: Cycle) -> list[Sentence]:
        calendar = self.calendar(cycle.terms)
        out = []
        for p0, p1 in cycle.pauses():
            if p1 is None:
                text = f"Paused since {self.when(p0)}: the time does not count."
            else:
                text = f"Paused from {self.when(p0)} to {self.when(p1)} ({duration(p1 - p0)}"
                if cycle.terms.limit.kind == "working":
                    hours = calendar.between(p0, p1).total_seconds() / 3600
                    text += f"; {hours:,.1f} working hours left out"
                text += ")."
            out.append(Sentence(p0, clock, text))
        return out


def _next_working(calendar: Calendar, when: datetime) -> datetime | None:
    """The first working instant at or after ``when``, for calendars that can say."""
    finder = getattr(calendar, "next_working_instant", None)
    if finder is None:
        return None
    result = finder(when)
    return result if isinstance(result, datetime) else None


def render(sentences: Sequence[Sentence], explainer: Explainer) -> list[str]:
    """Plain text lines ``time  text`` for a terminal or a web page."""
    return [f"{explainer.when(s.at)}  {s.text}" for s in sentences]
