"""The knobs the generated rules and dashboards share, in one file: ``deploy/generate.yaml``.

The rules' ``job`` label and thresholds are drawn by the dashboards too (a red line at the
team-breaches threshold, the scrape job of "Workers up"); reading both from one file means the
dashboards can never disagree with the alerts. ``slawatch rules`` and ``slawatch dashboards``
read it (``--settings``); a missing file means the defaults.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from generators.dashboards import DashboardOptions
from generators.rules import DEFAULT_RUNBOOK_BASE, RuleOptions
from sla.config_file import load_model
from sla.limits import Duration

__all__ = ["DEFAULT_SETTINGS", "DeploySettings", "load_settings"]

DEFAULT_SETTINGS = Path("deploy/generate.yaml")


class DeploySettings(BaseModel):
    """Values shared by the rule and dashboard generators (see ``deploy/generate.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: str = Field("slawatch", min_length=1, description="Prometheus job of the workers")
    runbook_base_url: str = Field(
        DEFAULT_RUNBOOK_BASE, description="absolute URL of the docs/reference directory"
    )
    min_volume: int = Field(10, ge=1)
    team_breach_threshold: int = Field(5, ge=1)
    lag_threshold: int = Field(1000, ge=1)
    stall_after: Duration = timedelta(minutes=30)
    mode: Literal["adapt", "refuse"] = "adapt"

    @field_validator("runbook_base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"must be an absolute http(s) URL where your team reads the docs, got {value!r}"
            )
        return value.rstrip("/")

    def rules(self) -> RuleOptions:
        """Options of the rule generator: every setting is one of its options, by name."""
        return RuleOptions(**self.model_dump())

    def dashboards(self) -> DashboardOptions:
        """Options of the dashboard generator: the rules' own values."""
        return DashboardOptions(rules=self.rules())


def load_settings(path: Path | None) -> DeploySettings:
    """The settings in ``path``; the defaults when it is None or does not exist.

    Raises:
        ConfigError: a mistake in the file, with its line and field.
    """
    if path is None or not path.exists():
        return DeploySettings()
    settings, _ = load_model(path, DeploySettings)
    return settings
