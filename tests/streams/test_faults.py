"""Broker and Redis faults against the real worker: it waits, reconnects and loses nothing.

* The broker stops answering for a while (its process is frozen with SIGSTOP, so every
  connection hangs, then thawed with SIGCONT): the worker does not exit, keeps its table, fires
  the deadline that passed meanwhile, and processes events produced after the broker is back.
* The broker restarts empty (Tansu's memory engine keeps nothing across a restart): the worker's
  watchdog sees its topics gone, logs ``broker_data_lost`` and exits with status 1, once; a
  worker started again re-creates its topics and works. Each test here owns its broker.
* Redis goes away (the process is stopped; it keeps its append-only file) while clocks breach:
  the breaches still reach ``sla.breaches``; the alerts wait and are delivered once each when
  Redis is back.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from pytest_httpserver import HTTPServer

from slawatch.testing import RedisServer, Stack, by_case, canonical, wait_for, webhook_alerts
from streams.broker import TansuBroker, kafka_ready
from streams.watchdog import lost_offsets, lost_topics

POLICY = """\
version: "faults-1"
allowed_lateness: 1s
teams:
  desk: {}
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 3s
    warn_at: []
    team: desk
"""

ALERTS = webhook_alerts("faults-1", escalate_after="1h", retries=3, backoff="1s")


def _now() -> datetime:
    return datetime.now(UTC)


def _events(path: Path) -> list[str]:
    """The event names of the worker's JSON log lines, in order."""
    return [str(e.get("event")) for e in _log_events(path)]


def _log_events(path: Path) -> list[dict[str, Any]]:
    """The worker's JSON log lines, parsed (other lines skipped)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


class TestWatchdogRules:
    """What counts as the broker having lost the worker's data."""

    def test_topics_present_with_their_partitions(self) -> None:
        """Same topics, same partition counts: nothing lost (extra topics do not matter)."""
        assert [] == lost_topics({"e": 4, "d": 4}, {"e": 4, "d": 4, "other": 1})

    def test_topic_gone_or_resized(self) -> None:
        """A missing topic and a changed partition count are both named."""
        assert [
            "topic d is gone",
            "topic e has 4 partitions, the worker created it with 2",
        ] == lost_topics({"e": 2, "d": 2}, {"e": 4})

    def test_offsets(self) -> None:
        """Only an end below the next offset to read is a loss; unknown partitions are not."""
        positions = {("e", 0): 10, ("e", 1): 5, ("e", 2): 3}
        ends = {("e", 0): 10, ("e", 1): 0}
        assert ["e[1] ends at offset 0, the worker already read up to 5"] == lost_offsets(
            positions, ends
        )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test's own, to freeze or restart."""
    with TansuBroker(log_path=tmp_path / "tansu.log") as b:
        yield b


@pytest.mark.integration
class TestBrokerUnreachable:
    """A frozen broker is waited for; nothing is lost and the worker never exits."""

    def test_frozen_broker_then_thawed(self, broker: TansuBroker, tmp_path: Path) -> None:
        """Frozen until the worker's watchdog finds no answer: the worker stays up, fires the
        deadline due meanwhile, reads new events."""
        stack = Stack(broker.bootstrap, tmp_path, POLICY)
        try:
            worker = stack.start_worker()
            breaches, outcomes = stack.reader("breaches"), stack.reader("outcomes")
            t0 = _now()
            stack.send(
                canonical("a-reg", "A-1", "complaint_registered", t0),
                canonical("a-ack", "A-1", "complaint_acknowledged", t0 + timedelta(seconds=1)),
            )
            outcomes.wait(lambda v: by_case(v, "A-1"), 30, "outcome of A-1")
            stack.send(canonical("b-reg", "B-1", "complaint_registered", _now()))
            wait_for(lambda: worker.get("/cases/B-1")[0] == 200, 30, "B-1 in the table")
            before = worker.get("/cases/A-1")[1]["state"]

            b_deadline = _now() + timedelta(seconds=3)
            os.kill(broker.pid or 0, signal.SIGSTOP)
            try:
                # B-1's deadline passes, and the watchdog's check (5 s apart, 30 s time-out)
                # finds the broker silent, while nothing answers
                wait_for(
                    lambda: (
                        _now() > b_deadline and "broker_check_skipped" in _events(worker.log_path)
                    ),
                    120,
                    "the watchdog to find the frozen broker silent",
                    interval=0.5,
                )
                alive_while_frozen = worker.alive()
            finally:
                os.kill(broker.pid or 0, signal.SIGCONT)

            t1 = _now()
            stack.send(
                canonical("c-reg", "C-1", "complaint_registered", t1),
                canonical("c-ack", "C-1", "complaint_acknowledged", t1 + timedelta(seconds=1)),
            )
            done = outcomes.wait(lambda v: by_case(v, "C-1"), 90, "outcome of C-1 after thaw")
            found = breaches.wait(lambda v: by_case(v, "B-1"), 60, "breach of B-1 after thaw")
            after = worker.get("/cases/A-1")[1]["state"]
            logged = [e.get("event") for e in _log_events(worker.log_path)]

            assert (True, True) == (alive_while_frozen, worker.alive())
            assert before == after
            assert ["met"] == [o["outcome"] for o in by_case(done, "C-1")]
            assert ["breach"] == [b["type"] for b in by_case(found, "B-1")]
            assert 200 == worker.get("/ready")[0]
            assert "broker_data_lost" not in logged
        finally:
            stack.close()


#: A JSON schema no record of slawatch matches (Tansu checks a record's value against the
#: ``value`` property): the broker refuses every write to the topic, with ``INVALID_RECORD``.
REFUSE_ALL = {"type": "object", "properties": {"value": {"type": "object", "required": ["never"]}}}


@pytest.mark.integration
class TestBrokerRefusesWrites:
    """A record the broker refuses stops the worker before its message is committed."""

    def test_refused_outcome_stops_the_worker_and_is_read_again(self, tmp_path: Path) -> None:
        """The broker refuses A-1's outcome (INVALID_RECORD): the worker exits with an error,
        the group's committed offset stays before A-1's acknowledgement, and a restarted
        worker processes it again (and stops again: the broker still refuses)."""
        name = "t" + uuid.uuid4().hex[:10]
        schemas = tmp_path / "schemas"
        schemas.mkdir()
        (schemas / f"{name}.outcomes.json").write_text(json.dumps(REFUSE_ALL))
        with TansuBroker(log_path=tmp_path / "tansu.log", schema_registry=schemas) as broker:
            # an hour's limit: no deadline passes while the worker restarts, so the message
            # read again is the acknowledgement in time, whose outcome is sent again
            policy = POLICY.replace("limit: 3s", "limit: 1h")
            stack = Stack(broker.bootstrap, tmp_path, policy, name=name, partitions=1)
            try:
                worker = stack.start_worker()
                t0 = _now()
                stack.send(canonical("a-reg", "A-1", "complaint_registered", t0))
                wait_for(  # the group's offsets are committed past A-1's start
                    lambda: stack.committed(stack.topics["events"]) >= 1, 60, "a first commit"
                )
                stack.send(
                    canonical("a-ack", "A-1", "complaint_acknowledged", t0 + timedelta(seconds=1))
                )
                wait_for(lambda: not worker.alive(), 60, "the worker to stop on the refusal")
                first = _events(worker.log_path)
                committed = stack.committed(stack.source), stack.committed(stack.topics["events"])
                again = stack.start_worker(ready=False)
                wait_for(lambda: not again.alive(), 120, "the restarted worker to stop again")
                second = _events(again.log_path)
            finally:
                stack.close()

        assert 0 != (worker.proc.returncode if worker.proc is not None else 0)
        assert ("record_delivery_failed" in first, "record_delivery_failed" in second) == (
            True,
            True,
        )
        assert (1, 1) == committed, "only A-1's start is committed, not its acknowledgement"


@pytest.mark.integration
class TestBrokerRestartedEmpty:
    """A broker that comes back without the worker's topics stops the worker, once, loudly."""

    def test_exit_then_restart_works(self, broker: TansuBroker, tmp_path: Path) -> None:
        """Exit status 1 with broker_data_lost naming the topics; a new worker then runs clean."""
        # Tansu creates a topic on first use with 4 partitions; with the same count the
        # restarted worker accepts the topics the clients re-created meanwhile.
        stack = Stack(broker.bootstrap, tmp_path, POLICY, partitions=4)
        fresh: TansuBroker | None = None
        try:
            worker = stack.start_worker()
            outcomes = stack.reader("outcomes")
            t0 = _now()
            stack.send(
                canonical("a-reg", "A-1", "complaint_registered", t0),
                canonical("a-ack", "A-1", "complaint_acknowledged", t0 + timedelta(seconds=1)),
            )
            outcomes.wait(lambda v: by_case(v, "A-1"), 30, "outcome of A-1")
            broker.stop()
            wait_for(
                lambda: not kafka_ready("127.0.0.1", broker.port), 30, "the old broker to be gone"
            )
            fresh = TansuBroker(port=broker.port, log_path=tmp_path / "tansu-fresh.log").start()
            wait_for(lambda: not worker.alive(), 60, "the worker to exit after the broker reset")
            code = worker.proc.returncode if worker.proc is not None else None
            lost = [e for e in _log_events(worker.log_path) if e.get("event") == "broker_data_lost"]

            for reader in stack.readers:
                reader.close()
            stack.readers.clear()
            stack._producer.close()
            stack._producer = KafkaProducer(bootstrap_servers=fresh.bootstrap, linger_ms=5)
            second = stack.start_worker()
            outcomes = stack.reader("outcomes")
            t1 = _now()
            stack.send(
                canonical("c-reg", "C-1", "complaint_registered", t1),
                canonical("c-ack", "C-1", "complaint_acknowledged", t1 + timedelta(seconds=1)),
            )
            done = outcomes.wait(lambda v: by_case(v, "C-1"), 60, "outcome of C-1")

            assert 1 == code
            assert 1 == len(lost)
            assert f"topic {stack.topics['events']} is gone" in lost[0]["problems"]
            assert ["met"] == [o["outcome"] for o in by_case(done, "C-1")]
            assert second.alive()
        finally:
            stack.close()
            if fresh is not None:
                fresh.stop()


@pytest.mark.integration
class TestRedisDown:
    """Clock tracking does not need Redis; alerts wait for it."""

    def test_breaches_continue_and_alerts_wait(
        self,
        tansu: TansuBroker,
        tmp_path: Path,
        own_redis: RedisServer,
        httpserver: HTTPServer,
    ) -> None:
        """Breaches while Redis is down land on sla.breaches; their alerts go out once, later."""
        httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
        alerts = tmp_path / "faults-alerts.yaml"
        alerts.write_text(ALERTS)
        env = {
            "SLAWATCH_REDIS_URL": own_redis.url,
            "SLAWATCH_ALERTS": str(alerts),
            "HOOK_URL": httpserver.url_for("/hook"),
            "HOOK_SECRET": "faults-webhook-secret",
        }
        stack = Stack(tansu.bootstrap, tmp_path, POLICY, extra_env=env)

        def alerted() -> Counter[str]:
            return Counter(json.loads(r.get_data())["case_id"] for r, _ in httpserver.log)

        try:
            worker = stack.start_worker()
            breaches = stack.reader("breaches")
            stack.send(canonical("r0", "R-0", "complaint_registered", _now(), assignee="agent-1"))
            wait_for(lambda: alerted()["R-0"] == 1, 60, "the alert of R-0 while Redis is up")

            own_redis.stop()
            down = ["R-1", "R-2", "R-3"]
            t1 = _now()
            stack.send(
                *(canonical(f"{c}-reg", c, "complaint_registered", t1, assignee="agent-1")
                  for c in down)
            )  # fmt: skip
            found = breaches.wait(
                lambda v: all(by_case(v, c) for c in down), 60, "breaches while Redis is down"
            )
            wait_for(  # the alert agents have the records and keep trying Redis
                lambda: _events(worker.log_path).count("alert_redis_unavailable") >= 3,
                60,
                "the alert agents to find Redis down",
            )
            # the clocks go on while the alerts wait: a case registered now still breaches
            stack.send(
                canonical("R-4-reg", "R-4", "complaint_registered", _now(), assignee="agent-1")
            )
            found = breaches.wait(
                lambda v: bool(by_case(v, "R-4")), 60, "a breach while the alerts wait for Redis"
            )
            down.append("R-4")
            while_down = alerted()
            alive_while_down = worker.alive()

            own_redis.start()
            wait_for(lambda: all(alerted()[c] >= 1 for c in down), 90, "alerts after Redis is back")
            # sentinels breach after R-1..R-3; the alert agents take a partition's breaches in
            # order, so once the sentinels are alerted, any repeat of the others is out too
            stack.breach_barrier(
                breaches, "complaint_registered", _now() - timedelta(seconds=2), assignee="agent-1"
            )
            wait_for(
                lambda: all(alerted()[c] >= 1 for c in stack.barrier_cases), 60, "barrier alerts"
            )
            final = alerted()
            for sentinel in stack.barrier_cases:
                assert 1 == final.pop(sentinel)

            assert sorted(down) == sorted(b["case_id"] for b in found if b["case_id"] in down)
            assert [0, 0, 0, 0] == [while_down[c] for c in down]
            assert alive_while_down
            assert {"R-0": 1, "R-1": 1, "R-2": 1, "R-3": 1, "R-4": 1} == dict(final)
            assert worker.alive()
        finally:
            stack.close()
