"""Soak: a steady case stream for half an hour, with kills and a Redis outage; RSS and losses.

Built on the failover harness (``slawatch/testing/failover.py``): two workers of one app on a
fresh Tansu broker, a stream of cases with known deadlines (a known share closed in time), the
alerts on, delivered to a loopback webhook through a Redis of its own that keeps its data on
disk (append-only file). During ``--minutes``:

* every ``--kill-every`` seconds worker ``w1`` is killed (SIGKILL, mid-processing) and started
  again; ``w0`` is never touched, so its RSS over the whole run shows whether memory grows;
* once, half-way, Redis is stopped for ``--outage`` seconds and started again (same data).

Closed cases leave the workers' tables after ``--retention`` (``SLAWATCH_RETENTION``), so the
cases a worker holds level off; the breached cases nobody closes (``1 - --close-share``) stay,
as open clocks must.

At the end the harness judges every breach (expected, emitted, lost, repeated outside a kill
window), every level-1 notification and the tables, as ``bench/failover.py`` does; the RSS of
``w0`` is sampled every 30 s. Exit code 1 when anything was lost.

Usage::

    .venv/bin/python bench/soak.py --minutes 30 --out soak.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.failover import _print_step, failures  # noqa: E402
from slawatch.testing import RedisServer, Stack  # noqa: E402
from slawatch.testing.failover import POLICY, AlertReceiver, FailoverRun, format_table  # noqa: E402
from streams.broker import TansuBroker  # noqa: E402

SAMPLE_EVERY_S = 30.0


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(args: argparse.Namespace, workdir: Path) -> dict:
    (workdir / "redis").mkdir()
    redis = RedisServer(workdir / "redis", durable=True).start()
    alerts = AlertReceiver().start()
    rss: list[tuple[float, float]] = []
    outage: dict[str, float] = {}
    try:
        with TansuBroker(log_path=workdir / "tansu.log") as broker:
            stack = Stack(broker.bootstrap, workdir, POLICY, partitions=4)
            failover = FailoverRun(
                stack,
                rate=args.rate,
                close_share=args.close_share,
                seed=args.seed,
                alerts=alerts,
                redis_url=f"redis://{redis.host_port}/0",
            )
            # Closed cases leave the table after the retention, so what the workers hold levels
            # off at (rate x close share x retention) plus the breached cases nobody closes.
            stack.extra_env["SLAWATCH_RETENTION"] = args.retention
            if args.diag is not None:
                # bench/diag/sitecustomize.py: memory figures of w0 over time (see there).
                stack.extra_env["PYTHONPATH"] = str(ROOT / "bench" / "diag")
                stack.extra_env["SLAWATCH_DIAG_DIR"] = str(args.diag)
            try:
                failover.start(2)
                failover.begin_stream()
                started = time.monotonic()
                end = started + args.minutes * 60
                next_kill = started + args.kill_every
                next_sample = started + 5.0
                outage_at = started + args.minutes * 30
                while time.monotonic() < end:
                    now = time.monotonic()
                    if now >= next_sample:
                        w0 = failover.member("w0").process
                        value = None if w0 is None or w0.proc is None else _rss_mb(w0.proc.pid)
                        if value is not None:
                            rss.append((round(now - started), round(value, 1)))
                            print(f"  {now - started:6.0f} s  w0 RSS {value:7.1f} MB", flush=True)
                        next_sample += SAMPLE_EVERY_S
                    if not outage and now >= outage_at:
                        print(f"  Redis stopped for {args.outage:.0f} s", flush=True)
                        outage["at_s"] = round(now - started)
                        redis.stop()
                        time.sleep(args.outage)
                        redis.start()
                        outage["seconds"] = args.outage
                        print("  Redis back", flush=True)
                    if now >= next_kill:
                        _print_step(failover.kill("w1"))
                        _print_step(failover.restart("w1"))
                        next_kill = time.monotonic() + args.kill_every
                    time.sleep(1.0)
                print("stream stopped; waiting for the last deadlines", flush=True)
                report = failover.finish()
            finally:
                stack.close()
                failover.close()
    finally:
        alerts.close()
        redis.stop()
    print(format_table(report))
    first = [v for t, v in rss if t >= 120][:1]
    growth = None if not first or not rss else round(rss[-1][1] - first[0], 1)
    return {
        "minutes": args.minutes,
        "retention": args.retention,
        "close_share": args.close_share,
        "rate": args.rate,
        "kill_every_s": args.kill_every,
        "kills": sum(1 for s in report.steps if s.action == "sigkill"),
        "redis_outage": outage,
        "w0_rss_mb": rss,
        "w0_rss_growth_mb_after_2_min": growth,
        "report": report.to_json(),
        "failures": failures(report),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5.0, help="cases opened per second")
    parser.add_argument("--kill-every", type=float, default=180.0, help="seconds between kills")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds Redis is down")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--close-share", type=float, default=0.9, help="share of cases closed in time"
    )
    parser.add_argument("--retention", default="5m", help="SLAWATCH_RETENTION of the workers")
    parser.add_argument(
        "--diag",
        type=Path,
        default=None,
        help="write memory diagnostics of w0 to this folder (bench/diag)",
    )
    parser.add_argument("--out", type=Path, default=Path("soak.json"), help="JSON report")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="slawatch-soak-"))
    result = run(args, workdir)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("report", "w0_rss_mb")}))
    print(f"report: {args.out}; logs: {workdir}")
    for problem in result["failures"]:
        print(f"FAIL: {problem}")
    sys.exit(1 if result["failures"] else 0)


if __name__ == "__main__":
    main()
