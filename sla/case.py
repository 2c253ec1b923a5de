"""What the engine keeps about one case, and its JSON form for the ``cases`` table.

Plain dataclasses, not pydantic models: the worker loads and stores a case on every event, and
the state is ours, so it is rebuilt without validation. Times are stored as ISO-8601 in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, TypeVar

from sla.clock import Cycle, format_time, parse_time
from sla.events import Attributes, set_attributes
from sla.zones import utc

__all__ = [
    "SEEN_LIMIT",
    "STATE_FORMAT",
    "CaseEvent",
    "CaseState",
    "ClockTrack",
    "EndedCycle",
    "JsonScalar",
    "OpenCycleKey",
    "Orphan",
    "open_cycle_keys",
]

#: How many event ids a case remembers for deduplication.
SEEN_LIMIT: Final = 512
#: Version of the JSON written by :meth:`CaseState.to_json`.
STATE_FORMAT: Final = 1

JsonScalar = str | int | float | bool | None

#: What decides whether an open cycle must be reviewed under a new policy:
#: (case kind, clock id, limit kind, calendar, policy version).
OpenCycleKey = tuple[str, str, str, str | None, str]


def open_cycle_keys(data: Mapping[str, Any]) -> tuple[OpenCycleKey, ...]:
    """The :data:`OpenCycleKey` of each open cycle of a stored state, read from its JSON.

    Example:
        >>> open_cycle_keys({"case_kind": "complaint", "clocks": {}})
        ()
    """
    kind = data["case_kind"]
    keys = []
    for clock_id, track in data["clocks"].items():
        running = track.get("running")
        if running:
            terms = running["terms"]
            keys.append(
                (
                    kind,
                    clock_id,
                    terms["limit"]["kind"],
                    terms["calendar"],
                    running["policy_version"],
                )
            )
    return tuple(keys)


_PLAIN: Final = (str, int, float, bool)

In = TypeVar("In", bound=Hashable)
Out = TypeVar("Out")


def _mapped(values: Mapping[str, In], convert: Callable[[In], Out]) -> dict[str, Out]:
    """``{k: convert(v)}``, converting each distinct value once (``convert`` never gives None).

    The attributes an event sets share its time, so a case's attribute times are a few
    distinct values over many keys; the worker writes and reads them on every event.
    """
    done: dict[In, Out] = {}
    out = {}
    for key, value in values.items():
        converted = done.get(value)
        if converted is None:
            converted = done[value] = convert(value)
        out[key] = converted
    return out


def _json_scalar(value: Any) -> JsonScalar:
    """Attribute values as stored: datetimes as ISO text, anything unusual as its text."""
    if value is None or isinstance(value, _PLAIN):
        return value
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True, init=False)
class CaseEvent:
    """The part of a lifecycle event the clocks use, with JSON-safe attributes."""

    event_id: str
    event_type: str
    at: datetime
    attributes: dict[str, JsonScalar]
    sequence: int | None = None

    def __init__(
        self,
        event_id: str,
        event_type: str,
        at: datetime,
        attributes: dict[str, JsonScalar],
        sequence: int | None = None,
    ) -> None:
        object.__setattr__(self, "event_id", event_id)
        object.__setattr__(self, "event_type", event_type)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "attributes", attributes)
        object.__setattr__(self, "sequence", sequence)

    @classmethod
    def of_fields(cls, fields: dict[str, Any]) -> CaseEvent:
        """From a lifecycle event's ``__dict__`` (its validated field values).

        A field read on a pydantic model goes through the model's ``__getattr__`` hook (about
        250 instructions each); the engine reads the dict once per event instead.
        """
        return cls(
            fields["event_id"],
            fields["event_type"],
            utc(fields["occurred_at"], "occurred_at"),
            _attribute_values(fields["attributes"]),
            fields["sequence"],
        )


def _attribute_values(attributes: Attributes) -> dict[str, JsonScalar]:
    """The event's attributes that are set, JSON-safe (``model_dump`` order).

    :func:`sla.events.set_attributes` made JSON-safe, in one pass over the model's fields
    here, compiled: it runs per event. Extras that are not plain scalars go through it.
    """
    values: dict[str, JsonScalar] = {}
    for key, value in attributes.__dict__.items():
        if value is not None:
            values[key] = value if type(value) is str else _json_scalar(value)
    extra = attributes.__pydantic_extra__
    if extra:
        for key, value in extra.items():
            if value is None:
                continue
            if type(value) not in _PLAIN:
                return {k: _json_scalar(v) for k, v in set_attributes(attributes).items()}
            values[key] = value
    return values


@dataclass(init=False)
class Orphan:
    """A stop, pause, resume or cancel with no cycle to act on yet, waiting for its start.

    Attributes:
        clocks: ids of the clocks still waiting for it.
        used: some clock already took it, so its expiry is not counted as ignored.
    """

    event_id: str
    event_type: str
    occurred_at: datetime
    attributes: dict[str, JsonScalar]
    clocks: list[str]
    used: bool = False
    sequence: int | None = None

    def __init__(
        self,
        event_id: str,
        event_type: str,
        occurred_at: datetime,
        attributes: dict[str, JsonScalar],
        clocks: list[str],
        used: bool = False,
        sequence: int | None = None,
    ) -> None:
        self.event_id = event_id
        self.event_type = event_type
        self.occurred_at = occurred_at
        self.attributes = attributes
        self.clocks = clocks
        self.used = used
        self.sequence = sequence

    def copy(self) -> Orphan:
        """A copy whose ``clocks`` list can change (attributes are never changed in place)."""
        return Orphan(
            self.event_id,
            self.event_type,
            self.occurred_at,
            self.attributes,
            list(self.clocks),
            self.used,
            self.sequence,
        )

    def event(self) -> CaseEvent:
        return CaseEvent(
            self.event_id, self.event_type, self.occurred_at, self.attributes, self.sequence
        )

    def to_json(self) -> dict[str, Any]:
        data = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "occurred_at": format_time(self.occurred_at),
            "attributes": dict(self.attributes),
            "clocks": list(self.clocks),
            "used": self.used,
        }
        if self.sequence is not None:  # absent in states written before sequences existed
            data["sequence"] = self.sequence
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Orphan:
        # the class named, arguments by position: compiled, a native constructor call
        return Orphan(
            data["event_id"],
            data["event_type"],
            parse_time(data["occurred_at"]),
            dict(data["attributes"]),
            list(data["clocks"]),
            bool(data["used"]),
            data.get("sequence"),
        )


@dataclass(frozen=True, init=False)
class EndedCycle:
    """What is kept of the last ended cycle: enough to call later events for it late."""

    number: int
    ended_at: datetime
    outcome: str

    def __init__(self, number: int, ended_at: datetime, outcome: str) -> None:
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "ended_at", ended_at)
        object.__setattr__(self, "outcome", outcome)


@dataclass(init=False)
class ClockTrack:
    """One clock on one case: the number of cycles started, the running one, the last ended."""

    cycles: int = 0
    running: Cycle | None = None
    last: EndedCycle | None = None

    def __init__(
        self, cycles: int = 0, running: Cycle | None = None, last: EndedCycle | None = None
    ) -> None:
        self.cycles = cycles
        self.running = running
        self.last = last

    def clone(self) -> ClockTrack:
        running = self.running
        return ClockTrack(self.cycles, None if running is None else running.clone(), self.last)

    def to_json(self) -> dict[str, Any]:
        last = self.last
        return {
            "cycles": self.cycles,
            "running": None if self.running is None else self.running.to_json(),
            "last": None
            if last is None
            else {
                "number": last.number,
                "ended_at": format_time(last.ended_at),
                "outcome": last.outcome,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClockTrack:
        running, last = data["running"], data["last"]
        return ClockTrack(
            int(data["cycles"]),
            None if running is None else Cycle.from_json(running),
            None
            if last is None
            else EndedCycle(int(last["number"]), parse_time(last["ended_at"]), last["outcome"]),
        )


@dataclass(init=False)
class CaseState:
    """Everything the engine keeps about one case; stored as JSON in the ``cases`` table.

    Attributes:
        attributes: merged case attributes (staff and organisation ids, no personal data);
            per key the value from the latest event time wins.
        attribute_times: the event time each attribute value came from.
        seen: the last :data:`SEEN_LIMIT` event ids, for deduplication.
        clocks: clock id -> its cycles on this case.
        orphans: events waiting for their clock to start, in event-time order.
        touched_at: ``now`` of the last event applied; the purge countdown starts there.
    """

    case_id: str
    case_kind: str
    attributes: dict[str, JsonScalar] = field(default_factory=dict)
    attribute_times: dict[str, datetime] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    clocks: dict[str, ClockTrack] = field(default_factory=dict)
    orphans: list[Orphan] = field(default_factory=list)
    touched_at: datetime | None = None
    _seen_index: set[str] | None = field(default=None, init=False, repr=False, compare=False)
    #: During one engine step: ids of the clocks whose tracks are still the previous state's.
    _shared: set[str] | None = field(default=None, init=False, repr=False, compare=False)
    #: No attribute time is later than this (None: not known): see :meth:`merge`.
    _latest: datetime | None = field(default=None, init=False, repr=False, compare=False)

    def __init__(
        self,
        case_id: str,
        case_kind: str,
        attributes: dict[str, JsonScalar] | None = None,
        attribute_times: dict[str, datetime] | None = None,
        seen: list[str] | None = None,
        clocks: dict[str, ClockTrack] | None = None,
        orphans: list[Orphan] | None = None,
        touched_at: datetime | None = None,
    ) -> None:
        self.case_id = case_id
        self.case_kind = case_kind
        self.attributes = {} if attributes is None else attributes
        self.attribute_times = {} if attribute_times is None else attribute_times
        self.seen = [] if seen is None else seen
        self.clocks = {} if clocks is None else clocks
        self.orphans = [] if orphans is None else orphans
        self.touched_at = touched_at
        self._seen_index = None
        self._shared = None
        self._latest = None

    def has_seen(self, event_id: str) -> bool:
        """Whether ``event_id`` was applied to this case (among the last :data:`SEEN_LIMIT`)."""
        if self._seen_index is None:
            self._seen_index = set(self.seen)
        return event_id in self._seen_index

    def remember(self, event_id: str) -> None:
        """Note ``event_id`` as applied, forgetting the oldest beyond :data:`SEEN_LIMIT`."""
        self.seen.append(event_id)
        if len(self.seen) > SEEN_LIMIT:
            del self.seen[: len(self.seen) - SEEN_LIMIT]
            self._seen_index = None
        elif self._seen_index is not None:
            self._seen_index.add(event_id)

    def merge(self, attributes: Mapping[str, JsonScalar], at: datetime) -> None:
        """Merge an event's attributes: per key, the value from the latest event time wins.

        Events mostly come in time order: an event no earlier than every attribute time wins
        every key, and is merged in two dict updates instead of a comparison per key.
        """
        times = self.attribute_times
        latest = self._latest
        if (latest is not None and at >= latest) or not times:
            self.attributes.update(attributes)
            times.update(dict.fromkeys(attributes, at))
            self._latest = at
            return
        for key, value in attributes.items():
            previous = times.get(key)
            if previous is None or at >= previous:
                self.attributes[key] = value
                times[key] = at
        self._latest = max(times.values())

    def running(self) -> Iterator[tuple[str, Cycle]]:
        """(clock id, cycle) for every open cycle."""
        for clock_id, track in self.clocks.items():
            if track.running is not None:
                yield clock_id, track.running

    def idle(self) -> bool:
        """No open cycle and no waiting event: only the purge is left to do."""
        return not self.orphans and all(t.running is None for t in self.clocks.values())

    def clone(self) -> CaseState:
        """A copy that can change without changing this one.

        Every mutable field is copied.
        """
        copy = self.step_copy(True)
        copy.clocks = {k: t.clone() for k, t in self.clocks.items()}
        copy._shared = None
        return copy

    def step_copy(self, event: bool) -> CaseState:
        """A copy for one engine step that shares what the step leaves alone (copy on write).

        The clock tracks stay the previous state's until the step takes one with :meth:`own`;
        an event step gets its own attributes, event ids and waiting events, a timer step
        (``event`` false) shares them: it only replaces the list of waiting events. The
        engine copies a state per event and per timer, and a timer mostly changes one clock
        or none (an expired waiting event), so copying every clock was most of its cost.
        """
        attributes, times, seen = self.attributes, self.attribute_times, self.seen
        orphans, index = self.orphans, self._seen_index
        if event:
            attributes, times, seen = attributes.copy(), times.copy(), seen.copy()
            orphans = [o.copy() for o in orphans]
            index = None if index is None else index.copy()
        copy = CaseState(
            self.case_id,
            self.case_kind,
            attributes,
            times,
            seen,
            self.clocks.copy(),
            orphans,
            self.touched_at,
        )
        copy._seen_index = index
        copy._shared = set(self.clocks)
        copy._latest = self._latest
        return copy

    def own(self, clock_id: str) -> ClockTrack:
        """The track of ``clock_id``, copied first if this step still shares it."""
        track = self.clocks[clock_id]
        shared = self._shared
        if shared and clock_id in shared:
            shared.discard(clock_id)
            track = self.clocks[clock_id] = track.clone()
        return track

    def end_step(self) -> None:
        """Forget which tracks were shared: the step is over and the state is its own."""
        self._shared = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form: str, int, float, bool, None, list and dict only."""
        return {
            "format": STATE_FORMAT,
            "case_id": self.case_id,
            "case_kind": self.case_kind,
            "attributes": dict(self.attributes),
            "attribute_times": _mapped(self.attribute_times, format_time),
            "seen": list(self.seen),
            "clocks": {k: t.to_json() for k, t in self.clocks.items()},
            "orphans": [o.to_json() for o in self.orphans],
            "touched_at": None if self.touched_at is None else format_time(self.touched_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseState:
        """Rebuild a state written by :meth:`to_json` (no pydantic validation: it is ours)."""
        if data.get("format") != STATE_FORMAT:
            raise ValueError(
                f"case state format {data.get('format')!r} is not {STATE_FORMAT}; it was written "
                "by another slawatch version: replay the events into a fresh table"
            )
        touched = data["touched_at"]
        return CaseState(
            data["case_id"],
            data["case_kind"],
            dict(data["attributes"]),
            _mapped(data["attribute_times"], parse_time),
            list(data["seen"]),
            {k: ClockTrack.from_json(v) for k, v in data["clocks"].items()},
            [Orphan.from_json(o) for o in data["orphans"]],
            None if touched is None else parse_time(touched),
        )
