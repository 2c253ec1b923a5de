"""The ``rules``, ``dashboards`` and ``alertmanager`` commands: read the policy, write files.

Each returns a process exit code and prints what it wrote, or the policy's mistakes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from sla.burnrate import BurnRateError
from sla.config_file import ConfigError
from sla.policy import PolicySpec
from slawatch.objectives import load_spec

__all__ = ["alertmanager", "dashboards", "rules"]


def _run(policies: Path, write: Callable[[PolicySpec], list[Path]]) -> int:
    try:
        spec = load_spec(policies)
        written = write(spec)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        return 1
    except BurnRateError as exc:
        typer.echo(f"{policies}: {exc}", err=True)
        return 1
    for path in written:
        typer.echo(f"wrote {path}")
    return 0


def rules(policies: Path, out: Path, min_volume: int, team_breach_threshold: int, mode: str) -> int:
    """Write the Prometheus rule files."""
    from slawatch.rules import RuleOptions, write_rules

    if mode not in ("adapt", "refuse"):
        typer.echo(f"--mode is 'adapt' or 'refuse', got {mode!r}", err=True)
        return 2
    options = RuleOptions(
        min_volume=min_volume,
        team_breach_threshold=team_breach_threshold,
        mode="adapt" if mode == "adapt" else "refuse",
    )
    return _run(policies, lambda spec: write_rules(spec, out, options))


def dashboards(policies: Path, out: Path, assignee_label: str | None) -> int:
    """Write the Grafana dashboards."""
    from slawatch.dashboards import DashboardOptions, write_dashboards

    options = DashboardOptions(assignee_label=assignee_label)
    return _run(policies, lambda spec: write_dashboards(spec, out, options))


def alertmanager(policies: Path, out: Path, webhook_url: str | None, years: str | None) -> int:
    """Write the Alertmanager configuration."""
    from slawatch.alertmanager import AlertmanagerOptions, write_config

    try:
        chosen = tuple(int(y) for y in years.split(",")) if years else None
    except ValueError:
        typer.echo(f"--years is a comma-separated list of years, got {years!r}", err=True)
        return 2
    options = AlertmanagerOptions(years=chosen, webhook_url=webhook_url)
    return _run(policies, lambda spec: [write_config(spec, out, options)])
