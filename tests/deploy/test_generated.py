"""The committed files under deploy/ are what the generators make from the default policy pack.

A change to the policy, or to a generator, must be followed by ``slawatch rules``,
``slawatch dashboards`` and ``slawatch alertmanager``; these tests say so when it was not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from slawatch.cli import app
from tests.generators._policies import DEFAULT_POLICIES, NEW_CLOCK, ROOT, default_with_new_clock

#: command -> the directory its committed output lives in.
OUTPUTS = {
    "rules": ROOT / "deploy" / "prometheus" / "rules",
    "dashboards": ROOT / "deploy" / "grafana" / "dashboards",
    "alertmanager": ROOT / "deploy" / "alertmanager",
}


def generate(command: str, policies: Path, out: Path) -> dict[str, str]:
    """Run ``slawatch <command>`` into ``out`` with the committed settings; file name -> text."""
    extra = {
        "alertmanager": ["--receivers", str(OUTPUTS["alertmanager"] / "receivers.yml")],
        "rules": ["--settings", str(ROOT / "deploy" / "generate.yaml")],
        "dashboards": ["--settings", str(ROOT / "deploy" / "generate.yaml")],
    }[command]
    args = [command, "--policies", str(policies), "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert 0 == result.exit_code, result.output
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())}


class TestGoldenFiles:
    @pytest.mark.parametrize("command", sorted(OUTPUTS))
    def test_committed_files_match_a_fresh_generation(self, command: str, tmp_path: Path) -> None:
        """deploy/ holds exactly what the generator makes from config/policies.yaml."""
        fresh = generate(command, DEFAULT_POLICIES, tmp_path)
        committed = OUTPUTS[command]
        for name, text in fresh.items():
            path = committed / name
            assert path.exists(), f"{path} is missing: run `slawatch {command}`"
            assert text == path.read_text(encoding="utf-8"), (
                f"{path} is stale: run `slawatch {command}` and commit the result"
            )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Everything generated from the default pack plus one new clock: command -> files."""
    directory = tmp_path_factory.mktemp("new-clock")
    policies = default_with_new_clock(directory)
    return {c: generate(c, policies, directory / c) for c in OUTPUTS}


class TestNewClock:
    """A clock added to the policy reaches rules, dashboards and alerts with no other change."""

    def test_target_recorded(self, generated: dict[str, dict[str, str]]) -> None:
        """The new clock's target is a recorded series with its own value."""
        groups = yaml.safe_load(generated["rules"]["slawatch.rules.yaml"])["groups"]
        targets = {
            (r["labels"]["clock"], r["labels"]["standard"]): r["expr"]
            for g in groups
            for r in g["rules"]
            if r.get("record") == "clock_standard:slawatch_clock_attainment:target"
        }
        assert "vector(0.97)" == targets[(NEW_CLOCK["id"], "basic")]

    def test_burn_rate_alerts(self, generated: dict[str, dict[str, str]]) -> None:
        """The new clock has its own group of four burn-rate alerts, owned by its team."""
        groups = yaml.safe_load(generated["rules"]["slawatch.alerts.yaml"])["groups"]
        group = next(g for g in groups if g["name"] == f"slawatch-burn-{NEW_CLOCK['id']}")
        assert [("page", "dispatch"), ("page", "dispatch"), ("ticket", "dispatch"),
                ("ticket", "dispatch")] == [
            (r["labels"]["severity"], r["labels"]["team"]) for r in group["rules"]
        ]  # fmt: skip

    def test_dashboard_thresholds(self, generated: dict[str, dict[str, str]]) -> None:
        """The overview colours the new clock against its own target."""
        overview = json.loads(generated["dashboards"]["slawatch-overview.json"])
        found = {}
        for panel in overview["panels"]:
            for override in panel.get("fieldConfig", {}).get("overrides", []):
                if override["matcher"]["options"] == f"{NEW_CLOCK['id']} · basic":
                    steps = override["properties"][0]["value"]["steps"]
                    found[panel["title"]] = steps[-1]["value"]
        assert {
            "Attainment against target (30 days)": 0.97,
            "Attainment over the last day": 0.97,
        } == found

    def test_time_to_stop_limit(self, generated: dict[str, dict[str, str]]) -> None:
        """The drill-down marks the new clock's 4-hour limit on its time-to-stop panel."""
        drill = json.loads(generated["dashboards"]["slawatch-clock.json"])
        panel = next(p for p in drill["panels"] if p["title"] == "Time to stop")
        limits = {
            o["matcher"]["options"]: o["properties"][0]["value"]["steps"][-1]["value"]
            for o in panel["fieldConfig"]["overrides"]
        }
        assert 4 * 3600 == limits[f"^{NEW_CLOCK['id']} p"]

    def test_only_additions(self, generated: dict[str, dict[str, str]]) -> None:
        """Adding a clock adds to the rules; no existing rule line disappears."""
        committed = (OUTPUTS["rules"] / "slawatch.alerts.yaml").read_text(encoding="utf-8")
        fresh = generated["rules"]["slawatch.alerts.yaml"]
        old, new = committed.splitlines()[1:], fresh.splitlines()[1:]
        assert [] == [line for line in set(old) - set(new) if "version" not in line]


class TestCommands:
    def test_bad_policy_is_reported(self, tmp_path: Path) -> None:
        """A policy file with a mistake exits 1 and names the file; nothing is written."""
        bad = tmp_path / "policies.yaml"
        bad.write_text('version: "x"\nclocks: []\n', encoding="utf-8")
        out = tmp_path / "out"
        result = CliRunner().invoke(app, ["rules", "--policies", str(bad), "--out", str(out)])
        assert (1, False) == (result.exit_code, out.exists())
        assert str(bad) in result.output

    def test_unknown_mode(self, tmp_path: Path) -> None:
        """The settings' `mode` accepts adapt or refuse only: an error with file and line."""
        settings = tmp_path / "generate.yaml"
        settings.write_text("mode: ignore\n", encoding="utf-8")
        args = ["rules", "--settings", str(settings), "--out", str(tmp_path)]
        result = CliRunner().invoke(app, args)
        assert 1 == result.exit_code
        assert f"{settings}:1: mode:" in result.output
