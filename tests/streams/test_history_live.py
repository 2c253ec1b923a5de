"""History features on the live worker: a shadow policy beside the live one, and explain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slawatch.testing import Stack, TopicReader, by_case, canonical
from streams.broker import TansuBroker
from streams.shadow import SHADOW_OUTCOMES_TOPIC

pytestmark = pytest.mark.integration

LIVE = """\
version: "live-1"
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 3s
    warn_at: []
"""

CANDIDATE = LIVE.replace('"live-1"', '"candidate-2"').replace("limit: 3s", "limit: 10m")


@pytest.fixture
def stack(tansu: TansuBroker, tmp_path: Path) -> Iterator[Stack]:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE, encoding="utf-8")
    s = Stack(tansu.bootstrap, tmp_path, LIVE)
    s.extra_env["SLAWATCH_SHADOW_POLICIES"] = str(candidate)
    try:
        yield s
    finally:
        s.close()


class TestShadowPolicy:
    def test_candidate_judges_the_same_events_apart(self, stack: Stack) -> None:
        """Live breaches at 3 s; the 10 min candidate meets, on its own topic and metrics."""
        worker = stack.start_worker()
        breaches, outcomes = stack.reader("breaches"), stack.reader("outcomes")
        shadow = TopicReader(stack.bootstrap, SHADOW_OUTCOMES_TOPIC)
        stack.readers.append(shadow)
        case = f"{stack.name}-S1"
        stack.send(canonical(f"{case}-r", case, "complaint_registered", datetime.now(UTC)))
        breaches.wait(lambda v: by_case(v, case), 30, "the live breach")
        stack.send(canonical(f"{case}-a", case, "complaint_acknowledged", datetime.now(UTC)))

        [live] = by_case(outcomes.wait(lambda v: by_case(v, case), 30, "live outcome"), case)
        [cand] = by_case(shadow.wait(lambda v: by_case(v, case), 30, "shadow outcome"), case)
        assert ("breached", "live-1") == (live["outcome"], live["policy_version"])
        assert ("met", "candidate-2") == (cand["outcome"], cand["policy_version"])
        labels = {"clock": "first_response", "outcome": "met", "policy_version": "candidate-2"}
        assert 1 <= worker.metric("slawatch_shadow_outcomes_total", **labels)
        assert [] == by_case(breaches.values(), case)[1:], "the shadow emits no breach"


class TestExplainLive:
    def test_running_clock_is_told_in_sentences(self, stack: Stack) -> None:
        """/cases/{id}/explain tells the case's running clock from the worker's table."""
        worker = stack.start_worker()
        breaches = stack.reader("breaches")
        case = f"{stack.name}-E1"
        stack.send(canonical(f"{case}-r", case, "complaint_registered", datetime.now(UTC)))
        breaches.wait(lambda v: by_case(v, case), 30, "the breach")

        status, body = worker.get(f"/cases/{case}/explain?tz=Asia/Shanghai")
        assert (200, True, "live-1") == (status, body["found"], body["policy_version"])
        assert {"first_response"} == {s["clock"] for s in body["sentences"]}
        assert 2 <= len(body["sentences"]), body
        missing, _ = worker.get("/cases/no-such-case/explain")
        assert 404 == missing
