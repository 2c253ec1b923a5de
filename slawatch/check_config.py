"""``slawatch check-config``: validate policy and topic files before they are deployed.

A file whose top level has ``topics:`` is a topic mapping file, one with ``channels:`` an alerts
file (checked against the clocks and teams of the policy files given with it); any other is a
policy file.
Good files get a summary table on stdout. Every mistake in a bad file goes to stderr as
``file:line: field: message``, one a line, so editors and CI annotate them. The exit code is 1
when any file has a mistake, else 0.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from alerts.config import policy_ids
from sla.config_file import ConfigError, read_yaml
from sla.policy_file import load_policy, policy_summary

__all__ = ["run"]

_TOPICS_MODULE = "sources.topics"


def run(files: Sequence[Path]) -> int:
    """Check every file in ``files``; return the process exit code (0 all good, 1 otherwise).

    Args:
        files: policy files and topic mapping files, in any order.
    """
    out = Console(highlight=False)
    failed = False
    known = _Known()
    for path in sorted(files, key=_kind_order):
        try:
            kind = _kind(path)
            if kind == "topics":
                _check_topics(path, out)
            elif kind == "alerts":
                _check_alerts(path, out, known)
            else:
                _check_policy(path, out, known)
        except ConfigError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print(
                f"{path}: {_count(len(exc.problems), 'problem')}; nothing was loaded",
                file=sys.stderr,
            )
    return 1 if failed else 0


@dataclass
class _Known:
    """Clock and team ids of the policy files checked so far, for checking alerts files."""

    clocks: set[str] | None = None
    teams: set[str] | None = None


def _kind(path: Path) -> str:
    """``topics``, ``alerts`` or ``policy`` (raises ConfigError when the file cannot be read)."""
    data, _ = read_yaml(path)
    if isinstance(data, dict) and "topics" in data:
        return "topics"
    if isinstance(data, dict) and "channels" in data:
        return "alerts"
    return "policy"


def _kind_order(path: Path) -> int:
    """Policy files first, so alerts files can be checked against their clocks and teams."""
    try:
        return {"policy": 0, "topics": 1, "alerts": 2}[_kind(path)]
    except ConfigError:
        return 0


def _check_alerts(path: Path, out: Console, known: _Known) -> None:
    from alerts.config import load_alerts

    spec = load_alerts(path, known.clocks, known.teams)
    against = "its policy file" if known.clocks is not None else "no policy file (ids not checked)"
    out.print(
        Text(
            f"{path}: ok, alerts version {spec.version}, {_count(len(spec.channels), 'channel')}, "
            f"{_count(len(spec.recipients), 'recipient')}, {_count(len(spec.routes), 'route')}, "
            f"checked against {against}"
        )
    )


def _check_policy(path: Path, out: Console, known: _Known) -> None:
    spec = load_policy(path)
    known.clocks, known.teams = policy_ids(spec)
    rows = policy_summary(spec)
    out.print(Text(f"{path}: policy version {spec.version}", style="bold"))
    for row in rows:
        head = Text(row["clock"], style="bold cyan")
        head.append(
            f"  {row['case_kind']} · limit {row['limit']} · calendar {row['calendar']}"
            f" · target {row['target']} ({row['standard']}) · team {row['team']}"
            f" · {row['overrides']} override(s)"
        )
        out.print(head)
        out.print(Text(f"    starts on  {row['starts_on']}"))
        out.print(Text(f"    stops on   {row['stops_on']}"))
    out.print(Text(f"{path}: ok, policy version {spec.version}, {_count(len(rows), 'clock')}"))


def _check_topics(path: Path, out: Console) -> None:
    module = _topics_module()
    if module is None:
        print(
            f"{path}: skipped: this is a topic mapping file, but {_TOPICS_MODULE} is not "
            "installed in this build, so it cannot be checked",
            file=sys.stderr,
        )
        return
    config = module.load_topics(path)
    summary: Callable[[Any], list[dict[str, str]]] | None = getattr(module, "topics_summary", None)
    if summary is None:
        out.print(Text(f"{path}: ok (topic mapping)"))
        return
    rows = summary(config)
    table = Table(title=Text(f"{path}: topic mapping"), title_justify="left")
    for key in rows[0] if rows else ():
        table.add_column(key.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*(Text(str(v)) for v in row.values()))
    out.print(table)
    out.print(Text(f"{path}: ok, {_count(len(rows), 'topic')}"))


def _topics_module() -> ModuleType | None:
    """``sources.topics`` if it exists; None only when the module itself is missing."""
    try:
        return importlib.import_module(_TOPICS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name in ("streams", _TOPICS_MODULE):
            return None
        raise


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
