"""Who hears about an alert, on which channels: routes for level 1, ladders above it.

Pure: a record, the alerts configuration and the time in, a list of deliveries out. Targets
are roles (``assignee``, ``team``, ``on_duty``, ``supervisor``, ``department_head``) resolved
against the record's team and department, or recipient ids. Warnings and level-1 breaches for a
person who is off duty go to whoever is on duty for the team instead; escalations go to the
named role at any hour, because waking the supervisor is what an unacknowledged breach is for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from alerts.config import AlertsSpec, ChannelUse, Route, TeamAlerts
from alerts.roster import is_on_duty, on_duty_members
from sla.records import ClockRef

__all__ = ["Delivery", "Router", "team_recipient"]


def team_recipient(team: str) -> str:
    """The recipient id that stands for a team's own channels.

    >>> team_recipient("claims")
    'team:claims'
    """
    return f"team:{team}"


@dataclass(frozen=True)
class Delivery:
    """Send to ``recipient`` on ``channel``; ``level`` is warning, 1, 2, 3, resolved or digest."""

    recipient: str
    channel: str
    level: str


def _matches(wanted: list[str] | None, value: str | None) -> bool:
    return wanted is None or (value is not None and value in wanted)


class Router:
    """Turns records into deliveries by the alerts configuration."""

    def __init__(self, spec: AlertsSpec) -> None:
        self._spec = spec

    def routes_for(self, ref: ClockRef, kind: str) -> list[Route]:
        """The routes an alert of ``kind`` (warning or breach) takes, in file order."""
        taken = []
        for route in self._spec.routes:
            m = route.match
            if (
                _matches(m.clock, ref.clock)
                and _matches(m.team, ref.team)
                and _matches(m.region, ref.region)
                and _matches(m.department, ref.department)
                and _matches(m.assignee, ref.assignee)
                and (m.kind is None or kind in m.kind)
            ):
                taken.append(route)
                if not route.continue_:
                    break
        return taken

    def first_level(self, ref: ClockRef, kind: str, now: datetime) -> list[Delivery]:
        """Level 1 (a breach) or a warning: the matching routes, or the assignee by default."""
        level = "warning" if kind == "warning" else "1"
        routes = self.routes_for(ref, kind)
        out: list[Delivery] = []
        if not routes:
            out = self._deliver(self._expand(["assignee"], ref, now, redirect=True), None, level)
        for route in routes:
            people = self._expand(route.to, ref, now, redirect=True)
            out += self._deliver(people, route.channels, level)
        return self._unique(out) or self._unrouted(level)

    def escalation(self, ref: ClockRef, level: int, now: datetime) -> list[Delivery]:
        """Who hears of level ``level`` (2, 3, ...) of the clock's ladder."""
        steps = self._spec.escalation.ladder(ref.clock)
        if not 2 <= level <= len(steps) + 1:
            return []
        step = steps[level - 2]
        people = self._expand(step.to, ref, now, redirect=False)
        return self._unique(self._deliver(people, step.channels, str(level))) or self._unrouted(
            str(level)
        )

    def digest(self, team: str, now: datetime) -> list[Delivery]:
        """Who receives a team's storm digest."""
        ref = ClockRef(
            case_id="", case_kind="", clock="", cycle=0, policy_version="", standard="",
            target=1.0, team=team,
        )  # fmt: skip
        people = self._expand(self._spec.storm.digest_to, ref, now, redirect=False)
        return self._unique(self._deliver(people, None, "digest")) or self._unrouted("digest")

    def reaches(self, recipient: str) -> list[str]:
        """The channel names a recipient (or ``team:<id>``) is reached on."""
        return [use.channel for use in self._uses(recipient)]

    def address(self, recipient: str, channel: str) -> str | None:
        """The recipient's address reference on ``channel`` (unresolved), if it has one."""
        for use in self._uses(recipient):
            if use.channel == channel:
                return use.address
        return None

    def _uses(self, recipient: str) -> list[ChannelUse]:
        if recipient.startswith("team:"):
            team = self._spec.teams.get(recipient.removeprefix("team:"))
            return team.channels if team else []
        person = self._spec.recipients.get(recipient)
        return person.channels if person else []

    def _team(self, ref: ClockRef) -> TeamAlerts | None:
        return self._spec.teams.get(ref.team) if ref.team else None

    def _expand(
        self, targets: Iterable[str], ref: ClockRef, now: datetime, *, redirect: bool
    ) -> list[str]:
        team = self._team(ref)
        people: list[str] = []
        for target in targets:
            if target == "assignee":
                if ref.assignee in self._spec.recipients:
                    assert ref.assignee is not None
                    people += self._cover(ref.assignee, ref, now) if redirect else [ref.assignee]
                else:
                    people += self._expand(["team"], ref, now, redirect=redirect)
            elif target == "team":
                if team is not None and ref.team is not None:
                    if team.channels:
                        people.append(team_recipient(ref.team))
                    else:
                        people += on_duty_members(team, now) or team.members
            elif target == "on_duty":
                people += on_duty_members(team, now) if team else []
            elif target == "supervisor":
                people += [team.supervisor] if team and team.supervisor else []
            elif target == "department_head":
                dept = self._spec.departments.get(ref.department or "")
                head = dept.head if dept else (team.department_head if team else None)
                people += [head] if head else []
            elif redirect:
                people += self._cover(target, ref, now)
            else:
                people.append(target)
        return people

    def _cover(self, person: str, ref: ClockRef, now: datetime) -> list[str]:
        """``person`` if on duty, else whoever is on duty for the team instead."""
        team = self._team(ref)
        if team is None or is_on_duty(team.roster, person, now):
            return [person]
        covering = [p for p in on_duty_members(team, now) if p != person]
        if covering:
            return covering
        if team.channels and ref.team is not None:
            return [team_recipient(ref.team)]
        return [person]

    def _deliver(self, people: list[str], only: list[str] | None, level: str) -> list[Delivery]:
        out = []
        for person in people:
            channels = self.reaches(person)
            preferred = [c for c in channels if only is None or c in only]
            for channel in preferred or channels:
                out.append(Delivery(person, channel, level))
        return out

    def _unrouted(self, level: str) -> list[Delivery]:
        return self._unique(self._deliver(list(self._spec.unrouted), None, level))

    @staticmethod
    def _unique(deliveries: list[Delivery]) -> list[Delivery]:
        seen: set[tuple[str, str]] = set()
        out = []
        for d in deliveries:
            if (d.recipient, d.channel) not in seen:
                seen.add((d.recipient, d.channel))
                out.append(d)
        return out
