"""Fills the templates for one notification, in its recipient's language and time zone.

The recipient's locale is their own (``recipients.<id>.locale``), else their team's, else the
alerts file's (``zh-CN`` by default). The deadline is shown in the time zone of the roster of
the recipient's team (the team whose channel it is, the team they belong to, or the case's).
The clock's display name comes from the policy file (``clocks[].name``), by locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.config import AlertsSpec
from alerts.notification import Alert, Notification
from alerts.templates import TemplateKind, Templates, load_templates
from alerts.wording import kind_label, local_time, span, words

__all__ = ["ClockNames", "Renderer"]

ClockNames = Mapping[str, Mapping[str, str]]
"""Clock id -> locale (or ``*`` for any) -> display name."""

_DEFAULT_ZONE = "Asia/Shanghai"


class Renderer:
    """Title, text, chat markdown and HTML for a notification.

    Args:
        templates: the compiled templates (built-in and the user's).
        spec: the alerts configuration, for locales and rosters; None: defaults only.
        clock_names: display names of the clocks from the policy file.
    """

    def __init__(
        self,
        templates: Templates | None = None,
        spec: AlertsSpec | None = None,
        clock_names: ClockNames | None = None,
    ) -> None:
        self._templates = templates or load_templates()
        self._spec = spec
        self._names = clock_names or {}

    @classmethod
    def for_spec(cls, spec: AlertsSpec, clock_names: ClockNames | None = None) -> Renderer:
        """The renderer of an alerts file, with its own template file if it names one."""
        own = Path(spec.templates) if spec.templates else None
        return cls(load_templates(own), spec, clock_names)

    def _team_of(self, n: Notification) -> str | None:
        if n.recipient.startswith("team:"):
            return n.recipient.removeprefix("team:")
        if self._spec is not None:
            for tid, team in self._spec.teams.items():
                if n.recipient in (*team.members, team.supervisor, team.department_head):
                    return tid
        return n.alert.team

    def locale(self, n: Notification) -> str:
        """The language ``n`` is written in."""
        if self._spec is None:
            return "zh-CN"
        person = self._spec.recipients.get(n.recipient)
        if person is not None and person.locale:
            return person.locale
        team = self._spec.teams.get(self._team_of(n) or "")
        if team is not None and team.locale:
            return team.locale
        return self._spec.locale

    def zone(self, n: Notification) -> str:
        """The IANA time zone the recipient reads times in."""
        if self._spec is None:
            return _DEFAULT_ZONE
        team = self._spec.teams.get(self._team_of(n) or "") or self._spec.teams.get(
            n.alert.team or ""
        )
        return team.roster.timezone if team is not None else _DEFAULT_ZONE

    def clock_name(self, clock: str, locale: str) -> str:
        """The clock's display name in ``locale``; its id when the policy gives none."""
        names = self._names.get(clock, {})
        return names.get(locale) or names.get("*") or clock

    def _alert_fields(self, a: Alert, now: datetime, locale: str, zone: str) -> dict[str, Any]:
        w = words(locale)
        late = time_left = ""
        used: int | None = None
        if a.deadline is not None and a.kind in ("breach", "escalation"):
            late = span(now - a.deadline, locale)
        if a.deadline is not None and a.kind == "warning":
            time_left = span(a.deadline - now, locale)
            used = round((a.threshold or 0) * 100)
        return {
            "kind": a.kind,
            "kind_label": kind_label(a.kind, locale),
            "level": a.level if a.level.isdigit() else "",
            "case_id": a.case_id,
            "case_kind": a.case_kind,
            "clock": a.clock,
            "clock_name": self.clock_name(a.clock, locale),
            "cycle": a.cycle,
            "deadline": local_time(a.deadline, zone) if a.deadline else "",
            "timezone": zone,
            "time_left": time_left,
            "late_by": late,
            "used_pct": used,
            "owner": a.assignee or w["unassigned"],
            "team": a.team or w["none"],
            "region": a.region or w["none"],
            "department": a.department or w["none"],
            "outcome": w.get(a.outcome, a.outcome) if a.outcome else "",
        }

    def fields(self, n: Notification, now: datetime) -> dict[str, Any]:
        """Every field a template may use, filled for ``n`` (without ``title``)."""
        locale, zone = self.locale(n), self.zone(n)
        out = self._alert_fields(n.alert, now, locale, zone)
        out.update(
            ack_url=n.ack_url or "",
            recipient=n.recipient,
            locale=locale,
            items=[self._alert_fields(a, now, locale, zone) for a in n.digest],
            count=len(n.digest),
        )
        return out

    def render(self, kind: TemplateKind, n: Notification, now: datetime) -> str:
        """One of the templates filled for ``n``."""
        fields = self.fields(n, now)
        locale = fields["locale"]
        fields["title"] = self._templates.render(locale, "title", fields)
        if kind == "title":
            return str(fields["title"])
        return self._templates.render(locale, kind, fields)

    def title(self, n: Notification, now: datetime) -> str:
        """One line: what happened to which case."""
        return self.render("title", n, now)

    def text(self, n: Notification, now: datetime) -> str:
        """Plain text (console, e-mail)."""
        return self.render("text", n, now)

    def markdown(self, n: Notification, now: datetime) -> str:
        """Chat markdown (WeCom, DingTalk, Feishu)."""
        return self.render("markdown", n, now)

    def html(self, n: Notification, now: datetime) -> str:
        """HTML (e-mail); values escaped."""
        return self.render("html", n, now)
