"""Grafana dashboards generated from a small policy: every panel explained, thresholds at target."""

# The project writes `assert expected == actual`, which ruff's SIM300 calls a Yoda condition.

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from generators.dashboards import DashboardOptions, build_dashboards, panel_queries
from generators.objectives import load_spec
from generators.rules import RuleOptions
from sla.policy import PolicySpec
from tests.generators._policies import small_policy


@pytest.fixture
def spec(tmp_path: Path) -> PolicySpec:
    return load_spec(small_policy(tmp_path))


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in model["panels"] if p["type"] != "row"]


class TestDashboards:
    def test_three_dashboards(self, spec: PolicySpec) -> None:
        """Overview, teams and clock drill-down, each with a stable uid."""
        assert ["slawatch-overview", "slawatch-teams", "slawatch-clock"] == [
            m["uid"] for m in build_dashboards(spec).values()
        ]

    def test_every_panel_has_unit_description_thresholds(self, spec: PolicySpec) -> None:
        """No panel lacks a unit, a description or threshold steps."""
        missing = [
            (m["uid"], p["title"])
            for m in build_dashboards(spec).values()
            for p in panels(m)
            if not (p["description"] and p["fieldConfig"]["defaults"]["unit"]
                    and p["fieldConfig"]["defaults"]["thresholds"]["steps"])
        ]  # fmt: skip
        assert [] == missing

    def test_variables(self, spec: PolicySpec) -> None:
        """Every dashboard offers clock, region and team."""
        for model in build_dashboards(spec).values():
            names = {v["name"] for v in model["templating"]["list"]}
            assert {"datasource", "clock", "team", "region"} <= names

    def test_thresholds_at_each_target(self, spec: PolicySpec) -> None:
        """The attainment panel colours each clock and standard against its own target."""
        overview = build_dashboards(spec)["slawatch-overview.json"]
        stat = next(p for p in overview["panels"] if p["title"].startswith("Attainment against"))
        found = {
            o["matcher"]["options"]: o["properties"][0]["value"]["steps"][1]["value"]
            for o in stat["fieldConfig"]["overrides"]
        }
        assert {"first_reply · basic": 0.95, "first_reply · special": 0.9,
                "pickup · basic": 0.95} == found  # fmt: skip

    def test_grid_has_no_overlap(self, spec: PolicySpec) -> None:
        """Panels are laid out without overlapping on the 24-column grid."""
        for model in build_dashboards(spec).values():
            cells: set[tuple[int, int]] = set()
            for p in model["panels"]:
                g = p["gridPos"]
                assert g["x"] + g["w"] <= 24
                area = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                        for y in range(g["y"], g["y"] + g["h"])}  # fmt: skip
                assert set() == cells & area, p["title"]
                cells |= area

    def test_panel_ids_unique(self, spec: PolicySpec) -> None:
        """Panel ids are unique within a dashboard."""
        for model in build_dashboards(spec).values():
            ids = [p["id"] for p in model["panels"]]
            assert len(ids) == len(set(ids))

    def test_every_grouping_label_is_on_its_metric(self, spec: PolicySpec) -> None:
        """No panel groups by a label its metric lacks (such a panel can never show data)."""
        from prometheus_client import CollectorRegistry

        from alerts.metrics import AlertMetrics
        from streams.health import FaustHealth, add_runtime_collectors
        from streams.metrics import Metrics

        registry = CollectorRegistry()
        Metrics(registry)
        AlertMetrics(registry)
        FaustHealth(registry)
        add_runtime_collectors(registry)
        labels: dict[str, set[str]] = {}
        for family in registry.collect():
            for sample in family.samples:
                labels.setdefault(sample.name, set()).update(sample.labels)
        for collector in list(registry._names_to_collectors.values()):
            names = set(getattr(collector, "_labelnames", ()))
            base = getattr(collector, "_name", "")
            for suffix in ("", "_total", "_bucket", "_count", "_sum"):
                labels.setdefault(base + suffix, set()).update(names)
            labels.setdefault(base + "_bucket", set()).add("le")
        grouping = re.compile(r"by \(([^)]*)\)\s*\((?:[a-z_]*\()*\s*([a-zA-Z_:]+)")
        wrong = []
        for model in build_dashboards(spec).values():
            for title, expr in panel_queries(model):
                for by, metric in grouping.findall(expr):
                    wanted = {x.strip() for x in by.split(",")}
                    has = labels.get(metric)
                    if has is None and ":" in metric:  # recorded: labels named by its prefix
                        has = set(metric.split(":")[0].split("_")) | {"le"}
                    if has is None:
                        wrong.append((title, metric, ["no such metric"]))
                    elif wanted - has - {"instance", "job"}:  # target labels are on every series
                        wrong.append((title, metric, sorted(wanted - has)))
        assert [] == wrong

    def test_thresholds_are_the_rules(self, spec: PolicySpec) -> None:
        """The dashboards draw the rules' job and thresholds (one source of both)."""
        rules = RuleOptions(job="sla-workers", team_breach_threshold=8, lag_threshold=77)
        models = build_dashboards(spec, DashboardOptions(rules=rules))
        exprs = [e for m in models.values() for _, e in panel_queries(m)]
        steps = [
            step["value"]
            for m in models.values()
            for p in m["panels"]
            for step in p.get("fieldConfig", {})
            .get("defaults", {})
            .get("thresholds", {})
            .get("steps", [])
        ]
        assert ('up{job="sla-workers"}' in exprs, 8 in steps, 77 in steps) == (True, True, True)


def test_worklist_panel_reads_the_provisioned_json_source(spec: PolicySpec) -> None:
    """The teams dashboard's worklist table asks /worklist through the provisioned Infinity
    data source, and every column it shows is a field of a worklist item."""
    from dataclasses import fields

    import yaml

    from streams.worklist import WorkItem

    teams = build_dashboards(spec)["slawatch-teams.json"]
    (table,) = [p for p in teams["panels"] if p["title"] == "Cases to chase (worklist)"]
    target = table["targets"][0]
    root = Path(__file__).resolve().parents[2]
    provisioned = yaml.safe_load(
        (root / "deploy/grafana/provisioning/datasources/slawatch.yaml").read_text("utf-8")
    )
    uids = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    assert (
        uids[table["datasource"]["uid"]],
        target["url"],
        target["root_selector"],
    ) == (table["datasource"]["type"], "/worklist?team=${team:csv}", "items")
    assert {c["selector"] for c in target["columns"]} <= {f.name for f in fields(WorkItem)}
