"""Failover, the long form: workers of one app under a steady stream, killed at random moments.

On a fresh Tansu broker (or ``--bootstrap``), it starts two workers, adds a third, stops one
with SIGTERM and restarts it, then ``--kills`` times waits a random 2-12 s, SIGKILLs a random
worker mid-stream and restarts it. After each step it compares the breaches that came out
with the ones that should have (every case is generated with a known start and limit, a known
subset closed before its deadline); at the end it also judges the webhook notifications and
the tables. The harness is ``slawatch/testing/failover.py``, shared with the CI test
``tests/streams/test_failover.py`` (a few steps).

Usage::

    .venv/bin/python bench/failover.py --kills 10 --seed 1 --out failover.json

Prints a table per step and the totals, and writes the whole report as JSON. Needs Redis for
the alerts (``SLAWATCH_FAILOVER_REDIS_URL``, default db 13); ``--no-alerts`` runs without.
Exit code 1 when a breach or notification was lost or repeated outside a kill window, or a
clock was lost or duplicated in the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slawatch.testing import Stack  # noqa: E402
from slawatch.testing.failover import (  # noqa: E402
    POLICY,
    AlertReceiver,
    FailoverRun,
    Report,
    StepResult,
    failover_redis_url,
    format_table,
)
from streams.broker import TansuBroker  # noqa: E402


@contextlib.contextmanager
def _broker(bootstrap: str | None, workdir: Path) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    with TansuBroker(log_path=workdir / "tansu.log") as broker:
        yield broker.bootstrap


def _redis_answers(url: str) -> bool:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def _print_step(step: StepResult) -> None:
    print(
        f"  step {step.name:>2} {step.action:<8} {step.target:<3} settle {step.settle_s:5.1f}s "
        f"takeover {'-' if step.takeover_s is None else f'{step.takeover_s:4.1f}s'} "
        f"expected {step.expected:4} emitted {step.emitted:4} lost {step.lost} "
        f"dup {step.duplicated} workers {','.join(step.workers_after)}",
        flush=True,
    )


def failures(report: Report) -> list[str]:
    """What makes the run fail: losses, unexplained repeats, clocks lost or duplicated."""
    out = []
    b, t, n = report.breaches, report.tables, report.notifications
    if b["lost"]:
        out.append(f"{b['lost']} breaches lost: {b['lost_ids']}")
    if b["duplicated_unexplained"]:
        out.append(f"{b['duplicated_unexplained']} breach repeats outside a kill window")
    if b["unexpected"]:
        out.append(f"{b['unexpected']} breaches of cases closed in time: {b['unexpected_ids']}")
    if n is not None:
        if n["level1_missing"]:
            out.append(f"{n['level1_missing']} breaches never notified: {n['level1_missing_ids']}")
        if n["repeated_unexplained"] or n["distinct_keys_same_target"]:
            out.append(
                f"notifications repeated: {n['repeated_unexplained']} outside a kill window, "
                f"{n['distinct_keys_same_target']} under a second key"
            )
    if t["missing"] or t["in_several_tables"] or t["wrong_state"]:
        out.append(
            f"tables: {t['missing']} open cases missing, {t['in_several_tables']} in several "
            f"tables, {t['wrong_state']} with a wrong clock"
        )
    if t["clocks_open_sum"] != t["clocks_open_expected"]:
        out.append(f"clocks open {t['clocks_open_sum']} != {t['clocks_open_expected']}")
    return out


def run(args: argparse.Namespace, workdir: Path) -> Report:
    rng = random.Random(args.seed)
    alerts = None
    if not args.no_alerts:
        if not _redis_answers(args.redis_url):
            raise SystemExit(f"no Redis at {args.redis_url}; start one or pass --no-alerts")
        alerts = AlertReceiver().start()
    with _broker(args.bootstrap, workdir) as bootstrap:
        stack = Stack(bootstrap, workdir, POLICY, partitions=args.partitions)
        failover = FailoverRun(
            stack, rate=args.rate, seed=args.seed, alerts=alerts, redis_url=args.redis_url
        )
        try:
            print(f"workdir {workdir}; starting 2 workers", flush=True)
            failover.start(2)
            failover.begin_stream()
            time.sleep(args.warmup)
            _print_step(failover.add())
            _print_step(failover.term("w0"))
            _print_step(failover.restart("w0"))
            for _ in range(args.kills):
                time.sleep(rng.uniform(2.0, 12.0))
                victim = failover.kill(mid_processing=False)
                _print_step(victim)
                assert victim.target is not None
                _print_step(failover.restart(victim.target))
            print("stream stopped; waiting for the last deadlines", flush=True)
            return failover.finish()
        finally:
            stack.close()  # workers first: they write alert keys until they stop
            failover.close()
            if alerts is not None:
                alerts.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="SIGKILL + restart cycles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=5.0, help="cases opened per second")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of stream first")
    parser.add_argument("--bootstrap", help="an existing broker (host:port); default a fresh Tansu")
    parser.add_argument("--redis-url", default=failover_redis_url())
    parser.add_argument("--no-alerts", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("failover.json"), help="JSON report")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="slawatch-failover-"))
    report = run(args, workdir)
    args.out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    print()
    print(format_table(report))
    print()
    print(json.dumps({k: report.to_json()[k] for k in ("breaches", "notifications", "tables")}))
    print(f"log errors: {report.log_errors}; partitions read again: {report.rereads}")
    print(f"report: {args.out}; logs: {workdir}")
    problems = failures(report)
    for problem in problems:
        print(f"FAIL: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
