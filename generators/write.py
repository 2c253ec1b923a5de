"""The ``rules``, ``dashboards`` and ``alertmanager`` commands: read the policy, write files.

Each returns a process exit code and prints what it wrote, or the policy's mistakes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from generators.burnrate import BurnRateError
from generators.deploy_settings import DeploySettings, load_settings
from generators.objectives import load_spec
from sla.config_file import ConfigError
from sla.policy import PolicySpec

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


def _with_settings(
    policies: Path, settings: Path | None, write: Callable[[PolicySpec, DeploySettings], list[Path]]
) -> int:
    """:func:`_run` with the knobs of ``settings`` (deploy/generate.yaml) read first."""
    try:
        shared = load_settings(settings)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        return 1
    return _run(policies, lambda spec: write(spec, shared))


def rules(policies: Path, out: Path, settings: Path | None) -> int:
    """Write the Prometheus rule files, with the knobs of ``settings`` (deploy/generate.yaml)."""
    from generators.rules import write_rules

    return _with_settings(policies, settings, lambda spec, s: write_rules(spec, out, s.rules()))


def dashboards(policies: Path, out: Path, settings: Path | None) -> int:
    """Write the Grafana dashboards, with the same knobs as the rules."""
    from generators.dashboards import write_dashboards

    return _with_settings(
        policies, settings, lambda spec, s: write_dashboards(spec, out, s.dashboards())
    )


def alertmanager(
    policies: Path,
    out: Path,
    webhook_url: str | None,
    years: str | None,
    receivers: Path | None = None,
) -> int:
    """Write the Alertmanager configuration, with the user's receivers merged in."""
    from generators.alertmanager import (
        RECEIVERS_FILE,
        AlertmanagerOptions,
        load_receivers,
        receiver_names,
        write_config,
    )

    try:
        chosen = tuple(int(y) for y in years.split(",")) if years else None
    except ValueError:
        typer.echo(f"--years is a comma-separated list of years, got {years!r}", err=True)
        return 2

    def write(spec: PolicySpec) -> list[Path]:
        own = receivers if receivers is not None else out / RECEIVERS_FILE
        mine = load_receivers(own, receiver_names(spec)) if own.exists() else ()
        options = AlertmanagerOptions(years=chosen, webhook_url=webhook_url, receivers=mine)
        return [write_config(spec, out, options)]

    return _run(policies, write)
