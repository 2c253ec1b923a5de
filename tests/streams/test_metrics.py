"""Metric names, types and labels follow the table in docs/design.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerts.metrics import AlertMetrics
from streams.metrics import NONE, Metrics, label

DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"
_ROW = re.compile(r"^\|\s*`(slawatch_[a-z_]+)`\s*\|\s*(\w+)\s*\|\s*(.*?)\s*\|\s*$")


def _design_rows() -> dict[str, tuple[str, set[str]]]:
    rows = {}
    for line in DESIGN.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            name, kind, labels = match.groups()
            names = {re.split(r"[=(]", part)[0].strip() for part in labels.split(",")}
            rows[name] = (kind, names - {"", "—"})
    return rows


def _registered() -> dict[str, tuple[str, set[str]]]:
    """The worker's metrics: the stream side and the alerts side."""
    registry = CollectorRegistry()
    out = {}
    for attr in [*vars(Metrics(registry)).values(), *vars(AlertMetrics(registry)).values()]:
        names = getattr(attr, "_labelnames", None)
        base = getattr(attr, "_name", None)
        if names is None or base is None:
            continue
        kind = getattr(attr, "_type", "")
        key = base + ("_total" if kind == "counter" else "")
        out[key] = (kind, set(names))
    return out


class TestMetricNames:
    """Every metric of the design is exported with the listed type and labels."""

    @pytest.mark.parametrize("name", sorted(_design_rows()))
    def test_design_metric_is_registered(self, name: str) -> None:
        """The metric exists with the type and label names the design lists."""
        kind, labels = _design_rows()[name]

        assert (kind, labels) == _registered()[name]

    def test_design_table_is_read(self) -> None:
        """The design table is found (guards against a silently empty parametrization)."""
        assert 15 <= len(_design_rows())


class TestLabel:
    """Label values never end up empty."""

    def test_missing_value_is_none(self) -> None:
        """None and empty strings become "none"; others their string."""
        assert [NONE, NONE, "north", "3"] == [label(None), label(""), label("north"), label(3)]
