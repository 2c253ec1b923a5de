"""The policy spec: which clocks exist, when they start and stop, and how long they may run.

One versioned YAML file is the single source of truth. It drives the clocks, alert routing,
the generated Prometheus rules and the Grafana dashboards alike. The models here are the
schema; :mod:`sla.policy_file` reads a file into them and reports mistakes by file, line and
field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.functional_validators import BeforeValidator

from sla.calendar import parse_working_hours
from sla.limits import LimitField, parse_duration
from sla.zones import ZoneName, zone

__all__ = [
    "FIRST_EVENT",
    "OTHER_EVENT",
    "AttributeFilter",
    "CalendarSpec",
    "ClockPolicy",
    "ClockTerms",
    "Condition",
    "Override",
    "PolicySpec",
    "SpecialPeriod",
    "Standard",
    "TeamSpec",
]

Standard = Literal["basic", "special", "expedited"]
#: ``start: first_event``: the case's first event, whatever its type, starts the clock.
FIRST_EVENT = "first_event"
#: ``resume: other``: any event that plays no other role for the clock resumes it.
OTHER_EVENT = "other"
#: Roles the case's first event may still play beside starting the clock (``first_event_also``).
FirstEventRole = Literal["stop", "pause", "cancel"]
#: How a pause and a resume of one cycle at the same instant are ordered (``same_instant``).
SameInstant = Literal["resume_first", "source_order"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Attribute name -> accepted values. An event matches when every named attribute has one of
#: the values (compared as strings).
AttributeFilter = dict[str, list[str]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_filter(value: Any) -> Any:
    """Let ``{channel: phone}`` stand for ``{channel: [phone]}``."""
    if isinstance(value, Mapping):
        return {k: (v if isinstance(v, list) else [v]) for k, v in value.items()}
    return value


def matches(filter_: AttributeFilter, attributes: Mapping[str, Any]) -> bool:
    """True when every attribute named in ``filter_`` has one of its listed values."""
    for name, accepted in filter_.items():
        value = attributes.get(name)
        if value is None or str(value) not in accepted:
            return False
    return True


class Condition(_Strict):
    """An event type, optionally narrowed by attributes (``dissatisfied`` return visits only)."""

    event: str = Field(min_length=1)
    when: AttributeFilter = Field(default_factory=dict)

    _normalise_when = field_validator("when", mode="before")(
        classmethod(lambda cls, v: _as_filter(v))
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"event": value} if isinstance(value, str) else value


def _office_hours() -> dict[Weekday, list[str]]:
    """Monday to Friday, 09:00-18:00: the default working week."""
    return {day: (["09:00-18:00"] if day not in ("sat", "sun") else []) for day in WEEKDAYS}


class CalendarSpec(_Strict):
    """Working time: hours per weekday in a time zone, minus holidays, plus make-up days."""

    timezone: ZoneName = "Asia/Shanghai"
    working_hours: dict[Weekday, list[str]] = Field(default_factory=lambda: _office_hours())
    holidays: Literal["china", "none"] = "china"
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)
    working_day: str | None = Field(
        None, description="length of one working day for 'N working days'; default: Monday's hours"
    )

    @field_validator("working_hours")
    @classmethod
    def _readable_hours(cls, value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        if not any([parse_working_hours(day, ranges) for day, ranges in value.items()]):
            raise ValueError("no working hours on any weekday; give e.g. mon: ['09:00-18:00']")
        return value

    @field_validator("working_day")
    @classmethod
    def _readable_day(cls, value: str | None) -> str | None:
        if value is not None:
            length = parse_duration(value)
            if not timedelta(minutes=1) <= length <= timedelta(hours=24):
                raise ValueError(
                    f"working_day {value!r} is not a length of a working day; "
                    "give between 1m and 24h, e.g. '8h'"
                )
        return value


class SpecialPeriod(_Strict):
    """A named stretch of dates (inclusive) with its own, usually looser, standard."""

    start: date
    end: date
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> SpecialPeriod:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class TeamSpec(_Strict):
    """A team that owns cases; alert routing details live in the alerts configuration."""

    description: str = ""
    calendar: str | None = None


class Override(_Strict):
    """Different terms for some cases: expedited products are stricter, peak season looser."""

    when: AttributeFilter = Field(default_factory=dict)
    during: str | None = Field(None, description="name of a special period")
    limit: LimitField | None = None
    calendar: str | None = None
    target: float | None = Field(None, gt=0, le=1)
    standard: Standard | None = None
    warn_at: list[float] | None = None

    _normalise_when = field_validator("when", mode="before")(
        classmethod(lambda cls, v: _as_filter(v))
    )


@dataclass(frozen=True)
class ClockTerms:
    """The terms one cycle is judged by, fixed when the cycle starts."""

    limit: LimitField
    calendar: str | None
    target: float
    standard: str
    warn_at: tuple[float, ...]


def _as_list(value: Any) -> Any:
    """Let ``start: first_event`` stand for ``start: [first_event]``."""
    return [value] if isinstance(value, str | Mapping) else value


def _names(value: Any) -> Any:
    """``name: 投诉首次回复`` means that name in every locale (key ``*``)."""
    return {"*": value} if isinstance(value, str) else value


class ClockPolicy(_Strict):
    """One clock: the events that drive it, its limit, target, warnings and owner.

    Two words are reserved in the event lists: ``first_event`` in ``start`` (the case's first
    event, whatever its type) and ``other`` in ``resume`` (any event that is not a start,
    stop, pause, cancel or reset of this clock).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: Annotated[dict[str, str], BeforeValidator(_names)] = Field(
        default_factory=dict,
        description="display name in alerts, by locale (zh-CN, en); one text for all",
    )
    description: str = ""
    case_kind: str
    when: AttributeFilter = Field(default_factory=dict)
    start: list[Condition] = Field(min_length=1)
    stop: list[Condition] = Field(min_length=1)
    pause: list[Condition] = Field(default_factory=list)
    resume: list[Condition] = Field(default_factory=list)
    cancel: list[Condition] = Field(default_factory=list)
    reset: list[Condition] = Field(default_factory=list)
    limit: LimitField
    calendar: str | None = None
    warn_at: list[float] = Field(default_factory=lambda: [0.5, 0.8])
    target: float | None = Field(None, gt=0, le=1)
    standard: Standard = "basic"
    team: str | None = None
    overrides: list[Override] = Field(default_factory=list)
    first_event_also: list[FirstEventRole] = Field(
        default_factory=list,
        description="roles the first event still plays when it starts the clock (first_event)",
    )

    _normalise_when = field_validator("when", mode="before")(
        classmethod(lambda cls, v: _as_filter(v))
    )
    _normalise_lists = field_validator("start", "resume", mode="before")(
        classmethod(lambda cls, v: _as_list(v))
    )

    @property
    def starts_on_first_event(self) -> bool:
        """``start: first_event``: the case's first event starts the clock."""
        return any(c.event == FIRST_EVENT for c in self.start)

    @field_validator("warn_at")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0 < fraction < 1:
                raise ValueError(
                    f"warning thresholds are fractions of the limit between 0 and 1, got {fraction}"
                )
        return sorted(set(value))

    def event_types(self) -> set[str]:
        """Every event type this clock names (``first_event`` and ``other`` are not types)."""
        groups = (self.stop, self.pause, self.cancel, self.reset)
        types = {c.event for group in groups for c in group}
        types |= {c.event for c in self.start if c.event != FIRST_EVENT}
        return types | {c.event for c in self.resume if c.event != OTHER_EVENT}

    def terms_for(
        self,
        attributes: Mapping[str, Any],
        started_at: datetime,
        spec: PolicySpec,
    ) -> ClockTerms:
        """The terms for a cycle starting at ``started_at``: later matching overrides win."""
        limit, calendar = self.limit, self.calendar
        standard: Standard = self.standard
        target = self.target
        warn_at = tuple(self.warn_at)
        for override in self.overrides:
            if not matches(override.when, attributes):
                continue
            if override.during is not None and not spec.in_period(
                override.during, started_at, calendar
            ):
                continue
            limit = override.limit or limit
            calendar = override.calendar or calendar
            standard = override.standard or standard
            target = override.target if override.target is not None else target
            warn_at = tuple(override.warn_at) if override.warn_at is not None else warn_at
            if override.standard is not None and override.target is None:
                target = None
        if target is None:
            target = spec.targets[standard]
        return ClockTerms(
            limit=limit, calendar=calendar, target=target, standard=standard, warn_at=warn_at
        )


def _default_targets() -> dict[Standard, float]:
    """Attainment targets the standards set: basic 95 %, special period 90 %, expedited 98 %."""
    return {"basic": 0.95, "special": 0.90, "expedited": 0.98}


@lru_cache(maxsize=256)
def _period_span(start: date, end: date, zone_name: str) -> tuple[datetime, datetime]:
    """(the first instant of day ``start``, the first instant after day ``end``) in UTC, the
    days counted in zone ``zone_name``."""
    local = zone(zone_name)
    first = datetime.combine(start, time(0), tzinfo=local)
    after = datetime.combine(end + timedelta(days=1), time(0), tzinfo=local)
    return first.astimezone(UTC), after.astimezone(UTC)


class PolicySpec(_Strict):
    """A whole policy file."""

    version: str = Field(min_length=1, description="recorded on every clock cycle it judges")
    allowed_lateness: timedelta = Field(
        default=timedelta(minutes=5),
        description="how long an event may arrive after its time and still be ordered in",
    )
    same_instant: SameInstant = Field(
        default="resume_first",
        description="a pause and a resume of one cycle at the same instant: resume counts "
        "first (stays paused), or in the order the events came (source_order)",
    )
    targets: dict[Standard, float] = Field(default_factory=lambda: _default_targets())
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    special_periods: dict[str, SpecialPeriod] = Field(default_factory=dict)
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
    regions: list[str] = Field(
        default_factory=list,
        description="region codes shown in metric labels; other regions are reported as 'other'",
    )
    clocks: list[ClockPolicy] = Field(min_length=1)

    @field_validator("allowed_lateness", mode="before")
    @classmethod
    def _parse_lateness(cls, value: Any) -> Any:
        return parse_duration(value, allow_zero=True) if isinstance(value, str) else value

    @field_validator("allowed_lateness")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError(f"must not be negative, got {value}; 0s orders nothing in")
        return value

    def clock(self, clock_id: str) -> ClockPolicy:
        """The clock named ``clock_id``."""
        for clock in self.clocks:
            if clock.id == clock_id:
                return clock
        raise KeyError(f"no clock {clock_id!r} in policy version {self.version}")

    def in_period(self, name: str, when: datetime, calendar: str | None) -> bool:
        """Whether ``when`` falls on a date of special period ``name`` (in the calendar's zone).

        Asked at every cycle start with a ``during`` override: the period's span is worked out
        once per period and zone (:func:`_period_span`), so this is two comparisons.
        """
        first, after = self.period_span(name, calendar)
        return first <= when < after

    def period_span(self, name: str, calendar: str | None) -> tuple[datetime, datetime]:
        """(first instant, first instant after) of special period ``name`` in UTC, its dates
        read in the zone of ``calendar`` (China's, for a calendar the policy does not define)."""
        period = self.special_periods[name]
        calendars = self.calendars
        zone_name = calendars[calendar].timezone if calendar in calendars else "Asia/Shanghai"
        return _period_span(period.start, period.end, zone_name)
