"""The words an alert is made of, per locale: kinds, levels, durations, "unassigned".

Templates (:mod:`alerts.templates`) decide the layout; these are the pieces of text a template
cannot sensibly build itself (a duration in words, a local date). Two locales are known:
``zh-CN`` (the default: the staff of a Chinese customer-service centre) and ``en``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

__all__ = ["LOCALES", "Locale", "kind_label", "local_time", "span", "words"]

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[str, ...] = get_args(Locale)

_WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "warning": "预警",
        "breach": "已超时",
        "escalation": "升级",
        "resolved": "已结束",
        "digest": "汇总",
        "unassigned": "未分配",
        "none": "无",
        "day": "天",
        "hour": "小时",
        "minute": "分钟",
        "second": "秒",
        "met": "按时完成",
        "breached": "超时完成",
        "cancelled": "已取消",
        "reset": "已重置",
        "retracted": "已撤回",
    },
    "en": {
        "warning": "WARNING",
        "breach": "BREACH",
        "escalation": "ESCALATION",
        "resolved": "RESOLVED",
        "digest": "DIGEST",
        "unassigned": "unassigned",
        "none": "none",
        "day": "d",
        "hour": "h",
        "minute": "m",
        "second": "s",
        "met": "met",
        "breached": "breached",
        "cancelled": "cancelled",
        "reset": "reset",
        "retracted": "retracted",
    },
}


def words(locale: str) -> dict[str, str]:
    """The word list of ``locale`` (``en`` for a locale this module does not know)."""
    return _WORDS.get(locale, _WORDS["en"])


def kind_label(kind: str, locale: str) -> str:
    """``breach`` -> ``已超时`` (zh-CN) or ``BREACH`` (en)."""
    return words(locale).get(kind, kind)


def span(duration: timedelta, locale: str) -> str:
    """A duration as staff read it, at most two units.

    >>> span(timedelta(hours=2, minutes=5), "zh-CN"), span(timedelta(hours=2, minutes=5), "en")
    ('2 小时 5 分钟', '2h 5m')
    >>> span(timedelta(seconds=40), "en"), span(timedelta(days=3), "zh-CN")
    ('40s', '3 天 0 小时')
    """
    w = words(locale)
    gap = " " if locale == "zh-CN" else ""
    seconds = int(abs(duration.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [(days, "day"), (hours, "hour")]
    elif hours:
        parts = [(hours, "hour"), (minutes, "minute")]
    elif minutes:
        parts = [(minutes, "minute")]
    else:
        parts = [(secs, "second")]
    return " ".join(f"{n}{gap}{w[unit]}" for n, unit in parts)


def local_time(when: datetime, zone: str) -> str:
    """``when`` on the recipient's wall clock, minutes precision, with the zone's offset.

    >>> from datetime import UTC
    >>> local_time(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), "Asia/Shanghai")
    '2026-03-02 18:00 (UTC+08:00)'
    """
    local = when.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"
