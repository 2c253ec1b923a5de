"""Engine CPU per event on the clock agent's path, without Kafka: read state, apply, write state.

The worker benchmark (``bench/throughput.py``) cannot see changes of a few percent of the
worker's CPU on a shared machine. This one times only what the clock agent does in Python for
each event of the same backlog (N/2 complaints, registered then acknowledged ten minutes later,
``config/policies.yaml``): ``CaseState.from_json`` of the stored state, ``Engine.apply``,
``CaseState.to_json`` of the new state. CPU time (not wall time), best of ``--repeat``.

Usage::

    .venv/bin/python bench/engine.py --events 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backlog import complaints  # noqa: E402
from sla.engine import CaseState  # noqa: E402
from sla.events import LifecycleEvent  # noqa: E402
from sla.policy_file import load_policy  # noqa: E402
from streams.app import build_engine  # noqa: E402


def backlog(n: int, now: datetime) -> list[LifecycleEvent]:
    """The throughput benchmark's events (bench/backlog.py), validated."""
    return [LifecycleEvent.model_validate(event) for _, event in complaints(n, now)]


def run(engine: Any, events: list[LifecycleEvent], now: datetime) -> float:
    """CPU seconds for one pass of the clock agent's engine work over ``events``."""
    table: dict[str, dict[str, Any]] = {}
    started = time.process_time()
    for event in events:
        row = table.get(event.case_id)
        previous = None if row is None else CaseState.from_json(row)
        step = engine.apply(previous, event, now)
        if step.state is not None:
            table[event.case_id] = step.state.to_json()
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events (even number)")
    parser.add_argument("--repeat", type=int, default=5, help="passes; the best is reported")
    args = parser.parse_args()
    engine = build_engine(load_policy(ROOT / "config" / "policies.yaml"))
    now = datetime.now(UTC).replace(microsecond=0)
    events = backlog(args.events - args.events % 2, now)
    best = min(run(engine, events, now) for _ in range(args.repeat))
    print(f"{len(events):,} events: {best * 1e6 / len(events):,.0f} µs CPU per event")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
