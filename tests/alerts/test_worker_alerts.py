"""The alert agents in the real worker: real broker, real Redis, a real webhook receiver.

A clock breaches, the receiver gets level 1 once; nobody acknowledges and the supervisor gets
level 2 at the configured delay. Another breach is acknowledged through the ack page linked
from its alert, and never escalates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from pytest_httpserver import HTTPServer

from alerts.sinks.webhook import SIGNATURE_HEADER, verify
from slawatch.testing import Stack, WorkerProcess, canonical, wait_for, webhook_alerts
from streams.broker import TansuBroker
from tests.alerts._helpers import acknowledge
from tests.alerts.conftest import REDIS_URL

pytestmark = pytest.mark.integration

SECRET = "worker-webhook-secret"
POLICY = """\
version: "alerts-test"
allowed_lateness: 1s
teams:
  desk: {}
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 2s
    warn_at: []
    team: desk
"""
ALERTS = webhook_alerts("alerts-test", escalate_after="6s", retries=3, backoff="1s")


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path, httpserver: HTTPServer) -> Iterator[Stack]:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    env = {
        "SLAWATCH_REDIS_URL": REDIS_URL,
        "SLAWATCH_ACK_SECRET": "worker-ack-secret-0123456789",
        "HOOK_URL": httpserver.url_for("/hook"),
        "HOOK_SECRET": SECRET,
    }
    s = Stack(tansu.bootstrap, tmp_path, POLICY, extra_env=env)
    (tmp_path / "alerts.yaml").write_text(ALERTS)  # found beside policies.yaml
    try:
        yield s
    finally:
        s.close()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{s.name}:*"):
            client.delete(key)
        client.close()


def start(stack: Stack) -> WorkerProcess:
    return stack.start_worker()


def received(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """Accepted webhook bodies; each one's signature checked."""
    out = []
    for request, _ in httpserver.log:
        body = request.get_data()
        assert verify(SECRET.encode(), body, request.headers[SIGNATURE_HEADER])
        out.append(json.loads(body))
    return out


def of(bodies: list[dict[str, Any]], case: str) -> list[tuple[str, str]]:
    return sorted((b["level"], b["recipient"]) for b in bodies if b["case_id"] == case)


class TestWorkerAlerts:
    def test_unacknowledged_breach_escalates_and_acknowledged_one_does_not(
        self, stack: Stack, httpserver: HTTPServer
    ) -> None:
        """Both cases get level 1 once; only the unacknowledged one reaches the supervisor."""
        start(stack)
        now = datetime.now(UTC)
        for case in ("IGNORED", "ACKED"):
            stack.send(
                canonical(f"{case}-e1", case, "complaint_registered", now, assignee="agent-1")
            )
        wait_for(lambda: len(of(received(httpserver), "ACKED")) >= 1, 60, "level 1 of ACKED")
        link = next(b for b in received(httpserver) if b["case_id"] == "ACKED")["ack_url"]
        shown, page, confirmed = acknowledge(link)
        assert (200, True, 200) == (shown, "Acknowledge" in page, confirmed)
        breach_id = "ACKED/first_response/1"
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        wait_for(
            lambda: client.hget(f"{stack.name}:esc:{breach_id}", "acked_by") == "agent-1",
            30,
            "the ack to reach the escalation timer",
        )
        wait_for(lambda: ("2", "sup-1") in of(received(httpserver), "IGNORED"), 60, "level 2")
        wait_for(
            lambda: client.zcard(f"{stack.name}:escalations") == 0, 30, "no escalation pending"
        )
        client.close()
        bodies = received(httpserver)
        assert [("1", "agent-1"), ("2", "sup-1")] == of(bodies, "IGNORED")
        assert [("1", "agent-1")] == of(bodies, "ACKED")

    def test_acknowledge_page_works_in_a_browser(
        self, stack: Stack, httpserver: HTTPServer
    ) -> None:
        """The link in an alert opens in a real browser; its button acknowledges the breach."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        from tests._browser import chromium

        start(stack)
        stack.send(
            canonical(
                "B-e1", "BROWSER", "complaint_registered", datetime.now(UTC), assignee="agent-1"
            )
        )
        wait_for(lambda: of(received(httpserver), "BROWSER"), 60, "level 1 of BROWSER")
        link = next(b for b in received(httpserver) if b["case_id"] == "BROWSER")["ack_url"]
        with chromium() as browser:
            browser.get(link)
            asked = browser.find_element(By.TAG_NAME, "body").text
            browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            WebDriverWait(browser, 15).until(
                expected_conditions.text_to_be_present_in_element(
                    (By.TAG_NAME, "body"), "BROWSER/first_response/1"
                )
            )
            answered = browser.find_element(By.TAG_NAME, "body").text
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            wait_for(
                lambda: client.hget(f"{stack.name}:esc:BROWSER/first_response/1", "acked_by"),
                30,
                "the browser's ack to reach the escalation timer",
            )
        finally:
            client.close()
        worker = stack.workers[-1]
        items = worker.get("/worklist?team=desk")[1]["items"]
        mine = [
            (i["bucket"], i["level"], i["acknowledged"]) for i in items if i["case_id"] == "BROWSER"
        ]
        assert ("BROWSER/first_response/1" in asked, answered != asked) == (True, True)
        assert [("overdue", "L1", True)] == mine
