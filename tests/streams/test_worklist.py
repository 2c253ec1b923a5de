"""The worklist and case views answered by whichever worker is asked (two real workers).

Eight cases spread over four partitions and two workers. Each worker holds only its own
partitions (asked with the forwarded header, it says so), yet either one asked plainly lists
all eight, ordered by time left, and answers ``/cases/{id}`` and its explanation for a case the
other owns. An acknowledged case leaves the list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slawatch.testing import Stack, WorkerProcess, canonical, one_clock_policy, wait_for
from streams.broker import TansuBroker, free_port
from streams.worklist import BUCKETS
from streams.worklist_page import render_html

pytestmark = pytest.mark.integration

POLICY = one_clock_policy("worklist-1", limit="2h", team="cs")
#: case -> minutes since it was registered (2 h limit: 150 is overdue, 100 due within 1 h, ...).
AGES = {f"C-{i}": age for i, age in enumerate((150, 100, 60, 30, 10, 125, 95, 5))}


def get(worker: WorkerProcess, path: str, forwarded: bool = False) -> tuple[int, Any]:
    return worker.get(path, timeout=10, local=forwarded)


@pytest.fixture(scope="module")
def group(
    tansu: TansuBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, list[WorkerProcess]]]:
    """Two workers of one app with the eight cases registered, both holding partitions."""
    tmp = tmp_path_factory.mktemp("worklist")
    stack = Stack(
        tansu.bootstrap, tmp, POLICY, partitions=4, extra_env={"SLAWATCH_DEBUG_ENDPOINTS": "1"}
    )
    try:
        workers = []
        for n in range(2):
            env = {"SLAWATCH_WEB_PORT": str(free_port()), "SLAWATCH_DATADIR": str(tmp / f"d{n}")}
            workers.append(stack.start_worker(env=env))
        now = datetime.now(UTC)
        for case, age in sorted(AGES.items(), key=lambda kv: -kv[1]):
            at = now - timedelta(minutes=age)
            owner = f"cs-agent-{int(case[2:]) % 3 + 1:02d}"
            stack.send(canonical(f"{case}-r", case, "complaint_registered", at, assignee=owner))

        def settled() -> bool:
            local = [get(w, "/worklist?team=cs", forwarded=True)[1] for w in workers]
            counts = [len(answer.get("items", [])) for answer in local]
            return sum(counts) == len(AGES) and all(counts)

        wait_for(settled, timeout=120, what="both workers holding some of the eight cases")
        yield stack, workers
    finally:
        stack.close()


class TestWorklist:
    def test_either_worker_lists_every_case_soonest_first(
        self, group: tuple[Stack, list[WorkerProcess]]
    ) -> None:
        """Asked plainly, each worker gathers the other's cases: all eight, by time left."""
        _, workers = group
        answers = [get(w, "/worklist?team=cs")[1] for w in workers]
        expected = [c for c, _ in sorted(AGES.items(), key=lambda kv: -kv[1])]
        for answer in answers:
            assert (True, 2, expected) == (
                answer["complete"],
                answer["workers"],
                [i["case_id"] for i in answer["items"]],
            )
        items = {i["case_id"]: i for i in answers[0]["items"]}
        assert ("overdue", "1h", "4h", "breached", "首次回复", "cs-agent-01") == (
            items["C-0"]["bucket"],
            items["C-1"]["bucket"],
            items["C-3"]["bucket"],
            items["C-0"]["level"],
            items["C-0"]["clock_name"],
            items["C-0"]["owner"],
        )

    def test_other_team_and_bad_zone(self, group: tuple[Stack, list[WorkerProcess]]) -> None:
        """Another team's list is empty; an unknown time zone is refused with 400."""
        _, workers = group
        assert ([], 400) == (
            get(workers[0], "/worklist?team=claims")[1]["items"],
            get(workers[0], "/worklist?tz=Mars/Base")[0],
        )

    def test_cases_view_forwards_to_the_owner(
        self, group: tuple[Stack, list[WorkerProcess]]
    ) -> None:
        """/cases/{id} and its explanation answer for a case the asked worker does not own."""
        _, workers = group
        local = get(workers[1], "/worklist?team=cs", forwarded=True)[1]["items"]
        theirs = local[0]["case_id"]  # owned by worker 1, asked of worker 0
        own_status = get(workers[0], f"/cases/{theirs}", forwarded=True)[0]
        status, body = get(workers[0], f"/cases/{theirs}")
        explain_status, explained = get(workers[0], f"/cases/{theirs}/explain")
        assert (404, 200, True, 200) == (own_status, status, body["found"], explain_status)
        assert explained["sentences"]

    def test_acknowledged_case_leaves_the_list(
        self, group: tuple[Stack, list[WorkerProcess]]
    ) -> None:
        """The case answered stops its clock and is no longer on anyone's list."""
        stack, workers = group
        stack.send(canonical("C-7-a", "C-7", "complaint_acknowledged", datetime.now(UTC)))

        def gone() -> bool:
            ids = [i["case_id"] for i in get(workers[1], "/worklist?team=cs")[1]["items"]]
            return "C-7" not in ids and len(ids) == len(AGES) - 1

        wait_for(gone, timeout=60, what="C-7 gone from the worklist")


class TestInBrowser:
    def test_worklist_page_renders_in_chromium(
        self, group: tuple[Stack, list[WorkerProcess]], tmp_path: Path
    ) -> None:
        """A real browser shows the page: one table per bucket, a row per open case."""
        from selenium.webdriver.common.by import By

        from tests._browser import chromium

        _, workers = group
        with chromium() as browser:
            browser.get(f"http://127.0.0.1:{workers[1].port}/worklist.html?team=cs")
            rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-case]")
            overdue = [
                r.get_attribute("data-case")
                for r in browser.find_elements(By.CSS_SELECTOR, "table#overdue tr[data-case]")
            ]
            heading = browser.find_element(By.TAG_NAME, "h1").text
            shot = tmp_path / "worklist.png"
            browser.save_screenshot(str(shot))
        assert (True, ["C-0", "C-5"], "待跟进清单 · cs", True) == (
            len(rows) >= len(AGES) - 1,
            overdue[:2],
            heading,
            shot.stat().st_size > 10_000,
        )


class TestCommand:
    def test_slawatch_worklist_prints_the_team(
        self, group: tuple[Stack, list[WorkerProcess]]
    ) -> None:
        """`slawatch worklist --team cs` asked of one worker prints every case, in Chinese."""
        from typer.testing import CliRunner

        from slawatch.cli import app

        _, workers = group
        worker = f"http://127.0.0.1:{workers[0].port}"
        result = CliRunner().invoke(app, ["worklist", "--team", "cs", "--worker", worker])
        as_json = CliRunner().invoke(
            app, ["worklist", "--team", "cs", "--worker", worker, "--json"]
        )
        ids = [i["case_id"] for i in json.loads(as_json.output)["items"]]
        assert (0, True, True) == (
            result.exit_code,
            "待跟进清单 · cs" in result.output and "首次回复" in result.output,
            set(ids) <= set(AGES) and len(ids) >= len(AGES) - 1,
        )


class TestPage:
    def test_page_groups_by_bucket_and_escapes(self) -> None:
        """The HTML page has one table per bucket in order, values escaped, Chinese headings."""
        now = datetime(2026, 3, 2, 10, tzinfo=UTC)
        item = {
            "case_id": "<C-1>", "clock": "x", "clock_name": "首次回复", "cycle": 1,
            "owner": None, "team": "cs", "deadline": (now - timedelta(minutes=5)).isoformat(),
            "seconds_left": -300.0, "bucket": "overdue", "level": "L2", "acknowledged": False,
        }  # fmt: skip
        later = {**item, "case_id": "C-2", "seconds_left": 1800.0, "bucket": "1h"}
        answer = {
            "team": "cs", "timezone": "Asia/Shanghai", "now": now.isoformat(), "workers": 2,
            "complete": False, "missing": ["http://w2:6066"], "items": [item, later],
            "counts": dict.fromkeys(BUCKETS, 0),
        }  # fmt: skip
        page = render_html(answer)
        assert (True, True, True, True, False) == (
            page.index('id="overdue"') < page.index('id="1h"'),
            "&lt;C-1&gt;" in page,
            "超时 5 分钟" in page and "2026-03-02 17:55" in page,
            "http://w2:6066" in page,
            "<script" in page,
        )
