"""Alert service CPU per breach against the real Redis: one record at a time, then in batches.

The alert agents hand the service the records of a fetch in chunks
(``streams.alerting.record_batches``); this times :meth:`AlertService.on_breaches` on the
storm's alerts file (``bench/storm.py``: every breach one notification to a Redis stream, no
escalation) with chunks of 1 (as the agents did before 2026-12-07) and of ``--chunk``, in the
same run, alternating. CPU time of this process (redis-py's work, not Redis's), best of
``--repeat``. Keys live under a prefix of their own in database 11 of the test Redis and are
deleted afterwards.

Usage::

    .venv/bin/python bench/alerts.py --breaches 5000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402

from alerts.config import AlertsSpec  # noqa: E402
from alerts.metrics import AlertMetrics  # noqa: E402
from alerts.runtime import AlertRuntime  # noqa: E402
from bench.storm import ALERTS_YAML  # noqa: E402
from sla.records import BreachRecord, breach_id  # noqa: E402
from sla.timesource import ManualTime  # noqa: E402
from slawatch.testing import redis_url  # noqa: E402

REDIS_DB = 11


def breaches(n: int, at: datetime, run: str) -> list[BreachRecord]:
    """``n`` breaches of distinct cases of the storm's team, all at ``at``."""
    records = []
    for i in range(n):
        case = f"{run}-{i:07d}"
        records.append(
            BreachRecord(
                case_id=case,
                case_kind="complaint",
                clock="storm_reply",
                cycle=1,
                policy_version="bench",
                standard="basic",
                target=0.95,
                team="cs-frontline",
                breach_id=breach_id(case, "storm_reply", 1),
                started_at=at - timedelta(hours=24),
                deadline=at,
                emitted_at=at,
            )
        )
    return records


async def one_pass(url: str, n: int, chunk: int) -> float:
    """CPU seconds per breach to hand ``n`` new breaches to the service ``chunk`` at a time."""
    import redis.asyncio as aioredis

    spec = AlertsSpec.model_validate(yaml.safe_load(ALERTS_YAML))
    client = aioredis.Redis.from_url(url, decode_responses=True)
    prefix = f"bench-alerts-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    runtime = AlertRuntime.build(
        spec,
        client,
        {},
        ManualTime(now),
        prefix=prefix,
        metrics=AlertMetrics(CollectorRegistry()),
    )
    records = breaches(n, now, prefix)
    try:
        started = time.process_time()
        for i in range(0, n, chunk):
            await runtime.service.on_breaches(records[i : i + chunk])
        return (time.process_time() - started) / n
    finally:
        async for key in client.scan_iter(match=f"{prefix}*", count=10_000):
            await client.delete(key)
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--breaches", type=int, default=5_000)
    parser.add_argument("--chunk", type=int, default=256, help="records per batch")
    parser.add_argument("--repeat", type=int, default=3, help="passes of each; the best counts")
    parser.add_argument("--redis", default=redis_url(REDIS_DB))
    args = parser.parse_args()
    best = {1: float("inf"), args.chunk: float("inf")}
    for _ in range(args.repeat):
        for chunk in best:
            best[chunk] = min(best[chunk], asyncio.run(one_pass(args.redis, args.breaches, chunk)))
    single, batched = best[1], best[args.chunk]
    print(f"one at a time: {single * 1e6:,.0f} µs CPU per breach")
    ratio = single / batched
    print(f"{args.chunk} at a time: {batched * 1e6:,.0f} µs CPU per breach ({ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
