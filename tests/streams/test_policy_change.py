"""A policy change deployed by restarting the worker: which version judges which cycle.

A worker with policy v1 starts the clocks; it is stopped, the file is replaced by v2 and the
worker restarted (the way a rolling restart deploys a new policy), then restarted once more
with ``SLAWATCH_REEVALUATE=1``. The records on the output topics say which version judged each
cycle and against which deadline.

Start events are dated half an hour back, so each deadline is either already past (it fires at
once) or half an hour ahead (it does not fire during the test): no test waits for a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slawatch.testing import Stack, by_case, canonical, wait_for
from streams.broker import TansuBroker

pytestmark = pytest.mark.integration

V1 = """\
version: "v1"
clocks:
  - id: reply
    case_kind: complaint
    start: [registered]
    stop: [answered]
    limit: 1h
    warn_at: []
  - id: legacy
    case_kind: complaint
    start: [registered]
    stop: [legacy_done]
    limit: 1h
    warn_at: []
"""

#: v2 shortens ``reply`` to 20 minutes and drops ``legacy``.
V2 = """\
version: "v2"
clocks:
  - id: reply
    case_kind: complaint
    start: [registered]
    stop: [answered]
    limit: 20m
    warn_at: []
"""


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path) -> Iterator[Stack]:
    """This test's topics, config files and workers; workers are stopped afterwards."""
    s = Stack(tansu.bootstrap, tmp_path, V1)
    try:
        yield s
    finally:
        s.close()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def judged(records: list[dict[str, Any]]) -> list[tuple[str, str, str, datetime]]:
    """(clock, outcome or type, policy version, deadline) of each record, sorted."""
    return sorted(
        (r["clock"], r.get("outcome", r["type"]), r["policy_version"], _at(r["deadline"]))
        for r in records
    )


class TestPolicyChange:
    def test_versions_across_restarts(self, stack: Stack) -> None:
        """Old cycles keep v1, new get v2, removed clocks end cancelled; reevaluate re-judges."""
        t0 = datetime.now(UTC) - timedelta(minutes=30)
        first = stack.start_worker()
        outcomes, breaches = stack.reader("outcomes"), stack.reader("breaches")
        stack.send(canonical("a1", "A", "registered", t0), canonical("b1", "B", "registered", t0))
        wait_for(lambda: first.metric("slawatch_clocks_started_total") == 4, 30, "4 clocks started")
        assert 0 == first.stop()

        stack.policy_path.write_text(V2)
        second = stack.start_worker()
        reviewed = second.wait_ready()["recovered"]["policy_reviews"]
        stack.send(
            canonical("a2", "A", "answered", t0 + timedelta(minutes=30)),
            canonical("c1", "C", "registered", t0),
        )
        done = outcomes.wait(
            lambda v: len(by_case(v, "A")) == 2 and len(by_case(v, "B")) == 1,
            30,
            "A's two outcomes and B's cancelled legacy clock",
        )
        new = breaches.wait(lambda v: by_case(v, "C"), 30, "the breach of C under v2")

        assert 2 == reviewed  # A and B had a legacy cycle: touched at once, not at 1 h
        assert [
            ("legacy", "cancelled", "v1", t0 + timedelta(hours=1)),
            ("reply", "met", "v1", t0 + timedelta(hours=1)),
        ] == judged(by_case(done, "A"))
        assert [("legacy", "cancelled", "v1", t0 + timedelta(hours=1))] == judged(
            by_case(done, "B")
        )
        assert [("reply", "breach", "v2", t0 + timedelta(minutes=20))] == judged(by_case(new, "C"))
        assert [] == by_case(breaches.values(), "B")  # still judged by v1: due in 30 min
        assert 0 == second.stop()

        third = stack.start_worker(env={"SLAWATCH_REEVALUATE": "1"})
        late = breaches.wait(lambda v: by_case(v, "B"), 30, "B re-judged by v2")
        stack.send(canonical("b2", "B", "answered", t0 + timedelta(minutes=31)))
        last = outcomes.wait(lambda v: len(by_case(v, "B")) == 2, 30, "B's reply outcome")

        assert [("reply", "breach", "v2", t0 + timedelta(minutes=20))] == judged(by_case(late, "B"))
        assert [
            ("legacy", "cancelled", "v1", t0 + timedelta(hours=1)),
            ("reply", "breached", "v2", t0 + timedelta(minutes=20)),
        ] == judged(by_case(last, "B"))
        assert third.alive()
