"""``slawatch check-config``: validate policy and topic files before they are deployed.

A file whose top level has ``topics:`` is a topic mapping file; any other is a policy file.
Good files get a summary table on stdout. Every mistake in a bad file goes to stderr as
``file:line: field: message``, one a line, so editors and CI annotate them. The exit code is 1
when any file has a mistake, else 0.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sla.config_file import ConfigError, read_yaml
from sla.policy_file import load_policy, policy_summary

__all__ = ["run"]

_TOPICS_MODULE = "streams.topics"

def run(files: Sequence[Path]) -> int:
    """Check every file in ``files``; return the process exit code (0 all good, 1 otherwise).

    Args:
        files: policy files and topic mapping files, in any order.
    """
    out = Console(highlight=False)
    failed = False
    for path in files:
        try:
            if _is_topics_file(path):
                _check_topics(path, out)
            else:
                _check_policy(path, out)
        except ConfigError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print(
                f"{path}: {_count(len(exc.problems), 'problem')}; nothing was loaded",
                file=sys.stderr,
            )
    return 1 if failed else 0


def _is_topics_file(path: Path) -> bool:
    """Whether ``path`` is a topic mapping file (raises ConfigError when it cannot be read)."""
    data, _ = read_yaml(path)
    return isinstance(data, dict) and "topics" in data


def _check_policy(path: Path, out: Console) -> None:
    spec = load_policy(path)
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
    """``streams.topics`` if it exists; None only when the module itself is missing."""
    try:
        return importlib.import_module(_TOPICS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name in ("streams", _TOPICS_MODULE):
            return None
        raise


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
