"""Grafana dashboards generated from a small policy: every panel explained, thresholds at target."""

# The project writes `assert expected == actual`, which ruff's SIM300 calls a Yoda condition.

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sla.policy import PolicySpec
from slawatch.dashboards import DashboardOptions, build_dashboards, panel_queries
from slawatch.objectives import load_spec
from tests.deploy._policies import small_policy


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

    def test_assignee_panel_only_when_configured(self, spec: PolicySpec) -> None:
        """Breaches by assignee appear only when a staff-id label is configured."""
        plain = build_dashboards(spec)["slawatch-teams.json"]
        with_staff = build_dashboards(spec, DashboardOptions(assignee_label="staff_id"))
        assert not any("staff_id" in e for _, e in panel_queries(plain))
        assert any(
            "sum by (team, staff_id)" in e
            for _, e in panel_queries(with_staff["slawatch-teams.json"])
        )
