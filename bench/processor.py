"""The clock agent's processor without Kafka: CPU per event of everything but the client.

``bench/throughput.py`` measures the whole worker against a broker, on a shared machine whose
speed moves by up to 2x within an hour. This one feeds the same backlog (N/2 complaints,
registered then acknowledged, ``config/policies.yaml``) straight to the clock agent's
:class:`~streams.processor.CaseProcessor`, as the worker builds it
(:func:`streams.clocks.build_processor`): the keyed source's decode and checks, the engine, the
effects and their counters, the rows in Faust's memory store, the deadline index and gauges,
records staged in the outbox. Only the hand-over to aiokafka is left out (the outbox answers
each produce batch at once). Messages come in fetches of ``--fetch`` per partition, as the
worker takes them.

It is deterministic enough to run under ``valgrind --tool=cachegrind`` and compare two
checkouts by instructions (run it from each checkout's directory)::

    .venv/bin/python bench/processor.py --events 20000
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/processor.py --repeat 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faust.types import Message  # noqa: E402

from bench.backlog import complaints  # noqa: E402
from slawatch.collector import tune_gc  # noqa: E402
from sources.mapping import TopicMapping  # noqa: E402
from streams.app import create_app  # noqa: E402
from streams.clocks import OpenClockGauges, build_processor  # noqa: E402
from streams.ingest import SourceIntake  # noqa: E402
from streams.outbox import Outbox, _Bundle  # noqa: E402
from streams.partitioner import partition_of  # noqa: E402
from streams.settings import Settings  # noqa: E402

TOPIC = "bench.complaints"
PARTITIONS = 4


class Answering(Outbox):
    """An outbox whose produce batches the broker answers at once (no broker); counts the
    records per topic."""

    sent: dict[str, int]

    async def _client(self) -> None:
        return None

    async def _hand_over(self, client: None, bundle: _Bundle) -> None:
        sent = self.__dict__.setdefault("sent", {})
        sent[bundle.topic] = sent.get(bundle.topic, 0) + len(bundle.records) - bundle.handed
        bundle.handed = len(bundle.records)
        bundle.future.set_result(None)  # type: ignore[arg-type]  # no broker: no metadata


def backlog(n: int, now: datetime) -> list[Message]:
    """``bench/throughput.py``'s events (bench/backlog.py) as messages of the keyed source."""
    offsets = [0] * PARTITIONS
    messages = []
    for case, event in complaints(n, now):
        partition = partition_of(case, PARTITIONS)
        offset = offsets[partition]
        offsets[partition] += 1
        value = json.dumps(event).encode()
        messages.append(Message(TOPIC, partition, offset, 0.0, 0, None, case.encode(), value, None))
    return messages


def fetches(messages: list[Message], size: int) -> list[list[Message]]:
    """The messages in fetches of up to ``size`` per partition, partitions taken in turn."""
    by_partition: list[list[Message]] = [[] for _ in range(PARTITIONS)]
    for message in messages:
        by_partition[message.partition].append(message)
    out = []
    for start in range(0, max(len(p) for p in by_partition), size):
        out.extend(p[start : start + size] for p in by_partition if p[start : start + size])
    return out


def run(messages: list[Message], fetch: int, datadir: str) -> float:
    """CPU seconds for a fresh processor to process ``messages``."""
    os.environ["SLAWATCH_ALERTS"] = "off"
    settings = Settings.from_env(
        {
            "SLAWATCH_DATADIR": datadir,
            "SLAWATCH_ALERTS": "off",
            "SLAWATCH_PARTITIONS": str(PARTITIONS),
            "SLAWATCH_POLICIES": str(ROOT / "config" / "policies.yaml"),
            "SLAWATCH_LOG_LEVEL": "warning",
        }
    )
    mappings: dict[str, Any] = {TOPIC: TopicMapping(TOPIC)}
    rt = create_app(settings, mappings=mappings, keyed_sources=frozenset({TOPIC}))
    outbox = Answering(rt.app)
    processor = build_processor(rt, SourceIntake(rt), OpenClockGauges(rt.metrics), outbox)
    rt.app.flow_control.resume()  # as a worker's partitions are once assigned
    batches = fetches(messages, fetch)
    tune_gc(os.environ)  # as the worker does once started

    async def main() -> float:
        started = time.process_time()
        done = 0
        for batch in batches:
            done += await processor.process_messages(batch)
        spent = time.process_time() - started
        outcomes = outbox.sent.get(rt.topics.outcomes.name, 0)
        assert (done, outcomes) == (len(messages), len(messages) // 2), (done, outcomes)
        return spent

    return asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events (even number)")
    parser.add_argument(
        "--fetch",
        type=int,
        default=1_000,
        help="messages per fetch; keep it below events/8, or a case's two events share a batch",
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported")
    args = parser.parse_args()
    messages = backlog(args.events - args.events % 2, datetime.now(UTC).replace(microsecond=0))
    with tempfile.TemporaryDirectory(prefix="slawatch-bench-") as datadir:
        best = min(run(messages, args.fetch, datadir) for _ in range(args.repeat))
    print(f"{len(messages):,} events: {best * 1e6 / len(messages):,.0f} µs CPU per event")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
