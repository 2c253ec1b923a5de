"""What the clock agent's effects become: breach records, counters and the breach log lines.

The sink is driven as the processor drives it (``emit`` per message, ``end_batch`` per batch);
the outbox is a stand-in that keeps what was staged. The agent against the real broker is
tested in test_agents_clock.py and test_operability.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sla.effects import Breached
from sla.records import BreachRecord, breach_id
from streams.clocks import EffectSink
from streams.metrics import Metrics
from streams.outbox import Outbox
from streams.wire import BREACHES, WorkerTopics

DEADLINE = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class Staged:
    """An outbox that keeps what was staged: (topic, partition, key, value)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, int, bytes | None, bytes | None]] = []

    def stage(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        self.records.append((topic, partition, key, value))


class Breaches:
    name = "sla.breaches"
    codec = BREACHES


class Topics:
    def __init__(self) -> None:
        self.breaches = Breaches()
        self.outbox = Staged()


def breached(n: int, clock: str = "first_response", late: float = 1.0) -> Breached:
    case = f"C-{n}"
    return Breached(
        BreachRecord(
            case_id=case,
            case_kind="complaint",
            clock=clock,
            cycle=1,
            standard="basic",
            target=0.95,
            team="cs-frontline",
            region="sh",
            policy_version="v1",
            breach_id=breach_id(case, clock, 1),
            started_at=DEADLINE - timedelta(hours=24),
            deadline=DEADLINE,
            emitted_at=DEADLINE + timedelta(seconds=late),
        )
    )


def run_batch(sink: EffectSink, effects: list[Breached]) -> None:
    async def batch() -> None:
        for n, effect in enumerate(effects):
            await sink.emit([effect], {"topic": "slawatch.due", "partition": 3, "offset": n}, 3)
        sink.end_batch()

    asyncio.run(batch())


def sink(topics: Topics, lines: int) -> EffectSink:
    return EffectSink(
        cast(WorkerTopics, topics),
        Metrics(CollectorRegistry()),
        cast(Outbox, topics.outbox),
        lines=lines,
    )


class TestBreachLines:
    def test_a_few_breaches_get_a_line_each_and_no_summary(self) -> None:
        """Up to the limit per batch, each breach has its own line naming case and clock."""
        topics = Topics()
        with capture_logs() as logs:
            run_batch(sink(topics, lines=3), [breached(1), breached(2)])

        assert [("sla_breach", "C-1", "warning"), ("sla_breach", "C-2", "warning")] == [
            (e["event"], e.get("case_id"), e["log_level"]) for e in logs
        ]
        assert [
            ("sla.breaches", 3, b"C-1", "C-1"),
            ("sla.breaches", 3, b"C-2", "C-2"),
        ] == [
            (topic, partition, key, BREACHES.decode(value).case_id)
            for topic, partition, key, value in topics.outbox.records
            if value is not None
        ]

    def test_a_storm_logs_the_first_breaches_and_sums_up_the_rest(self) -> None:
        """Past the limit, every breach is still sent; the rest of the batch is one line."""
        topics = Topics()
        storm = [breached(n, late=n) for n in range(5)] + [breached(9, clock="dept_contact")]
        with capture_logs() as logs:
            run_batch(sink(topics, lines=2), storm)

        singly = [e["case_id"] for e in logs if e["event"] == "sla_breach"]
        summary = [e for e in logs if e["event"] == "sla_breaches_summarized"]
        assert (["C-0", "C-1"], 6) == (singly, len(topics.outbox.records))
        assert [
            {
                "breaches": 4,
                "by_clock": {"dept_contact": 1, "first_response": 3},
                "max_lateness_seconds": 4.0,
                "logged_singly": 2,
            }
        ] == [
            {k: e[k] for k in ("breaches", "by_clock", "max_lateness_seconds", "logged_singly")}
            for e in summary
        ]

    def test_each_batch_starts_counting_anew(self) -> None:
        """The limit is per batch: the next batch's first breaches get their lines again."""
        topics, logs_per_batch = Topics(), []
        breach_sink = sink(topics, lines=1)
        for first in (0, 10):
            with capture_logs() as logs:
                run_batch(breach_sink, [breached(first), breached(first + 1)])
            logs_per_batch.append([(e["event"], e.get("case_id")) for e in logs])

        assert [
            [("sla_breach", "C-0"), ("sla_breaches_summarized", None)],
            [("sla_breach", "C-10"), ("sla_breaches_summarized", None)],
        ] == logs_per_batch
