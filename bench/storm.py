"""Deadline storm and restart at scale: one worker holding N open clocks, M of them due at once.

Set-up, without going through the worker (it would take minutes at worker speed): a fresh Tansu
broker, the worker's topics, and its ``cases`` changelog filled directly with N open cases of
one clock (``storm_reply``, 24 h, no warnings), in the worker's own row format
(``streams/case_row.py``), each on the partition the worker owns it in. M cases have their
deadline at the same instant, a little after the worker is expected to be ready; the others
are due a day later.

Then, with the RocksDB store (``SLAWATCH_STORE=rocksdb://``):

1. **cold start**: the worker recovers the table from the changelog and rebuilds its deadline
   index; time to ``/ready``, RSS and RSS per open clock;
2. **idle**: worker CPU over a few seconds with N clocks open and nothing due;
3. **storm**: the M deadlines pass in the same second; every breach record on ``sla.breaches``
   is read back and its lateness (record timestamp - deadline) reported as p50/p99/max; with
   alerts on (the default), the notifications handed to delivery (written to the Redis outbox,
   ``slawatch_alerts_enqueued_total``) are counted, and when the last one was. The worker's
   CPU time until the last breach was out, per breach, is printed too: on a shared host it
   varies less than the lateness, which also counts the waits for a CPU; and, with alerts on,
   its CPU time until the last alert was handed over (``--profile`` covers both);
4. **restart**: SIGTERM, start again on the same datadir; time to ``/ready`` with the index
   complete (the ``/ready`` body's ``index_size``).

Usage::

    .venv/bin/python bench/storm.py --open 1000000 --due 100000
    .venv/bin/python bench/storm.py --open 100000 --due 10000      # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.throughput as throughput  # noqa: E402
from bench.throughput import _cpu_seconds, _machine, _py_spy, _stop_py_spy  # noqa: E402
from sla.engine import Engine  # noqa: E402
from sla.events import LifecycleEvent  # noqa: E402
from sla.policy import PolicySpec  # noqa: E402
from slawatch.testing import redis_url  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.broker import TansuBroker, free_port  # noqa: E402
from streams.case_row import encode_row  # noqa: E402
from streams.ingest import partition_of  # noqa: E402

CLOCK = "storm_reply"
POLICY_YAML = f"""\
version: "storm-1"
clocks:
  - id: {CLOCK}
    description: One 24-hour clock, no warnings (the storm benchmark).
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 24h
    warn_at: []
"""
TOPICS_YAML = """\
version: 1
topics:
  - name: bench.storm
    mapping: canonical
    keyed_by_case: true
"""
#: The storm's alerts: every breach to the team's Redis stream (a staff application's queue),
#: so "handed to delivery" (``slawatch_alerts_enqueued_total``) is counted without 100,000
#: webhook calls. Storm control and escalation are off: each breach is one notification.
ALERTS_YAML = """\
version: "storm-1"
resolved_notice: false
channels:
  staff-app:
    type: redis_stream
    stream: "slawatch:alerts:{team}"
    maxlen: 10000
recipients:
  storm-agent-01: {role: agent, channels: [staff-app]}
teams:
  cs-frontline:
    members: [storm-agent-01]
    channels: [staff-app]
    roster: {timezone: Asia/Shanghai, hours: "00:00-24:00",
             days: [mon, tue, wed, thu, fri, sat, sun]}
routes:
  - to: [team]
escalation:
  default: []
"""
#: The Redis database the storm's alerts use (its keys carry the run's app id and are deleted).
REDIS_DB = 12
PLACEHOLDER = "S-0000000"


def _state_template(started_at: datetime) -> bytes:
    """The stored state of one case whose clock started at ``started_at`` (id: placeholder)."""
    spec = PolicySpec.model_validate(
        {
            "version": "storm-1",
            "clocks": [
                {
                    "id": CLOCK,
                    "case_kind": "complaint",
                    "start": ["complaint_registered"],
                    "stop": ["complaint_acknowledged"],
                    "limit": "24h",
                    "warn_at": [],
                }
            ],
        }
    )
    event = LifecycleEvent.model_validate(
        {
            "event_id": f"{PLACEHOLDER}-r",
            "case_id": PLACEHOLDER,
            "case_kind": "complaint",
            "event_type": "complaint_registered",
            "occurred_at": started_at.isoformat(),
            "attributes": {"team": "cs-frontline", "region": "north"},
        }
    )
    step = Engine(spec, {}).apply(None, event, started_at)
    assert step.state is not None
    return orjson.dumps(step.state.to_json())


def _rows(n: int, due: int, storm_at: datetime, partitions: int) -> Any:
    """(partition, key bytes, value bytes) of every case: ``due`` of them due at ``storm_at``."""
    later = storm_at + timedelta(days=1)
    templates = {
        True: (_state_template(storm_at - timedelta(hours=24)), storm_at.timestamp()),
        False: (_state_template(later - timedelta(hours=24)), later.timestamp()),
    }
    for i in range(n):
        case_id = f"S-{i:07d}"
        state, deadline = templates[i < due]
        row = {
            "p": partition_of(case_id, partitions),
            "due": deadline,
            "open": [CLOCK],
            "near": [],
            "s": orjson.loads(state.replace(PLACEHOLDER.encode(), case_id.encode())),
        }
        yield row["p"], orjson.dumps(case_id), encode_row(row)  # type: ignore[arg-type]


async def _fill_changelog(bootstrap: str, topic: str, rows: Any) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    count = 0
    try:
        pending = []
        for partition, key, value in rows:
            pending.append(await producer.send(topic, value, key=key, partition=partition))
            count += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Worker:
    """One ``slawatch worker`` subprocess on a given datadir."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.port = int(env["SLAWATCH_WEB_PORT"])
        self.log_path = workdir / f"{name}.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "slawatch"), "worker"],
            env=env,
            cwd=workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.started = time.monotonic()

    def wait_ready(self, index_size: int, timeout: float) -> float:
        """Seconds from start until ``/ready`` answers with the whole index."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(
                    f"worker exited with {self.proc.returncode}; its log ends:\n{tail}"
                )
            status, body = _get(self.port, "/ready")
            if status == 200 and body and body.get("index_size", 0) >= index_size:
                return time.monotonic() - self.started
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready with {index_size} indexed cases in {timeout:.0f} s")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


async def _breach_lateness(bootstrap: str, topic: str, want: int, timeout: float) -> list[float]:
    """Lateness (record timestamp - deadline, seconds) of the first ``want`` breach records."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    value = orjson.loads(record.value)
                    if value.get("type", "breach") != "breach":
                        continue
                    due = datetime.fromisoformat(value["deadline"]).timestamp()
                    seen.setdefault(value["breach_id"], record.timestamp / 1000 - due)
        return sorted(seen.values())
    finally:
        await consumer.stop()


def _metric_sum(port: int, name: str) -> float:
    """The sum of a metric's samples on the worker's ``/metrics`` (0 when it cannot be read)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def _handed_to_delivery(port: int, want: int, storm_at: datetime, timeout: float) -> float:
    """Notifications handed to delivery (outbox writes) once ``want`` are, or at ``timeout``.

    Prints the count and when the last one was handed over, in seconds after the storm.
    """
    deadline = time.monotonic() + timeout
    handed = _metric_sum(port, "slawatch_alerts_enqueued_total")
    while handed < want and time.monotonic() < deadline:
        time.sleep(0.5)
        handed = _metric_sum(port, "slawatch_alerts_enqueued_total")
    after = (datetime.now(UTC) - storm_at).total_seconds()
    print(f"alerts: {handed:,.0f} of {want:,} handed to delivery, the last by {after:.1f} s")
    return handed


def _drop_redis_keys(url: str, prefix: str) -> None:
    """Delete the run's alert keys (they all start with the app id)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=10_000):
            client.delete(key)
    finally:
        client.close()


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=1_000_000, help="open clocks (cases)")
    parser.add_argument("--due", type=int, default=100_000, help="of which due in one second")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU sampling")
    parser.add_argument("--ready-timeout", type=float, default=900.0)
    parser.add_argument(
        "--storm-after",
        type=float,
        default=0.0,
        help="seconds from filling the changelog to the storm (default: from --open)",
    )
    parser.add_argument(
        "--no-alerts",
        action="store_true",
        help="alerts off (default: on, to a Redis stream, counted as handed to delivery)",
    )
    parser.add_argument(
        "--redis",
        default=redis_url(REDIS_DB),
        help=f"Redis of the alerts (default: the test Redis, database {REDIS_DB})",
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy the worker through the storm; profile kept in DIR"
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        throughput.PROFILE_DIR = args.profile
    print(f"machine: {_machine()}")
    with tempfile.TemporaryDirectory(prefix="slawatch-storm-") as tmp:
        workdir = Path(tmp)
        (workdir / "policies.yaml").write_text(POLICY_YAML)
        (workdir / "topics.yaml").write_text(TOPICS_YAML)
        (workdir / "alerts.yaml").write_text(ALERTS_YAML)
        with TansuBroker(log_path=workdir / "tansu.log") as broker:
            app_id = f"storm{time.time_ns()}"
            env = {
                **os.environ,
                "SLAWATCH_BROKER": broker.url,
                "SLAWATCH_TANSU": "1",
                "SLAWATCH_APP_ID": app_id,
                "SLAWATCH_POLICIES": str(workdir / "policies.yaml"),
                "SLAWATCH_TOPICS": str(workdir / "topics.yaml"),
                "SLAWATCH_ALERTS": "off" if args.no_alerts else str(workdir / "alerts.yaml"),
                "SLAWATCH_REDIS_URL": args.redis,
                "SLAWATCH_PARTITIONS": str(args.partitions),
                "SLAWATCH_WEB_PORT": str(free_port()),
                "SLAWATCH_DATADIR": str(workdir / "data"),
                "SLAWATCH_STORE": "rocksdb://",
                "SLAWATCH_LOG_FORMAT": "json",
                "SLAWATCH_LOG_LEVEL": "warning",
            }
            changelog = f"{app_id}-cases-changelog"
            topics = {
                name: args.partitions
                for name in (
                    "bench.storm",
                    "slawatch.events",
                    "slawatch.due",
                    "sla.breaches",
                    changelog,
                )
            }
            ensure_topics(broker.bootstrap, topics)
            # Deadlines fall a while after the cold start is expected to be ready (a cold start
            # recovers about 7,000-10,000 cases a second here).
            storm_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
                seconds=args.storm_after or 60 + args.open / 5_000
            )
            started = time.monotonic()
            filled = asyncio.run(
                _fill_changelog(
                    broker.bootstrap,
                    changelog,
                    _rows(args.open, args.due, storm_at, args.partitions),
                )
            )
            print(f"changelog filled: {filled:,} cases in {time.monotonic() - started:.1f} s")

            worker = Worker(env, workdir, "cold")
            cold = worker.wait_ready(args.open, args.ready_timeout)
            rss = _rss_mb(worker.proc.pid)
            print(
                f"cold start: ready in {cold:.1f} s with {args.open:,} open clocks; RSS "
                f"{rss:,.0f} MB ({rss * 1024 * 1024 / args.open:,.0f} bytes per open clock)"
            )
            if datetime.now(UTC) >= storm_at - timedelta(seconds=args.idle + 2):
                print("the storm came before the idle sample; rerun with a later --storm-after")
            else:
                cpu0 = _cpu_seconds(worker.proc.pid) or 0.0
                time.sleep(args.idle)
                cpu1 = _cpu_seconds(worker.proc.pid) or 0.0
                print(f"idle: {100 * (cpu1 - cpu0) / args.idle:.1f} % of a core, nothing due")
            spy = _py_spy(worker.proc.pid, workdir / "storm.profile.txt")
            storm_cpu0 = _cpu_seconds(worker.proc.pid) or 0.0
            lateness = asyncio.run(
                _breach_lateness(
                    broker.bootstrap,
                    "sla.breaches",
                    args.due,
                    (storm_at - datetime.now(UTC)).total_seconds() + 600,
                )
            )
            storm_cpu = (_cpu_seconds(worker.proc.pid) or 0.0) - storm_cpu0
            print(
                f"storm: {len(lateness):,} of {args.due:,} breaches out; lateness p50 "
                f"{_pct(lateness, 0.5):.2f} s, p99 {_pct(lateness, 0.99):.2f} s, max "
                f"{lateness[-1] if lateness else float('nan'):.2f} s"
            )
            # CPU time is steadier than lateness on a shared host: it leaves out waits for a CPU
            print(
                f"storm CPU: {storm_cpu:.1f} s of the worker until the last breach was out, "
                f"{storm_cpu * 1e6 / max(len(lateness), 1):,.0f} µs per breach (the alert agents "
                "working beside it included)"
            )
            if not args.no_alerts:
                _handed_to_delivery(worker.port, args.due, storm_at, timeout=600)
                alerts_cpu = (_cpu_seconds(worker.proc.pid) or 0.0) - storm_cpu0
                print(
                    f"storm and alerts CPU: {alerts_cpu:.1f} s of the worker until the last alert "
                    f"was handed over, {alerts_cpu * 1e6 / args.due:,.0f} µs per breach"
                )
            # the profile covers the breaches and then their alerts
            _stop_py_spy(spy, workdir / "storm.profile.txt", "storm")
            worker.stop()

            worker = Worker(env, workdir, "warm")
            warm = worker.wait_ready(args.open - args.due, args.ready_timeout)
            print(f"restart (RocksDB, same datadir): ready with the index complete in {warm:.1f} s")
            worker.stop()
            if not args.no_alerts:
                _drop_redis_keys(args.redis, app_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
