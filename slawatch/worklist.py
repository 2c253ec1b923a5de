"""``slawatch worklist --team T``: the at-risk worklist of a team, asked of any worker.

The worker answers for the whole group (it gathers the other workers' partitions); this
prints the answer as a table, soonest deadline first, or as the worker's JSON with ``--json``.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from alerts.wording import span

__all__ = ["fetch", "main", "render"]


def fetch(worker: str, query: dict[str, str], timeout: float = 15.0) -> dict[str, Any]:
    """The worker's ``/worklist`` answer.

    Raises:
        OSError: the worker cannot be reached; ValueError: it refused the query.
    """
    url = f"{worker.rstrip('/')}/worklist?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 400:
            raise ValueError(json.loads(error.read() or b"{}").get("error", "bad query")) from None
        raise
    return body


def render(console: Console, answer: dict[str, Any], lang: str) -> None:
    """The answer as one table, soonest first; a warning line when a worker did not answer."""
    zh = lang == "zh-CN"
    zone = ZoneInfo(answer["timezone"])
    team = answer.get("team") or ("全部团队" if zh else "all teams")
    title = f"{'待跟进清单' if zh else 'Worklist'} · {team}"
    heads = (
        ("到期", "案件", "时限", "负责人", "截止时间", "剩余 / 超时", "级别")
        if zh
        else ("Due", "Case", "Clock", "Owner", "Deadline", "Left / late", "Level")
    )
    from streams.worklist_page import level_text, words

    labels = words(lang)
    table = Table(title=title, title_justify="left")
    for head in heads:
        table.add_column(head)
    for item in answer["items"]:
        left = item["seconds_left"]
        if left is None:
            shown = "-"
        else:
            text = span(timedelta(seconds=abs(left)), lang)
            shown = text if left >= 0 else (f"超时 {text}" if zh else f"{text} late")
        deadline = (
            datetime.fromisoformat(item["deadline"]).astimezone(zone).strftime("%m-%d %H:%M")
            if item["deadline"]
            else "-"
        )
        table.add_row(
            labels.get(item["bucket"], item["bucket"]), item["case_id"], item["clock_name"],
            item["owner"] or "-", deadline, shown, level_text(item["level"], lang),
        )  # fmt: skip
    console.print(table)
    if not answer["complete"]:
        missing = ", ".join(answer["missing"])
        console.print(
            f"[yellow]{'未响应的工作节点' if zh else 'workers that did not answer'}: {missing}[/]"
        )


def main(
    worker: str, team: str | None, timezone: str, lang: str, everything: bool, as_json: bool
) -> int:
    """Run ``slawatch worklist``; the process exit code (1 when a worker did not answer)."""
    query = {"tz": timezone, "lang": "en" if lang == "en" else "zh-CN"}
    if team:
        query["team"] = team
    if everything:
        query["all"] = "1"
    try:
        answer = fetch(worker, query)
    except ValueError as error:
        print(f"slawatch worklist: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"slawatch worklist: cannot reach {worker}: {error}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        render(Console(highlight=False), answer, query["lang"])
    return 0 if answer["complete"] else 1
