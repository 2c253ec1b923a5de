"""The worklist as a plain HTML page (``/worklist.html``): one table per bucket, no script.

Headings in Chinese by default (``lang=en`` for English); values escaped; times in the
answer's time zone. The answer itself is :func:`streams.worklist.worklist`'s.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.wording import span
from streams.worklist import BUCKETS, teams_of

__all__ = ["level_text", "render_html", "words"]

_LABELS = {
    "zh-CN": {
        "title": "待跟进清单",
        "overdue": "已超时",
        "1h": "1 小时内到期",
        "4h": "4 小时内到期",
        "today": "今天到期",
        "later": "之后到期",
        "paused": "已暂停",
        "case": "案件",
        "clock": "时限",
        "owner": "负责人",
        "team": "团队",
        "deadline": "截止时间",
        "left": "剩余 / 超时",
        "level": "级别",
        "none": "当前没有待跟进的案件。",
        "incomplete": "部分工作节点未响应，清单可能不完整：",
        "all_teams": "全部团队",
    },
    "en": {
        "title": "Worklist",
        "overdue": "Overdue",
        "1h": "Due within 1 hour",
        "4h": "Due within 4 hours",
        "today": "Due today",
        "later": "Due later",
        "paused": "Paused",
        "case": "Case",
        "clock": "Clock",
        "owner": "Owner",
        "team": "Team",
        "deadline": "Deadline",
        "left": "Left / late",
        "level": "Level",
        "none": "Nothing to chase right now.",
        "incomplete": "Some workers did not answer; the list may be incomplete:",
        "all_teams": "all teams",
    },
}


def _left(seconds: float | None, locale: str) -> str:
    if seconds is None:
        return "-"
    text = span(timedelta(seconds=abs(seconds)), locale)
    if seconds < 0:
        return f"超时 {text}" if locale == "zh-CN" else f"{text} late"
    return text


def level_text(level: str, locale: str) -> str:
    """A level as the page shows it.

    >>> level_text("warned 80%", "zh-CN"), level_text("L2", "zh-CN"), level_text("L2", "en")
    ('已预警 80%', '第 2 级', 'L2')
    """
    if locale != "zh-CN" or not level:
        return level or "-"
    if level == "breached":
        return "已超时"
    if level.startswith("warned "):
        return "已预警 " + level.removeprefix("warned ")
    if level.startswith("L") and level[1:].isdigit():
        return f"第 {level[1:]} 级"
    return level


def words(locale: str) -> dict[str, str]:
    """The page's words (bucket names, headings) in ``locale``; Chinese for any other."""
    return _LABELS.get(locale, _LABELS["zh-CN"])


def render_html(answer: dict[str, Any], locale: str = "zh-CN") -> str:
    """The plain page: one table per bucket, times in the answer's zone; no script."""
    words = _LABELS.get(locale, _LABELS["zh-CN"])
    zone = ZoneInfo(answer["timezone"])
    team = ", ".join(sorted(teams_of(answer.get("team")) or [])) or words["all_teams"]
    esc = html.escape
    parts = [
        "<!doctype html>",
        f'<html lang="{esc(locale)}"><head><meta charset="utf-8">',
        '<meta http-equiv="refresh" content="60">',
        f"<title>{esc(words['title'])} · {esc(team)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem}"
        "table{border-collapse:collapse;margin-bottom:1rem}"
        "th,td{border-bottom:1px solid #ddd;padding:.3rem .7rem;text-align:left}"
        "h2{font-size:1.05rem;margin-top:1.2rem}.overdue td{color:#b00020}"
        ".warn{background:#fff4e5;padding:.5rem}</style></head><body>",
        f"<h1>{esc(words['title'])} · {esc(team)}</h1>",
        f"<p>{esc(answer['timezone'])} · {esc(answer['now'][:19])}Z</p>",
    ]
    if not answer["complete"]:
        parts.append(
            f'<p class="warn">{esc(words["incomplete"])} {esc(", ".join(answer["missing"]))}</p>'
        )
    if not answer["items"]:
        parts.append(f'<p id="empty">{esc(words["none"])}</p>')
    for bucket in BUCKETS:
        rows = [i for i in answer["items"] if i["bucket"] == bucket]
        if not rows:
            continue
        head = "".join(
            f"<th>{esc(words[k])}</th>"
            for k in ("case", "clock", "owner", "team", "deadline", "left", "level")
        )
        body = []
        for i in rows:
            deadline = (
                datetime.fromisoformat(i["deadline"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if i["deadline"]
                else "-"
            )
            cells = (
                i["case_id"], i["clock_name"], i["owner"] or "-", i["team"] or "-", deadline,
                _left(i["seconds_left"], locale), level_text(i["level"], locale),
            )  # fmt: skip
            body.append(
                f'<tr class="{esc(bucket)}" data-case="{esc(i["case_id"])}">'
                + "".join(f"<td>{esc(str(c))}</td>" for c in cells)
                + "</tr>"
            )
        parts.append(
            f'<h2>{esc(words[bucket])} ({len(rows)})</h2><table id="{esc(bucket)}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
