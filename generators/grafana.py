"""A small builder for Grafana dashboard JSON: panels, rows, variables, thresholds.

Why not a library: ``grafanalib`` lags current panel types, and ``grafana-foundation-sdk`` is
alpha with one package build per Grafana version (its version numbers carry an epoch, so
``pip`` picks a build by date, not by the Grafana you run). The JSON model is stable and
small enough that typed helpers over plain dicts are easier to read and to review, and the
output is deterministic for the golden-file test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DATASOURCE",
    "Layout",
    "Step",
    "Target",
    "dashboard",
    "panel",
    "query_variable",
    "row",
    "series_thresholds",
    "thresholds",
]

#: Panels read the datasource chosen in the ``datasource`` variable.
DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39

#: One threshold step: (value, colour); the first step's value is ``None`` (the base colour).
Step = tuple[float | None, str]


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def thresholds(*steps: Step) -> dict[str, Any]:
    """Absolute threshold steps, e.g. ``thresholds((None, "red"), (0.95, "green"))``."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def series_thresholds(name: str, *steps: Step, regex: bool = False) -> dict[str, Any]:
    """An override giving the series ``name`` (display name, or a regex) its own thresholds."""
    matcher = {"id": "byRegexp" if regex else "byName", "options": name}
    return {"matcher": matcher, "properties": [{"id": "thresholds", "value": thresholds(*steps)}]}


@dataclass
class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping to new lines."""

    next_id: int = 1
    x: int = 0
    y: int = 0
    line_height: int = 0
    panels: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: dict[str, Any], width: int, height: int) -> None:
        """Append ``item`` at the next free place of ``width`` x ``height`` grid units."""
        if self.x + width > 24:
            self.x, self.y, self.line_height = 0, self.y + self.line_height, 0
        item["id"] = self.next_id
        item["gridPos"] = {"h": height, "w": width, "x": self.x, "y": self.y}
        self.next_id += 1
        self.x += width
        self.line_height = max(self.line_height, height)
        self.panels.append(item)

    def row(self, title: str) -> None:
        """A full-width row header on a line of its own."""
        if self.x:
            self.x, self.y, self.line_height = 0, self.y + self.line_height, 0
        self.add(row(title), 24, 1)
        self.x, self.y, self.line_height = 0, self.y + 1, 0


def row(title: str) -> dict[str, Any]:
    """A row header (never collapsed: supervisors should not have to click to see)."""
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def _target(ref: str, target: Target) -> dict[str, Any]:
    out: dict[str, Any] = {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": target.expr,
        "legendFormat": target.legend or "__auto",
        "range": not target.instant,
        "instant": target.instant,
    }
    if target.table:
        out["format"] = "table"
    return out


def panel(
    kind: str,
    title: str,
    description: str,
    targets: Sequence[Target],
    *,
    unit: str,
    steps: Sequence[Step],
    overrides: Sequence[dict[str, Any]] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    decimals: int | None = None,
    options: dict[str, Any] | None = None,
    mappings: Sequence[dict[str, Any]] = (),
    time_from: str | None = None,
) -> dict[str, Any]:
    """A panel; ``unit``, ``description`` and threshold ``steps`` are required on purpose."""
    if not description:
        raise ValueError(f"panel {title!r} needs a description: say what it shows and why")
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": thresholds(*steps),
        "color": {"mode": "thresholds"},
        "mappings": list(mappings),
    }
    if kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {"thresholdsStyle": {"mode": "line+area"}, "lineWidth": 2}
    for key, value in (("min", minimum), ("max", maximum), ("decimals", decimals)):
        if value is not None:
            defaults[key] = value
    refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [_target(refs[i], t) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": options or {},
    }
    if time_from:
        out["timeFrom"] = time_from
    return out


def query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value template variable filled from ``label_values(...)``, "All" by default."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


def _datasource_variable() -> dict[str, Any]:
    """The Prometheus data source; ``prometheus`` is the uid the provisioning files give it."""
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Prometheus",
        "query": "prometheus",
        "current": {
            "selected": True,
            "text": "Prometheus",
            "value": "prometheus",
        },
        "hide": 0,
        "options": [],
        "refresh": 1,
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    layout: Layout,
    variables: Sequence[dict[str, Any]],
    links: Sequence[dict[str, Any]] = (),
    time_from: str = "now-24h",
) -> dict[str, Any]:
    """A whole dashboard, ready for file provisioning."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["slawatch", "sla"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": [_datasource_variable(), *variables]},
        "annotations": {"list": []},
        "links": list(links),
        "panels": layout.panels,
    }
