"""How alerts read on each channel: in the recipient's language, every field staff act on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts.config import load_alerts
from alerts.message import as_document
from alerts.notification import AlertKind, Notification, alert_from, notification_key
from alerts.render import Renderer
from alerts.sinks.slack import slack_message
from alerts.templates import FIELDS, load_templates
from sla.config_file import ConfigError
from sla.records import BreachRecord, WarningRecord
from tests.alerts.conftest import BASE_CONFIG, T0, breach, make_spec, warning, write_config

NAMES = {
    "complaint_first_response": {
        "zh-CN": "投诉首次回复 24 小时",
        "en": "Complaint first response, 24 h",
    }
}
SHANGHAI = {
    **BASE_CONFIG["teams"]["cs-frontline"],
    "roster": {"timezone": "Asia/Shanghai"},
}


def note(
    record: BreachRecord | WarningRecord, level: int = 1, recipient: str = "agent-1"
) -> Notification:
    kind: AlertKind = "breach" if isinstance(record, BreachRecord) else "warning"
    alert = alert_from(record, kind=kind, level=level if kind == "breach" else None)
    return Notification(
        key=notification_key(alert, recipient, "console"),
        recipient=recipient,
        channel="console",
        alert=alert,
        ack_url="http://w/ack?b=x&sig=y",
        created_at=T0,
    )


def renderer(**changes: object) -> Renderer:
    return Renderer.for_spec(make_spec(**changes), NAMES)


class TestChinese:
    def test_breach_says_every_field_in_chinese(self) -> None:
        """By default a breach reads in Chinese: limit, case, local deadline, lateness, owner..."""
        r = renderer(locale="zh-CN", teams={"cs-frontline": SHANGHAI})
        text = r.text(note(breach(), level=2), T0 + timedelta(hours=2, minutes=5))
        assert [
            "【升级 第 2 级】投诉首次回复 24 小时 · 案件 C-1 已超时 2 小时 5 分钟",
            "时限：投诉首次回复 24 小时",
            "案件：C-1（第 1 轮）",
            "截止时间：2026-03-02 18:00 (UTC+08:00)",
            "已超时：2 小时 5 分钟",
            "负责人：agent-1",
            "团队：cs-frontline　区域：sh",
            "升级级别：第 2 级",
            "确认处理（停止升级）：http://w/ack?b=x&sig=y",
        ] == text.splitlines()

    def test_default_locale_is_chinese(self) -> None:
        """An alerts file that says nothing about language gets Chinese messages."""
        spec = make_spec()
        data = spec.model_dump(by_alias=True, exclude={"locale"})
        from alerts.config import AlertsSpec

        r = Renderer.for_spec(AlertsSpec.model_validate(data), NAMES)
        assert r.title(note(warning()), T0).startswith("【预警 80%】投诉首次回复 24 小时")

    def test_warning_says_time_left(self) -> None:
        """A warning says how long is left and how much of the time is used."""
        text = renderer(locale="zh-CN").markdown(note(warning()), T0)
        assert "- 剩余时间：**1 小时 0 分钟**（已用 80%）" in text.splitlines()


class TestLocale:
    def test_recipient_locale_wins_over_the_team_and_file(self) -> None:
        """A recipient who reads English gets English in a Chinese team."""
        recipients = {
            **BASE_CONFIG["recipients"],
            "agent-1": {"channels": ["console"], "locale": "en"},
        }
        team = {**SHANGHAI, "locale": "zh-CN"}
        r = renderer(locale="zh-CN", recipients=recipients, teams={"cs-frontline": team})
        assert ("en", "zh-CN") == (
            r.locale(note(breach(), recipient="agent-1")),
            r.locale(note(breach(), recipient="agent-2")),
        )

    def test_team_locale_and_its_channel(self) -> None:
        """A team set to English reads English on its own channel (team:<id>) too."""
        r = renderer(locale="zh-CN", teams={"cs-frontline": {**SHANGHAI, "locale": "en"}})
        title = r.title(note(breach(), recipient="team:cs-frontline"), T0 + timedelta(minutes=42))
        assert (
            "BREACH case C-1 clock Complaint first response, 24 h (cycle 1) 42m late; "
            "owner agent-1, team cs-frontline"
        ) == title

    def test_clock_without_a_name_shows_its_id(self) -> None:
        """A policy clock with no display name is shown by its id."""
        r = Renderer.for_spec(make_spec(locale="en"), {})
        assert "clock complaint_first_response (cycle 1)" in r.title(note(breach()), T0)


class TestChannels:
    def test_slack_message_has_the_ack_link(self) -> None:
        """The Slack blocks end with the acknowledgement link, labelled in the reader's language."""
        message = slack_message(note(breach()), T0, renderer(locale="zh-CN"))
        assert "<http://w/ack?b=x&sig=y|确认处理>" == message["blocks"][-1]["text"]["text"]

    def test_html_is_escaped(self) -> None:
        """Values are escaped in HTML (an id with markup stays text)."""
        html = renderer().html(note(breach(case_id="<b>C</b>")), T0)
        assert "&lt;b&gt;C&lt;/b&gt;" in html
        assert "<b>C</b>" not in html

    def test_document_has_what_a_staff_screen_needs(self) -> None:
        """The JSON document carries ids, the clock's name, lateness in seconds and the ack link."""
        doc = as_document(note(breach()), T0 + timedelta(seconds=90), renderer(locale="zh-CN"))
        assert (
            90.0,
            "C-1/complaint_first_response/1/L1/agent-1/console",
            "http://w/ack?b=x&sig=y",
            "投诉首次回复 24 小时",
            "zh-CN",
        ) == (
            doc["late_seconds"],
            doc["id"],
            doc["ack_url"],
            doc["clock_name"],
            doc["locale"],
        )


class TestTemplateFile:
    def test_builtin_templates_use_only_known_fields(self) -> None:
        """The shipped templates load (they are checked like a user's)."""
        load_templates()

    def test_own_template_replaces_the_builtin(self, tmp_path: Path) -> None:
        """A user's file beside the alerts file replaces the templates it sets, keeps the rest."""
        (tmp_path / "my-templates.yaml").write_text(
            "zh-CN:\n  title: '超时 {{ case_id }} {{ clock_name }}'\n", encoding="utf-8"
        )
        path = write_config(
            tmp_path, {**BASE_CONFIG, "locale": "zh-CN", "templates": "my-templates.yaml"}
        )
        r = Renderer.for_spec(load_alerts(path), NAMES)
        n = note(breach())
        assert ("超时 C-1 投诉首次回复 24 小时", "时限：投诉首次回复 24 小时") == (
            r.title(n, T0),
            r.text(n, T0).splitlines()[1],
        )

    @pytest.mark.parametrize(
        ("body", "line", "message"),
        [
            (
                "zh-CN:\n  text: |\n    案件 {{ case_id }}\n    电话 {{ customer_phone }}\n",
                4,
                "zh-CN.text: unknown field 'customer_phone'",
            ),
            (
                "en:\n  markdown: |\n    {% for a in items %}\n    {{ a.case_id }} {{ a.name }}\n"
                "    {% endfor %}\n",
                4,
                "en.markdown: unknown field 'a.name'",
            ),
            ("en:\n  title: 'Case {{ case_id }'\n", 2, "en.title: not a valid template"),
            ("en:\n  title: 'Case'\n  subject: x\n", 3, "en.subject: unknown template"),
            ("fr:\n  title: 'Cas {{ case_id }}'\n", 1, "fr: unknown locale"),
            ("en:\n  title: '{{ title }}'\n", 2, "en.title: unknown field 'title'"),
            (
                "en:\n  text: |\n    Case {{ case_id }}\n    {{ cycle / owner }}\n",
                4,
                "en.text: fails on a breach: unsupported operand",
            ),
        ],
    )
    def test_bad_template_is_refused_with_file_and_line(
        self, tmp_path: Path, body: str, line: int, message: str
    ) -> None:
        """A template naming an unknown field (or broken) is refused at load: file, line, what."""
        (tmp_path / "t.yaml").write_text(body, encoding="utf-8")
        path = write_config(tmp_path, {**BASE_CONFIG, "templates": "t.yaml"})
        with pytest.raises(ConfigError) as caught:
            load_alerts(path)
        text = str(caught.value)
        assert text.startswith(f"{tmp_path / 't.yaml'}:{line}: {message}"), text

    def test_missing_template_file_names_the_alerts_field(self, tmp_path: Path) -> None:
        """An alerts file naming a template file that is not there is refused at its line."""
        path = write_config(tmp_path, {**BASE_CONFIG, "templates": "nowhere.yaml"})
        with pytest.raises(ConfigError, match=r"alerts.yaml:\d+: templates: no template file"):
            load_alerts(path)

    def test_every_field_is_documented(self) -> None:
        """Each template field is listed in the alerts reference."""
        doc = Path(__file__).parents[2].joinpath("docs/reference/alerts.md").read_text("utf-8")
        assert [] == [f for f in FIELDS if f"`{f}`" not in doc]
