"""The real worker against the real broker: records out, dead letters, order, restarts, calendars.

Each test starts ``slawatch worker`` as a subprocess with its own app id, web port and topic
names, produces events with kafka-python and reads the output topics back. Limits are a few
seconds long; waits are bounded.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slawatch.testing import Stack, by_case, canonical, wait_for
from streams.broker import TansuBroker

pytestmark = pytest.mark.integration

POLICY = """\
version: "test-1"
allowed_lateness: 3s
calendars:
  office:
    timezone: Asia/Shanghai
    working_hours:
      mon: ["09:00-18:00"]
      tue: ["09:00-18:00"]
      wed: ["09:00-18:00"]
      thu: ["09:00-18:00"]
      fri: ["09:00-18:00"]
      sat: []
      sun: []
    holidays: china
teams:
  desk: {}
regions: [sh]  # metric label values come from the policy; others are "other"
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    cancel: [complaint_withdrawn]
    limit: 4s
    warn_at: [0.5]
  - id: ticket_deadline
    case_kind: ticket
    start: [ticket_opened]
    stop: [ticket_closed]
    limit: 8s
    warn_at: []
  - id: claim_review
    case_kind: claim
    start: [claim_filed]
    stop: [claim_decided]
    limit: 3 working days
    calendar: office
"""


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path) -> Iterator[Stack]:
    """This test's topics, config files and workers; workers are stopped afterwards."""
    s = Stack(tansu.bootstrap, tmp_path, POLICY)
    try:
        yield s
    finally:
        s.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestRecords:
    """Warnings, breaches and outcomes of a short clock reach their topics."""

    def test_warning_breach_and_outcomes(self, stack: Stack) -> None:
        """A 4 s clock warns at half time, breaches at 4 s, and a late stop ends it breached."""
        worker = stack.start_worker()
        warnings, breaches, outcomes = (
            stack.reader("warnings"),
            stack.reader("breaches"),
            stack.reader("outcomes"),
        )
        t0 = _now()
        stack.send(
            canonical("s1-start", "S-1", "complaint_registered", t0, team="desk", region="sh"),
            canonical("s2-start", "S-2", "complaint_registered", t0),
            canonical("s2-ack", "S-2", "complaint_acknowledged", t0 + timedelta(seconds=1)),
        )
        found = breaches.wait(lambda v: by_case(v, "S-1"), 30, "breach of S-1")
        stack.send(canonical("s1-ack", "S-1", "complaint_acknowledged", _now()))
        done = outcomes.wait(
            lambda v: by_case(v, "S-1") and by_case(v, "S-2"), 30, "outcomes of S-1 and S-2"
        )

        [warning] = by_case(warnings.values(), "S-1")
        assert ("S-1/first_response/1/w50", 0.5) == (warning["warning_id"], warning["threshold"])
        assert t0 + timedelta(seconds=4) == _at(warning["deadline"])
        [breach] = by_case(found, "S-1")
        assert ("breach", "S-1/first_response/1") == (breach["type"], breach["breach_id"])
        assert t0 + timedelta(seconds=4) == _at(breach["deadline"])
        assert _at(breach["emitted_at"]) >= _at(breach["deadline"])
        assert ("desk", "sh", "test-1") == (
            breach["team"],
            breach["region"],
            breach["policy_version"],
        )
        assert ["breached"] == [o["outcome"] for o in by_case(done, "S-1")]
        assert ["met"] == [o["outcome"] for o in by_case(done, "S-2")]
        assert [] == by_case(warnings.values(), "S-2") + by_case(breaches.values(), "S-2")
        assert 1.0 == worker.metric("slawatch_clock_results_total", result="met")
        assert 1.0 == worker.metric("slawatch_clock_results_total", result="breached")
        assert 1.0 == worker.metric(
            "slawatch_breaches_total", clock="first_response", team="desk", region="sh"
        )
        assert 1.0 == worker.metric("slawatch_warnings_total", threshold="0.5")


class TestDeadLetters:
    """A bad message is dead-lettered with its bytes, and the worker keeps going."""

    def test_malformed_messages_then_a_good_one(self, stack: Stack) -> None:
        """Invalid JSON and an invalid event go to the dead-letter topic; the next event counts."""
        worker = stack.start_worker()
        deadletters = stack.reader("deadletter")
        bad_json = b'{"event_id": "x", oops'
        no_offset = json.dumps(
            canonical("nz", "N-1", "complaint_registered", _now())
            | {"occurred_at": "2026-11-11T09:30:00"}
        ).encode()
        stack.send(bad_json, key=b"k-1")
        stack.send(no_offset, key=b"k-2")
        stack.send(canonical("g1", "G-1", "complaint_registered", _now()))

        letters = deadletters.wait(lambda v: len(v) >= 2, 30, "two dead letters")
        good = wait_for(lambda: worker.get("/cases/G-1")[0] == 200, 30, "G-1 in the table")

        first, second = letters
        assert ("invalid_json", stack.source) == (first["reason"], first["topic"])
        assert bad_json == base64.b64decode(first["value_b64"])
        assert b"k-1" == base64.b64decode(first["key_b64"])
        assert isinstance(first["offset"], int) and isinstance(first["partition"], int)
        assert "naive_timestamp" == second["reason"]
        assert no_offset == base64.b64decode(second["value_b64"])
        assert good
        assert 1.0 == worker.metric("slawatch_deadletters_total", reason="invalid_json")
        assert 1.0 == worker.metric("slawatch_events_consumed_total", topic=stack.source)


class TestOrdering:
    """Duplicates change nothing; events out of order are put back in order."""

    def test_duplicates_and_out_of_order_events(self, stack: Stack) -> None:
        """A duplicate start, a stop before its start, and a late stop retracting a breach."""
        worker = stack.start_worker()
        breaches, outcomes = stack.reader("breaches"), stack.reader("outcomes")
        t0 = _now()
        start_d = canonical("d-start", "D-1", "complaint_registered", t0)
        stack.send(start_d, start_d)
        stack.send(canonical("d-ack", "D-1", "complaint_acknowledged", t0 + timedelta(seconds=1)))
        # the stop arrives before the start it belongs to
        stack.send(canonical("o-ack", "O-1", "complaint_acknowledged", t0 + timedelta(seconds=1)))
        stack.send(canonical("o-start", "O-1", "complaint_registered", t0))
        # started 10 s ago: breaches at once; then a stop from before the deadline arrives
        stack.send(canonical("l-start", "L-1", "complaint_registered", t0 - timedelta(seconds=10)))
        breaches.wait(lambda v: by_case(v, "L-1"), 30, "breach of L-1")
        stack.send(canonical("l-ack", "L-1", "complaint_acknowledged", t0 - timedelta(seconds=8)))

        done = outcomes.wait(
            lambda v: all(by_case(v, c) for c in ("D-1", "O-1", "L-1")), 30, "three outcomes"
        )
        # sentinels started after D-1 and O-1 breach after any breach of theirs could come
        all_breaches = stack.breach_barrier(
            breaches, "complaint_registered", t0 + timedelta(seconds=1)
        )

        assert [("met", 1.0)] == [
            (o["outcome"], o["elapsed_seconds"]) for o in by_case(done, "D-1")
        ]
        assert ["met"] == [o["outcome"] for o in by_case(outcomes.values(), "O-1")]
        assert ["met"] == [o["outcome"] for o in by_case(outcomes.values(), "L-1")]
        assert [] == by_case(all_breaches, "D-1") + by_case(all_breaches, "O-1")
        assert ["breach", "breach_retracted"] == [b["type"] for b in by_case(all_breaches, "L-1")]
        assert 1.0 <= worker.metric("slawatch_events_ignored_total", reason="duplicate")
        assert 1.0 == worker.metric("slawatch_clock_results_total", result="retracted")


def _states(stack: Stack, worker_index: int, cases: list[str]) -> dict[str, dict]:
    worker = stack.workers[worker_index]
    out = {}
    for case in cases:
        status, body = worker.get(f"/cases/{case}")
        assert 200 == status, (case, body)
        out[case] = body
    return out


def _started(states: dict[str, dict]) -> dict[str, tuple]:
    """What recovery must keep: per case, seen events and each clock's cycle start."""
    return {
        case: (
            tuple(body["state"]["seen"]),
            tuple(
                sorted(
                    (clock, track["cycles"], (track["running"] or {}).get("started_at"))
                    for clock, track in body["state"]["clocks"].items()
                )
            ),
        )
        for case, body in states.items()
    }


class TestRestart:
    """A worker stopped mid-stream (SIGKILL, SIGTERM) loses no timer and repeats no breach."""

    def test_kill_and_term_restarts(self, stack: Stack) -> None:
        """Deadlines due while no worker ran fire after recovery, once; state is recovered whole."""
        first = stack.start_worker()
        breaches, outcomes = stack.reader("breaches"), stack.reader("outcomes")
        t0 = _now()
        open_cases = [f"K-{i}" for i in range(20)]
        met_cases = [f"M-{i}" for i in range(5)]
        stack.send(
            *(canonical(f"{c}-o", c, "ticket_opened", t0, case_kind="ticket") for c in open_cases)
        )
        stack.send(
            *(canonical(f"{c}-o", c, "ticket_opened", t0, case_kind="ticket") for c in met_cases)
        )
        stack.send(
            *(
                canonical(
                    f"{c}-c", c, "ticket_closed", t0 + timedelta(seconds=1), case_kind="ticket"
                )
                for c in met_cases
            )
        )
        wait_for(
            lambda: (
                first.metric("slawatch_outcomes_total", outcome="met") == 5
                and first.metric("slawatch_clocks_open", clock="ticket_deadline") == 20
            ),
            30,
            "25 cases in the first worker",
        )
        before = _started(_states(stack, 0, open_cases + met_cases))
        stack.changelog_barrier(first, open_cases + met_cases)  # nothing lingers in the producer
        first.kill()
        wait_for(lambda: _now() > t0 + timedelta(seconds=9), 15, "the deadlines to pass")

        second = stack.start_worker()
        recovered = second.wait_ready()["recovered"]
        after = _started(_states(stack, 1, open_cases + met_cases))
        found = breaches.wait(lambda v: len(v) >= 20, 40, "20 breaches after SIGKILL restart")

        assert 25 == recovered["cases"]
        assert before == after
        assert sorted(open_cases) == sorted(b["case_id"] for b in found)
        assert all(_at(b["emitted_at"]) > t0 + timedelta(seconds=8) for b in found)

        # mid-stream SIGTERM: new cases keep arriving while the worker stops
        t1 = _now()
        more = [f"T-{i}" for i in range(10)]
        stack.send(
            *(canonical(f"{c}-o", c, "ticket_opened", t1, case_kind="ticket") for c in more[:5])
        )
        wait_for(
            lambda: second.metric("slawatch_clocks_open", clock="ticket_deadline") == 25,
            30,
            "5 new cases (and 20 breached, still open)",
        )
        stack.send(
            *(canonical(f"{c}-o", c, "ticket_opened", t1, case_kind="ticket") for c in more[5:])
        )
        assert 0 == second.stop()
        third = stack.start_worker()
        breaches.wait(lambda v: len(v) >= 30, 60, "30 breaches after SIGTERM restart")
        # sentinels opened now breach after every due deadline and every replayed event
        everything = stack.breach_barrier(
            breaches, "ticket_opened", _now() - timedelta(seconds=7), case_kind="ticket"
        )

        ids = Counter(b["breach_id"] for b in everything)
        assert 30 == len(ids)
        assert [] == [i for i, n in ids.items() if n > 1]
        assert sorted(open_cases + more) == sorted(b["case_id"] for b in everything)
        assert 0 == len([o for o in outcomes.values() if o["case_id"] in open_cases + more])
        assert third.alive()


class TestRocksDbRestart:
    """The RocksDB store keeps a worker's cases on disk across a restart on the same host."""

    def test_state_and_deadlines_survive_a_restart_on_the_same_datadir(self, stack: Stack) -> None:
        """Cases written before SIGTERM are read back from RocksDB whole; their deadlines,
        passed while no worker ran, fire once after the restart."""
        stack.extra_env["SLAWATCH_STORE"] = "rocksdb://"
        first = stack.start_worker()
        breaches = stack.reader("breaches")
        t0 = _now()
        cases = [f"R-{i}" for i in range(10)]
        stack.send(
            *(canonical(f"{c}-o", c, "ticket_opened", t0, case_kind="ticket") for c in cases)
        )
        wait_for(
            lambda: first.metric("slawatch_clocks_open", clock="ticket_deadline") == 10,
            30,
            "10 open cases in the first worker",
        )
        before = _started(_states(stack, 0, cases))
        assert 0 == first.stop()
        wait_for(lambda: _now() > t0 + timedelta(seconds=9), 15, "the deadlines to pass")

        second = stack.start_worker()
        recovered = second.wait_ready()["recovered"]
        after = _started(_states(stack, 1, cases))
        found = breaches.wait(lambda v: len(v) >= 10, 40, "10 breaches after the restart")

        assert (10, before) == (recovered["cases"], after)
        assert sorted(cases) == sorted(b["case_id"] for b in found)
        assert list((stack.tmp / "data").rglob("CURRENT")), "no RocksDB database was written"


class TestWorkingCalendar:
    """A working-time clock counts around China's holidays and make-up working days."""

    def test_deadline_across_national_day_and_make_up_day(self, stack: Stack) -> None:
        """3 working days from 30 Sep 2026 17:00 skip 1-7 Oct and count Saturday 10 Oct."""
        stack.start_worker(env={"SLAWATCH_EVENT_MAX_AGE": "off"})  # fixed 2026 dates stay valid
        breaches = stack.reader("breaches")
        stack.send(
            canonical(
                "h1", "H-1", "claim_filed", _at("2026-09-30T17:00:00+08:00"), case_kind="claim"
            ),
            canonical(
                "h2", "H-2", "claim_filed", _at("2026-10-09T15:00:00+08:00"), case_kind="claim"
            ),
        )
        found = breaches.wait(
            lambda v: by_case(v, "H-1") and by_case(v, "H-2"), 30, "breaches of H-1 and H-2"
        )

        # 30 Sep 17-18 (1 h) + 8 Oct (9 h) + 9 Oct (9 h) + Sat 10 Oct make-up day 9-17 (8 h)
        assert _at("2026-10-10T17:00:00+08:00") == _at(by_case(found, "H-1")[0]["deadline"])
        # 9 Oct 15-18 (3 h) + Sat 10 Oct (9 h) + 12 Oct (9 h) + 13 Oct 9-15 (6 h)
        assert _at("2026-10-13T15:00:00+08:00") == _at(by_case(found, "H-2")[0]["deadline"])
