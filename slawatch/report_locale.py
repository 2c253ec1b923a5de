"""Reports in the supervisors' language: Chinese by default, English on request.

:mod:`sla.readmodels.reports` computes the numbers with English labels (its tests and the
replay summary read them); :func:`localize` rewrites a report's titles, column headings,
fixed row labels and notes for ``zh-CN``. A label this module does not know is kept as it
is, so a new table reads in English until it is added here (a test renders every report and
checks none is left).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Literal

from sla.readmodels.reports import Cell, Report, Table

__all__ = ["ReportLocale", "localize", "period_words"]

ReportLocale = Literal["zh-CN", "en"]

_ZH: dict[str, str] = {
    # titles
    "Attainment per clock": "各时限达标情况",
    "On-time rate per clock": "各时限按时率",
    "Satisfaction (return visits)": "满意度（回访）",
    "First-contact resolution": "首次联系解决率",
    "Monthly responsibility report": "月度责任报告",
    "Breaches per department and clock": "各部门各时限超时数",
    "Breaches per team and clock": "各团队各时限超时数",
    "Breaches per person and clock": "各员工各时限超时数",
    "Policy change: current → candidate": "时限规则变更：当前 → 候选",
    # columns
    "clock": "时限",
    "team": "团队",
    "department": "部门",
    "staff id": "员工编号",
    "cycles": "周期数",
    "met": "按时",
    "breached": "超时",
    "open, breached": "未结（已超时）",
    "open": "未结",
    "cancelled/reset": "取消/重置",
    "attainment": "达标率",
    "target": "目标",
    "judged": "参与考核",
    "cases": "案件数",
    "share": "占比",
    "grade": "满意度",
    "share of surveyed": "占回访比例",
    "resolved cases": "已解决案件",
    "first contact": "首次联系解决",
    "rate": "比率",
    "judged (current)": "参与考核（当前）",
    "judged (candidate)": "参与考核（候选）",
    "breaches (current)": "超时（当前）",
    "breaches (candidate)": "超时（候选）",
    "Δ breaches": "超时变化",
    "attainment (current)": "达标率（当前）",
    "attainment (candidate)": "达标率（候选）",
    "Δ attainment": "达标率变化",
    # fixed row labels
    "not surveyed": "未回访",
    "very satisfied": "非常满意",
    "relatively satisfied": "比较满意",
    "basically satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very dissatisfied": "非常不满意",
    "all": "全部",
    # notes
    "attainment = met / (met + breached + open past deadline); cancelled and reset cycles are "
    "not judged": "达标率 = 按时 / (按时 + 超时 + 已过截止时间的未结)；取消和重置的周期不参与考核",
    "First-contact resolution: a resolved case whose resolution clock ended in its first cycle "
    "(never reopened) without pausing (no wait on the customer, no transfer).": (
        "首次联系解决：处理时限在第一个周期内结束（未重开）且未暂停（未等待客户、未转交）的已解决案件。"
    ),
    "A cycle is attributed to the owner recorded on its outcome; 'none' means the case had no "
    "owner of that kind.": "每个周期计入其结果记录的负责人；“none”表示该案件没有此类负责人。",
    "a clock that exists in one policy only shows 0 judged cycles in the other": (
        "只在一个规则中存在的时限，在另一个规则中显示为 0 个考核周期"
    ),
}

_KINDS = {"complaint": "投诉", "enquiry": "咨询", "shipment": "运单"}
_LABELS = {
    "complaint class": "投诉类别",
    "channel": "渠道",
    "region": "区域",
}

#: (pattern, Chinese) for labels that carry a value; groups are kept.
_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"^Weekly (?:(\w+) )?summary$"), lambda m: f"{_KINDS.get(m[1], m[1] or '')}周报"),
    (re.compile(r"^Cases by (.+)$"), lambda m: f"按{_LABELS.get(m[1], m[1])}统计案件"),
    (re.compile(r"^other \((\d+) values\)$"), lambda m: f"其他（{m[1]} 项）"),
    (re.compile(r"^(\d+) cases with a clock cycle ending in the period\.$"),
     lambda m: f"本期共 {m[1]} 个案件有时限周期结束。"),
    (re.compile(r"^(\d+) judged clock cycles ended in the period\.$"),
     lambda m: f"本期共结束 {m[1]} 个参与考核的时限周期。"),
    (re.compile(r"^(.*); (\d+) clock/team rows without any change are not shown$"),
     lambda m: f"{_zh(m[1])}；未显示 {m[2]} 行没有变化的时限/团队"),
)  # fmt: skip


def _zh(text: str) -> str:
    if text in _ZH:
        return _ZH[text]
    if text in _LABELS:
        return _LABELS[text]
    for pattern, make in _PATTERNS:
        match = pattern.match(text)
        if match:
            return make(match)
    return text


def _cell(value: Cell, names: Mapping[str, str]) -> Cell:
    if not isinstance(value, str):
        return value
    return names.get(value) or _zh(value)


def _table(table: Table, names: Mapping[str, str]) -> Table:
    rows = tuple(
        tuple(
            _cell(v, names) if k == "text" else v for v, k in zip(row, table.formats, strict=True)
        )
        for row in table.rows
    )
    return replace(
        table,
        title=_zh(table.title),
        columns=tuple(_zh(c) for c in table.columns),
        rows=rows,
        note=_zh(table.note) if table.note else table.note,
    )


def localize(
    report: Report,
    locale: ReportLocale = "zh-CN",
    clock_names: Mapping[str, Mapping[str, str]] | None = None,
) -> Report:
    """``report`` with its labels in ``locale`` (unchanged for ``en``).

    Args:
        clock_names: the policy's display names (clock id -> locale -> name); a clock id in a
            table is shown by its Chinese name.
    """
    if locale == "en":
        return report
    names = {
        clock: by_locale.get(locale) or by_locale.get("*") or clock
        for clock, by_locale in (clock_names or {}).items()
    }
    return replace(
        report,
        title=_zh(report.title),
        tables=tuple(_table(t, names) for t in report.tables),
        notes=tuple(_zh(n) for n in report.notes),
    )


def period_words(locale: str) -> tuple[str, str]:
    """The words for "all data" and "to" in a period line."""
    return ("全部数据", "至") if locale == "zh-CN" else ("all data", "to")
