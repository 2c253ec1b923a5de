"""The alerts file (``config/alerts.yaml``): channels, recipients, teams, routes, escalation.

It sits beside the policy file and names the same team and clock ids. Contact details may be
written literally or referenced (``${ENV_VAR}``, ``secret_file:/path``); secrets must be
referenced. Nothing here is resolved at load time, so the file validates on a machine without
the secrets (CI); :mod:`alerts.directory` resolves references when channels are built.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import AfterValidator, BeforeValidator

from alerts._refs import is_reference
from alerts.wording import Locale
from sla.config_file import (
    ConfigError,
    LineIndex,
    Loc,
    Problem,
    field_name,
    load_model,
)
from sla.limits import Duration
from sla.policy import PolicySpec
from sla.zones import ZoneName

__all__ = [
    "AckSpec",
    "AlertsSpec",
    "ChannelSpec",
    "ChannelUse",
    "ConsoleChannel",
    "DepartmentSpec",
    "DingTalkChannel",
    "EmailChannel",
    "EscalationSpec",
    "EscalationStep",
    "FeishuChannel",
    "RecipientSpec",
    "RedisStreamChannel",
    "RosterSpec",
    "Route",
    "RouteMatch",
    "ShiftSpec",
    "SlackChannel",
    "StormSpec",
    "TeamAlerts",
    "WeComChannel",
    "WebhookChannel",
    "load_alerts",
]

ROLE_TARGETS = ("assignee", "team", "on_duty", "supervisor", "department_head")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _secret(value: Any) -> Any:
    if isinstance(value, str) and not is_reference(value):
        raise ValueError(
            "secrets are never written in the file: write ${ENV_VAR} or secret_file:/path/to/file"
        )
    return value


SecretRef = Annotated[str, BeforeValidator(_secret)]
"""A secret: ``${ENV_VAR}`` or ``secret_file:/path``, never the value itself."""
Ref = str
"""A contact detail: a literal, ``${ENV_VAR}`` or ``secret_file:/path``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _span(value: timedelta) -> str:
    """A duration as the file would write it: ``7d``, ``1h``, ``5m``, ``90s``, ``0.0001s``."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _within(low: float, high: float, why: str) -> AfterValidator:
    """Refuse a duration outside ``low`` .. ``high`` seconds, saying what goes wrong outside."""
    lowest, highest = timedelta(seconds=low), timedelta(seconds=high)

    def check(value: timedelta) -> timedelta:
        if not lowest <= value <= highest:
            raise ValueError(
                f"must be between {_span(lowest)} and {_span(highest)}, got {_span(value)}: {why}"
            )
        return value

    return AfterValidator(check)


_HOUR, _DAY = 3600, 86400
#: Bounds of the file's durations. Redis refuses an expiry under 1 ms (every alert round would
#: fail), and an hour-long try or lease holds every alert behind it for that hour.
Timeout = Annotated[Duration, _within(1, 300, "one try of a channel waits this long")]
Backoff = Annotated[Duration, _within(0.1, _DAY, "the wait between tries of one alert")]
Lease = Annotated[Duration, _within(1, _HOUR, "a claim older than this is sent again")]
DedupeTtl = Annotated[Duration, _within(_HOUR, 365 * _DAY, "Redis forgets a breach after it")]
EscalationDelay = Annotated[Duration, _within(1, 90 * _DAY, "the wait before the next level")]


class _Delivery(_Strict):
    """How hard a channel tries: per-try timeout, retries with exponential backoff and jitter."""

    timeout: Timeout = timedelta(seconds=10)
    retries: int = Field(5, ge=0, le=50, description="tries after the first before dead-letter")
    backoff: Backoff = Field(timedelta(seconds=2), description="delay before the first retry")
    max_backoff: Backoff = timedelta(minutes=5)


class ConsoleChannel(_Delivery):
    """One line per alert on standard output: for the demo and for local runs."""

    type: Literal["console"]
    stream: Literal["stdout", "stderr"] = "stdout"


class WebhookChannel(_Delivery):
    """JSON POST signed with HMAC-SHA256 over the body (``X-Slawatch-Signature``)."""

    type: Literal["webhook"]
    url: Ref
    secret: SecretRef


class SlackChannel(_Delivery):
    """A Slack-compatible incoming webhook; its URL is a credential, so it is a secret."""

    type: Literal["slack"]
    url: SecretRef


class EmailChannel(_Delivery):
    """E-mail over SMTP, plain text and HTML; the recipient's address is its contact detail."""

    type: Literal["email"]
    host: Ref
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: Ref | None = None
    password: SecretRef | None = None
    sender: Ref


class RedisStreamChannel(_Delivery):
    """``XADD`` to one stream per team that a staff application reads."""

    type: Literal["redis_stream"]
    url: Ref | None = Field(None, description="another Redis; default: the alerting Redis")
    stream: str = Field("slawatch:alerts:{team}", description="stream name; {team} is replaced")
    maxlen: int = Field(10_000, ge=10, description="approximate length kept per stream")


class WeComChannel(_Delivery):
    """WeCom (企业微信) group robot; its webhook URL holds the robot's key, so it is a secret."""

    type: Literal["wecom"]
    url: SecretRef
    format: Literal["markdown", "text"] = "markdown"


class DingTalkChannel(_Delivery):
    """DingTalk (钉钉) custom robot; URL (with access_token) and signing secret are secrets."""

    type: Literal["dingtalk"]
    url: SecretRef
    secret: SecretRef | None = Field(None, description="the robot's 加签 secret (SEC...)")


class FeishuChannel(_Delivery):
    """Feishu / Lark (飞书) custom bot; URL and signing secret are secrets."""

    type: Literal["feishu"]
    url: SecretRef
    secret: SecretRef | None = Field(None, description="the bot's 签名校验 secret")


ChannelSpec = Annotated[
    ConsoleChannel
    | WebhookChannel
    | SlackChannel
    | EmailChannel
    | RedisStreamChannel
    | WeComChannel
    | DingTalkChannel
    | FeishuChannel,
    Field(discriminator="type"),
]


class ChannelUse(_Strict):
    """A channel a recipient is reached on, with the recipient's address on it if it needs one."""

    channel: str
    address: Ref | None = Field(None, description="e-mail address, or a webhook URL of one's own")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"channel": value} if isinstance(value, str) else value


class RecipientSpec(_Strict):
    """A person (by staff id, not name) and the channels that reach them."""

    role: str = Field("agent", description="agent, supervisor, department_head, ...")
    channels: list[ChannelUse] = Field(min_length=1)
    locale: Locale | None = Field(None, description="zh-CN or en; default: the team's")


class ShiftSpec(_Strict):
    """Working hours in the roster's time zone; ``22:00-06:00`` runs overnight."""

    hours: str = "09:00-18:00"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if not re.fullmatch(r"\d{2}:\d{2}-\d{2}:\d{2}", value.replace(" ", "")):
            raise ValueError(f"write working hours as HH:MM-HH:MM, e.g. 09:00-18:00, got {value!r}")
        start, end = value.replace(" ", "").split("-")
        for part in (start, end):
            hh, mm = (int(x) for x in part.split(":"))
            if hh > 24 or mm > 59 or (hh == 24 and mm):
                raise ValueError(f"{part!r} is not a time of day in {value!r}")
        return value.replace(" ", "")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.lower()[:3] for d in value]
        for day, given in zip(days, value, strict=True):
            if day not in WEEKDAYS:
                raise ValueError(
                    f"unknown weekday {given!r}; use mon, tue, wed, thu, fri, sat, sun"
                )
        return days

    def bounds(self) -> tuple[time, time]:
        """Start and end of the shift; end 24:00 is read as the end of the day."""
        start, end = self.hours.split("-")
        return _clock_time(start), _clock_time(end)


def _clock_time(text: str) -> time:
    hh, mm = (int(x) for x in text.split(":"))
    return time.max if hh == 24 else time(hh, mm)


class RosterSpec(ShiftSpec):
    """Who is on duty when: the team's usual hours, per-person shifts, and who is on call."""

    timezone: ZoneName = "Asia/Shanghai"
    shifts: dict[str, ShiftSpec] = Field(default_factory=dict, description="per recipient id")
    on_call: list[str] = Field(
        default_factory=list, description="always on duty: cover for warnings outside hours"
    )


class TeamAlerts(_Strict):
    """A team's people, its own channels (a team chat, a staff-app stream) and its roster."""

    members: list[str] = Field(default_factory=list)
    supervisor: str | None = None
    department_head: str | None = None
    channels: list[ChannelUse] = Field(
        default_factory=list, description="reach the team as a whole"
    )
    roster: RosterSpec = Field(default_factory=RosterSpec)
    storm_max_per_minute: int | None = Field(None, ge=1)
    locale: Locale | None = Field(None, description="zh-CN or en; default: the file's")


class DepartmentSpec(_Strict):
    """A responsible department; its head is escalation level 3 for its cases."""

    head: str


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


OneOrMany = Annotated[list[str] | None, BeforeValidator(_one_or_many)]


class RouteMatch(_Strict):
    """Which alerts a route takes; every given field must match, a list means any of."""

    clock: OneOrMany = None
    team: OneOrMany = None
    region: OneOrMany = None
    department: OneOrMany = None
    assignee: OneOrMany = None
    kind: list[Literal["warning", "breach"]] | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kinds(cls, value: Any) -> Any:
        return _one_or_many(value)


class Route(_Strict):
    """Level 1: who hears about a warning or a breach that matches, and on which channels."""

    match: RouteMatch = Field(default_factory=RouteMatch)
    to: list[str] = Field(min_length=1, description=f"{', '.join(ROLE_TARGETS)} or recipient ids")
    channels: list[str] | None = Field(None, description="only these of the recipients' channels")
    continue_: bool = Field(False, alias="continue", description="also try the routes below")


class EscalationStep(_Strict):
    """One rung above level 1: ``after`` the previous level, if still open and unacknowledged."""

    after: EscalationDelay
    to: list[str] = Field(min_length=1)
    channels: list[str] | None = None


class EscalationSpec(_Strict):
    """Ladders per clock; the first step is level 2, the next level 3, and so on."""

    default: list[EscalationStep] = Field(default_factory=list)
    clocks: dict[str, list[EscalationStep]] = Field(default_factory=dict)

    def ladder(self, clock: str) -> list[EscalationStep]:
        """The steps for ``clock``: its own, or the default."""
        return self.clocks.get(clock, self.default)


class StormSpec(_Strict):
    """More alerts than ``max_per_minute`` to one team in a minute become one digest."""

    max_per_minute: int = Field(30, ge=1)
    digest_to: list[str] = Field(default_factory=lambda: ["team", "supervisor"])


class AckSpec(_Strict):
    """Where the acknowledgement links in alerts point (the worker's web server)."""

    base_url: str | None = Field(
        None, description="default: the worker's own SLAWATCH_WEB_HOST and SLAWATCH_WEB_PORT"
    )


class AlertsSpec(_Strict):
    """A whole alerts file."""

    version: str = Field(min_length=1)
    locale: Locale = Field("zh-CN", description="language of the alerts: zh-CN or en")
    templates: str | None = Field(
        None, description="a template file of one's own, relative to this file"
    )
    ack: AckSpec = Field(default_factory=AckSpec)
    resolved_notice: bool = Field(True, description="tell whoever was alerted when the clock stops")
    dedupe_ttl: DedupeTtl = Field(
        timedelta(days=7), description="how long a sent alert is remembered"
    )
    lease: Lease = Field(
        timedelta(seconds=60), description="a claim not finished by then is retried"
    )
    channels: dict[str, ChannelSpec] = Field(min_length=1)
    recipients: dict[str, RecipientSpec] = Field(default_factory=dict)
    departments: dict[str, DepartmentSpec] = Field(default_factory=dict)
    teams: dict[str, TeamAlerts] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    unrouted: list[str] = Field(
        default_factory=list, description="who hears of alerts no route takes"
    )
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)
    storm: StormSpec = Field(default_factory=StormSpec)


def _targets(spec: AlertsSpec, targets: list[str], loc: Loc) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for i, target in enumerate(targets):
        if target not in ROLE_TARGETS and target not in spec.recipients:
            out.append(
                ((*loc, i), f"{target!r} is neither a recipient id nor one of {ROLE_TARGETS}")
            )
    return out


def _channels(spec: AlertsSpec, names: list[str] | None, loc: Loc) -> list[tuple[Loc, str]]:
    return [
        ((*loc, i), f"no channel named {name!r}; define it under channels")
        for i, name in enumerate(names or [])
        if name not in spec.channels
    ]


def _uses(spec: AlertsSpec, uses: list[ChannelUse], loc: Loc) -> list[tuple[Loc, str]]:
    out = []
    for i, use in enumerate(uses):
        channel = spec.channels.get(use.channel)
        if channel is None:
            out.append(
                (
                    (*loc, i, "channel"),
                    f"no channel named {use.channel!r}; define it under channels",
                )
            )
        elif channel.type == "email" and not use.address:
            out.append(
                ((*loc, i, "address"), f"channel {use.channel!r} is e-mail: give an address")
            )
    return out


def _ladder_length(
    spec: AlertsSpec, steps: list[EscalationStep], loc: Loc
) -> list[tuple[Loc, str]]:
    """A ladder must reach its last level before Redis forgets the breach (``dedupe_ttl``)."""
    climb = sum((step.after for step in steps), timedelta(0))
    if climb < spec.dedupe_ttl:
        return []
    return [
        (
            loc,
            f"its levels take {_span(climb)} in all, not less than dedupe_ttl "
            f"({_span(spec.dedupe_ttl)}): the last levels would never fire; shorten the ladder "
            "or raise dedupe_ttl",
        )
    ]


def cross_check(
    spec: AlertsSpec, clocks: set[str] | None = None, teams: set[str] | None = None
) -> list[tuple[Loc, str]]:
    """Every referenced recipient, channel, team and clock exists."""
    problems: list[tuple[Loc, str]] = []
    known = spec.recipients
    for rid, recipient in spec.recipients.items():
        problems += _uses(spec, recipient.channels, ("recipients", rid, "channels"))
    for did, dept in spec.departments.items():
        if dept.head not in known:
            problems.append((("departments", did, "head"), f"unknown recipient {dept.head!r}"))
    for tid, team in spec.teams.items():
        loc: Loc = ("teams", tid)
        if teams is not None and tid not in teams:
            problems.append(
                (loc, f"team {tid!r} is not in the policy file's teams {sorted(teams)}")
            )
        for i, member in enumerate(team.members):
            if member not in known:
                problems.append(((*loc, "members", i), f"unknown recipient {member!r}"))
        for role in ("supervisor", "department_head"):
            who = getattr(team, role)
            if who is not None and who not in known:
                problems.append(((*loc, role), f"unknown recipient {who!r}"))
        problems += _uses(spec, team.channels, (*loc, "channels"))
        for i, who in enumerate(team.roster.on_call):
            if who not in known:
                problems.append(((*loc, "roster", "on_call", i), f"unknown recipient {who!r}"))
        for who in team.roster.shifts:
            if who not in known:
                problems.append(((*loc, "roster", "shifts", who), f"unknown recipient {who!r}"))
    for i, route in enumerate(spec.routes):
        problems += _targets(spec, route.to, ("routes", i, "to"))
        problems += _channels(spec, route.channels, ("routes", i, "channels"))
        if clocks is not None:
            for clock in route.match.clock or []:
                if clock not in clocks:
                    problems.append((("routes", i, "match", "clock"), f"unknown clock {clock!r}"))
    ladders: list[tuple[Loc, list[EscalationStep]]] = [
        (("escalation", "default"), spec.escalation.default)
    ]
    for clock, steps in spec.escalation.clocks.items():
        ladders.append((("escalation", "clocks", clock), steps))
        if clocks is not None and clock not in clocks:
            problems.append((("escalation", "clocks", clock), f"unknown clock {clock!r}"))
    for loc, steps in ladders:
        for j, step in enumerate(steps):
            problems += _targets(spec, step.to, (*loc, j, "to"))
            problems += _channels(spec, step.channels, (*loc, j, "channels"))
        problems += _ladder_length(spec, steps, loc)
    problems += _targets(spec, spec.storm.digest_to, ("storm", "digest_to"))
    for i, who in enumerate(spec.unrouted):
        if who not in known:
            problems.append((("unrouted", i), f"unknown recipient {who!r}"))
    return problems


def policy_ids(policy: PolicySpec) -> tuple[set[str], set[str] | None]:
    """The clock and team ids an alerts file is checked against: ``(clocks, teams)``.

    A policy that declares no teams leaves team ids unchecked (None): its clocks take a case's
    team from the events, so any team may appear. ``check-config`` and the worker both ask
    here, so a file one accepts the other does not refuse.
    """
    return {clock.id for clock in policy.clocks}, set(policy.teams) or None


def load_alerts(
    path: Path, clocks: set[str] | None = None, teams: set[str] | None = None
) -> AlertsSpec:
    """Read and check an alerts file; raise :class:`ConfigError` listing every mistake.

    Args:
        path: the alerts file.
        clocks: clock ids of the policy file, to check routes and ladders against (optional).
        teams: team ids of the policy file (optional).
    """
    spec, index = load_model(path, AlertsSpec, _without_channel_type)
    problems = cross_check(spec, clocks, teams)
    if problems:
        raise ConfigError([_problem(path, index, loc, msg) for loc, msg in problems])
    if spec.templates:
        from alerts.templates import load_templates

        own = path.parent / spec.templates
        if not own.is_file():
            raise ConfigError(
                [_problem(path, index, ("templates",), f"no template file {str(own)!r}")]
            )
        load_templates(own)  # refused here, at load, with the template file's line
        spec = spec.model_copy(update={"templates": str(own)})
    return spec


_CHANNEL_TYPES = {
    "console",
    "webhook",
    "slack",
    "email",
    "redis_stream",
    "wecom",
    "dingtalk",
    "feishu",
}


def _without_channel_type(loc: Loc) -> Loc:
    """pydantic puts a channel's ``type`` tag in error locations; the file has no such key."""
    if len(loc) > 2 and loc[0] == "channels" and loc[2] in _CHANNEL_TYPES:
        return loc[:2] + loc[3:]
    return loc


def _problem(path: Path, index: LineIndex, loc: Loc, message: str) -> Problem:
    return Problem(str(path), index.line_of(loc), field_name(loc), message)
