"""deploy/generate.yaml: the one source of the job label and thresholds of rules and dashboards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from generators.deploy_settings import DEFAULT_SETTINGS, DeploySettings, load_settings
from sla.config_file import ConfigError
from slawatch.cli import app
from tests.generators._policies import ROOT, small_policy


class TestSettings:
    def test_committed_file_is_the_defaults_but_the_base_url(self) -> None:
        """The committed settings file loads and documents the defaults."""
        assert DeploySettings() == load_settings(ROOT / DEFAULT_SETTINGS)

    def test_rules_and_dashboards_read_one_file(self, tmp_path: Path) -> None:
        """One settings file sets the job and the team threshold of both the alerts and panels."""
        settings = tmp_path / "generate.yaml"
        settings.write_text(
            "job: sla-workers\nteam_breach_threshold: 8\n"
            "runbook_base_url: https://wiki.example.org/ref\n",
            encoding="utf-8",
        )
        policies = small_policy(tmp_path)
        for command in ("rules", "dashboards"):
            args = [command, "-p", str(policies), "-o", str(tmp_path / command)]
            result = CliRunner().invoke(app, [*args, "--settings", str(settings)])
            assert 0 == result.exit_code, result.output
        alerts = yaml.safe_load((tmp_path / "rules" / "slawatch.alerts.yaml").read_text("utf-8"))
        team = next(
            r for g in alerts["groups"] for r in g["rules"] if r["alert"] == "SlawatchTeamBreaches"
        )
        overview = (tmp_path / "dashboards" / "slawatch-overview.json").read_text("utf-8")
        teams = json.loads((tmp_path / "dashboards" / "slawatch-teams.json").read_text("utf-8"))
        steps = [
            s["value"]
            for p in teams["panels"]
            for s in p.get("fieldConfig", {})
            .get("defaults", {})
            .get("thresholds", {})
            .get("steps", [])
        ]
        assert (
            "team:slawatch_breaches:increase1h > 8",
            "https://wiki.example.org/ref/observability.md#team-breaches",
            True,
            True,
        ) == (
            team["expr"],
            team["annotations"]["runbook_url"],
            'up{job=\\"sla-workers\\"}' in overview,
            8 in steps,
        )

    @pytest.mark.parametrize(
        ("text", "line", "message"),
        [
            (
                "job: slawatch\nrunbook_base_url: docs/reference\n",
                2,
                "runbook_base_url: must be an absolute",
            ),
            ("lag_treshold: 5\n", 1, "lag_treshold: is not a known field"),
        ],
    )
    def test_mistakes_name_file_and_line(
        self, tmp_path: Path, text: str, line: int, message: str
    ) -> None:
        """A mistake in the settings file names the file, line and field."""
        path = tmp_path / "generate.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_settings(path)
        assert str(caught.value).startswith(f"{path}:{line}: {message}")
