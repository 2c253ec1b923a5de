"""Operability of the real worker: readiness after recovery, SIGTERM, structured JSON logs.

* ``/health`` answers from the start; ``/ready`` answers 503 until the ``cases`` table is
  recovered and the deadline index rebuilt, then 200 with what was recovered.
* SIGTERM stops the worker with status 0 within a bound, and it leaves the consumer group: the
  next worker of the same app id is given every partition (a member that had not left would
  keep half of them until its session expired).
* Every line the worker writes is one JSON object with ``timestamp``, ``level``, ``logger`` and
  ``event``; breach lines carry ``case_id``, ``clock`` and ``partition``, dead-letter lines the
  ``topic``, ``partition``, ``offset`` and ``reason``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slawatch.testing import Stack, canonical, wait_for
from streams.broker import TansuBroker

pytestmark = pytest.mark.integration

POLICY = """\
version: "ops-1"
allowed_lateness: 1s
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 2s
    warn_at: []
  - id: resolution
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_closed]
    limit: 1h
    warn_at: []
"""


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path) -> Iterator[Stack]:
    """This test's topics, config files and workers."""
    s = Stack(tansu.bootstrap, tmp_path, POLICY)
    try:
        yield s
    finally:
        s.close()


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]


class TestReadiness:
    """Ready only once the table is recovered."""

    def test_ready_503_until_recovered_then_200(self, stack: Stack) -> None:
        """A restarted worker answers /ready 503 while it recovers 200 cases, then 200."""
        first = stack.start_worker()
        now = datetime.now(UTC)
        cases = [f"R-{i}" for i in range(200)]
        stack.send(*(canonical(f"{c}-r", c, "complaint_registered", now) for c in cases))
        wait_for(
            lambda: first.metric("slawatch_clocks_open", clock="resolution") == len(cases),
            60,
            "200 open cases",
        )
        stack.changelog_barrier(first, cases)
        assert 0 == first.stop()

        second = stack.start_worker(ready=False)
        seen: list[tuple[int, Any]] = []
        health: list[int] = []

        def poll() -> bool:
            try:
                status, body = second.get("/ready", timeout=1.0)
            except OSError:
                return False  # the web server is not up yet
            seen.append((status, body))
            health.append(second.get("/health", timeout=1.0)[0])
            return status == 200

        wait_for(poll, 90, "/ready 200", interval=0.05)
        not_ready = [body for status, body in seen if status == 503]
        status, ready_body = seen[-1]

        assert 503 == seen[0][0]
        assert all(b["ready"] is False for b in not_ready)
        assert (200, True) == (status, ready_body["ready"])
        assert len(cases) == ready_body["recovered"]["cases"]
        assert [0, 1] == ready_body["recovered"]["actives"]
        assert {200} == set(health)


class TestGracefulShutdown:
    """SIGTERM: status 0, quickly, the group left, nothing lost."""

    def test_sigterm_exits_zero_and_leaves_the_group(self, stack: Stack) -> None:
        """Exit 0 within 30 s; the next worker owns every partition and keeps the clocks."""
        first = stack.start_worker()
        now = datetime.now(UTC)
        stack.send(canonical("s-r", "S-1", "complaint_registered", now))
        wait_for(lambda: first.get("/cases/S-1")[0] == 200, 30, "S-1 in the table")
        stack.changelog_barrier(first, ["S-1"])

        code = first.stop(timeout=30)
        lines = _lines(first.log_path)
        shutdown = lines[next(i for i, x in enumerate(lines) if "Signal received" in x) :]
        second = stack.start_worker()
        recovered = second.wait_ready()["recovered"]

        assert 0 == code
        assert [] == [x for x in shutdown if json.loads(x)["level"] in ("error", "critical")]
        assert "Closing event loop" in shutdown[-1]
        assert [0, 1] == recovered["actives"]
        assert 200 == second.get("/cases/S-1")[0]


class TestJsonLogs:
    """One JSON object per line, with the context needed to find the case and the message."""

    def test_lines_are_json_with_context(self, stack: Stack) -> None:
        """Breach lines name case, clock, partition; dead-letter lines topic, partition, offset."""
        worker = stack.start_worker()
        breaches = stack.reader("breaches")
        stack.send(canonical("j-r", "J-1", "complaint_registered", datetime.now(UTC)))
        stack.send(b"not json", key=b"k")
        stack.send(
            canonical("j-old", "J-2", "complaint_registered", datetime.now(UTC))
            | {"occurred_at": (datetime.now(UTC) - timedelta(days=3000)).isoformat()}
        )
        breaches.wait(lambda v: any(b["case_id"] == "J-1" for b in v), 30, "breach of J-1")
        wait_for(lambda: worker.metric("slawatch_deadletters_total") >= 2, 30, "two dead letters")
        worker.stop()  # the log is complete once the process has exited

        records = [json.loads(line) for line in _lines(worker.log_path)]
        breach = next(r for r in records if r["event"] == "sla_breach")
        letters = {r["reason"]: r for r in records if r["event"] == "dead_letter"}

        assert [] == [r for r in records if not {"timestamp", "level", "logger", "event"} <= set(r)]
        assert ("J-1", "first_response") == (breach["case_id"], breach["clock"])
        assert isinstance(breach["partition"], int)
        assert {"invalid_json", "implausible_timestamp"} == set(letters)
        for letter in letters.values():
            assert stack.source == letter["topic"]
            assert isinstance(letter["partition"], int) and isinstance(letter["offset"], int)
