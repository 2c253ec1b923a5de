"""The alert agents in the real worker: real broker, real Redis, a real webhook receiver.

A clock breaches, the receiver gets level 1 once; nobody acknowledges and the supervisor gets
level 2 at the configured delay. Another breach is acknowledged through the ack page linked
from its alert, and never escalates.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from pytest_httpserver import HTTPServer

from alerts.sinks.webhook import SIGNATURE_HEADER, verify
from streams.broker import TansuBroker
from tests.alerts.conftest import REDIS_URL
from tests.streams._harness import Stack, WorkerProcess, canonical, wait_for
from tests.streams.conftest import tansu  # noqa: F401  (the session broker fixture)

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
ALERTS = """\
version: "alerts-test"
lease: 5s
channels:
  hook:
    type: webhook
    url: ${HOOK_URL}
    secret: ${HOOK_SECRET}
    retries: 3
    backoff: 1s
recipients:
  agent-1: {channels: [hook]}
  sup-1: {channels: [hook]}
teams:
  desk:
    members: [agent-1]
    supervisor: sup-1
    roster: {timezone: UTC, hours: "00:00-24:00", days: [mon, tue, wed, thu, fri, sat, sun]}
routes:
  - to: [assignee]
escalation:
  default:
    - {after: 6s, to: [supervisor]}
"""


class AlertWorker(WorkerProcess):
    def start(self) -> AlertWorker:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_worker_with_alerts.py"))],
            env={**__import__("os").environ, **self.env, "PYTHONPATH": str(self.cwd_root)},
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    cwd_root = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path, httpserver: HTTPServer) -> Iterator[Stack]:  # noqa: F811
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


def start(stack: Stack) -> AlertWorker:
    worker = AlertWorker(stack.env(), stack.tmp / "worker.log", stack.tmp)
    worker.start()
    stack.workers.append(worker)
    worker.wait_ready()
    return worker


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
        with urllib.request.urlopen(link, timeout=5) as page:
            assert 200 == page.status
            assert "Acknowledge" in page.read().decode()
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
        form = urllib.parse.urlencode(query).encode()
        post = urllib.request.Request(link.split("?")[0], data=form, method="POST")
        with urllib.request.urlopen(post, timeout=5) as answer:
            assert 200 == answer.status
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
