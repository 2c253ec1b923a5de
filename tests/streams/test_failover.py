"""Several workers of one app survive scale-out, a clean stop, a kill mid-stream and a restart.

Two workers share the partitions under a steady stream of cases (a known subset closed before
its deadline); a third joins, one is stopped with SIGTERM, one is killed with SIGKILL right
after it emitted a breach, and it is restarted. After each step every breach that fell due has
come out; at the end none is lost, none is repeated outside the kill window, every breach was
notified once through the webhook, and every open clock is in exactly one worker's table.
The long form (10 kills at random moments) is ``bench/failover.py``; figures in
``docs/resilience.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slawatch.testing import Stack, canonical, wait_for
from slawatch.testing.failover import (
    POLICY,
    AlertReceiver,
    FailoverRun,
    Report,
    failover_redis_url,
    format_table,
)
from streams.broker import TansuBroker
from streams.watchdog import CHECK_INTERVAL_S

# One module-wide run of several minutes (longer on a loaded machine): a wider time-out.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def alerts() -> Iterator[AlertReceiver]:
    """A webhook receiver on loopback; the alerts' Redis (db 13) must answer."""
    import redis

    url = failover_redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise AssertionError(f"no Redis answers at {url}: {exc}; run `make tools`") from exc
    finally:
        client.close()
    receiver = AlertReceiver().start()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def failover(
    tansu: TansuBroker, tmp_path_factory: pytest.TempPathFactory, alerts: AlertReceiver
) -> Iterator[FailoverRun]:
    """Two workers of one fresh app id on the session broker, with alerts; stopped after."""
    tmp: Path = tmp_path_factory.mktemp("failover")
    stack = Stack(tansu.bootstrap, tmp, POLICY, partitions=4)
    run = FailoverRun(stack, rate=4.0, seed=7, alerts=alerts)
    try:
        run.start(2)
        yield run
    finally:
        stack.close()  # workers first: they write alert keys until they stop
        run.close()


@pytest.fixture(scope="module")
def report(failover: FailoverRun) -> Report:
    """One run for the module (minutes): add a worker, SIGTERM one, SIGKILL one mid-processing,
    restart it; the figures."""
    failover.begin_stream()
    failover.breaches.poll()
    failover.add()
    failover.term("w0")
    killed = failover.kill(mid_processing=True)
    assert killed.target is not None
    failover.restart(killed.target)
    figures = failover.finish()
    print(format_table(figures))  # shown with -s, or in the report of a failing test
    return figures


class TestFailover:
    """Breaches, notifications and tables across add, SIGTERM, SIGKILL and restart."""

    def test_every_step_emitted_what_fell_due(self, report: Report) -> None:
        """After each step, every breach that fell due before it settled had come out."""
        assert ["add", "sigterm", "sigkill", "restart"] == [s.action for s in report.steps]
        assert [0, 0, 0, 0] == [s.lost for s in report.steps]
        assert all(s.expected > 0 for s in report.steps)

    def test_no_breach_lost_or_repeated(self, report: Report) -> None:
        """Every unclosed case breached once; repeats only in the SIGKILL's at-least-once window."""
        b = report.breaches
        assert (b["expected"], 0, 0, 0) == (
            b["emitted"],
            b["lost"],
            b["duplicated_unexplained"],
            b["unexpected"],
        )
        assert b["expected"] == b["deadline_matches"]

    def test_takeover_fires_overdue_deadlines(self, report: Report) -> None:
        """Deadlines of the killed worker's partitions that fell due while it was gone fired."""
        kill = next(s for s in report.steps if s.action == "sigkill")
        assert kill.mid_processing is True
        assert kill.takeover_s is not None
        assert kill.overdue > 0

    def test_each_breach_notified_once(self, report: Report) -> None:
        """Each breach reached the webhook at level 1; no key twice outside the kill window."""
        n = report.notifications
        assert n is not None
        assert (n["expected_level1"], 0, 0, 0) == (
            n["level1_delivered"],
            n["level1_missing"],
            n["repeated_unexplained"],
            n["distinct_keys_same_target"],
        )

    def test_every_clock_in_exactly_one_table(self, report: Report) -> None:
        """Each open clock is in one live worker's table, with its start; the gauges agree."""
        t = report.tables
        assert (t["clocks_open_expected"], 0, 0, 0) == (
            t["open_cases_found_once"],
            t["missing"],
            t["in_several_tables"],
            t["wrong_state"],
        )
        assert t["clocks_open_expected"] == t["clocks_open_sum"]

    def test_no_worker_logged_an_error(self, report: Report) -> None:
        """No worker logged a processing error or a traceback through the rebalances."""
        assert {} == report.log_errors


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path) -> Iterator[Stack]:
    """One worker's topics and config files; workers are stopped afterwards."""
    s = Stack(tansu.bootstrap, tmp_path, POLICY)
    try:
        yield s
    finally:
        s.close()


class TestRestartedWorkerKeepsRunning:
    """A worker restarted on fully read partitions is not mistaken for one the broker forgot."""

    def test_watchdog_accepts_committed_positions(self, stack: Stack) -> None:
        """After a restart the worker sits at its committed offsets and stays up (regression).

        Right after the seek to the committed offset Faust's read offset is the *next* offset
        to read; counting it as read put an idle partition one record past its end, and the
        broker watchdog stopped a healthy worker with ``broker_data_lost``.
        """
        first = stack.start_worker()
        now = datetime.now(UTC)
        for i in range(8):
            stack.send(
                canonical(f"R-{i}-o", f"R-{i}", "complaint_registered", now),
                canonical(f"R-{i}-a", f"R-{i}", "complaint_acknowledged", now),
            )
        wait_for(
            lambda: first.metric("slawatch_outcomes_total", outcome="met") >= 8, 30, "8 outcomes"
        )
        wait_for(
            lambda: (
                stack.committed(stack.source) == 16
                and stack.committed(stack.topics["events"]) == 16
            ),
            60,
            "the group to commit all 16 events, on the source and the events topic",
        )
        assert 0 == first.stop()
        second = stack.start_worker()
        wait_for(
            lambda: second.metric("slawatch_broker_checks_total", result="ok") >= 2,
            4 * CHECK_INTERVAL_S + 30,
            "two passed broker watchdog checks on the idle partitions",
        )

        assert second.alive(), second.log_tail()
        assert "broker_data_lost" not in second.log_path.read_text()
