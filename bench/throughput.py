"""Events per second through one slawatch worker, next to a raw aiokafka consume-and-decode loop.

Both read the same backlog on the same topic of a fresh Tansu broker in the same run:

* **raw**: one ``AIOKafkaConsumer`` reads every message and decodes it with the topic's mapping
  (``TopicMapping.decode``): the floor cost of getting canonical events out of Kafka in Python.
* **worker**: ``slawatch worker`` (subprocess, memory store, ``SLAWATCH_TANSU=1``) reads the
  backlog: ingest → ``slawatch.events`` → clock agent → ``cases`` table (changelog) + outcome
  records. The clock starts when ``/ready`` answers and stops when every case's outcome has
  been counted in ``/metrics``.

The backlog is N/2 complaints, each ``complaint_registered`` then ``complaint_acknowledged``
ten minutes later (event time), judged by ``config/policies.yaml``: 2 clocks start per case and
one ends with an outcome.

Usage::

    .venv/bin/python bench/throughput.py --events 20000 --write-readme
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backlog import complaints  # noqa: E402
from sources.topics import load_topics  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.broker import TansuBroker, free_port  # noqa: E402

TOPIC = "bench.complaints"


def _events(n: int) -> list[tuple[bytes, bytes]]:
    """The backlog (bench/backlog.py) as message keys and JSON values."""
    now = datetime.now(UTC).replace(microsecond=0)
    return [(case.encode(), json.dumps(event).encode()) for case, event in complaints(n, now)]


async def _produce(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(TOPIC, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _raw(bootstrap: str, n: int, topics_file: Path) -> float:
    mapping = load_topics(topics_file).mappings()[TOPIC]
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{time.time_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, started = 0, None
        while seen < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                if started is None:
                    started = time.perf_counter()
                for record in records:
                    mapping.decode(record.key, record.value)
                    seen += 1
        assert started is not None
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def _metric_sum(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as resp:
        text = resp.read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None where unknown.

    Less sensitive than events/s to other work on a shared machine: it counts only the
    worker's own CPU, not the time it waited for a core.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _outcomes(port: int) -> float:
    try:
        return _metric_sum(port, "slawatch_outcomes_total")
    except OSError:  # the worker is going away: the caller checks its exit
        return -1.0


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def _count(port: int) -> float:
    """Outcomes the peer agent has sent (its ``/count`` page)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=3) as resp:
            return float(resp.read().decode())
    except OSError:
        return -1.0


def _poll_interval(count: float, target: int) -> float:
    """Seconds until the next look at the count: rarely while far from done, often near it.

    The worker's count is read from ``/metrics``, whose rendering costs the worker a few ms:
    read every 50 ms, that was about 5 % of its CPU (profile of 2026-12-06), a cost no
    deployment pays (Prometheus scrapes every 15 s or so). Near the end it is read every 20 ms,
    so the end of the run is still timed to within 20 ms.
    """
    return 0.02 if count >= 0.9 * target else 0.25


#: The broker's process id, to print its CPU per 1,000 events beside the worker's.
BROKER_PID: int | None = None


def _timed(
    argv: list[str], env: dict[str, str], port: int, n: int, done: Any, workdir: Path, name: str
) -> tuple[float, float | None]:
    """Events/s from ``/ready`` until ``done(port)`` reaches N/2, and CPU ms per 1,000 events.

    The broker's CPU over the same span is printed too: on this machine the broker shares the
    two cores, so every record the worker sends costs CPU twice.
    """
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {workdir / name}.log")
            time.sleep(0.05)
        started, cpu_started = time.perf_counter(), _cpu_seconds(proc.pid)
        broker_started = _cpu_seconds(BROKER_PID) if BROKER_PID else None
        spy = _py_spy(proc.pid, workdir / f"{name}.profile.txt")
        while (count := done(port)) < n // 2:
            if proc.poll() is not None or time.monotonic() > deadline + 600:
                raise RuntimeError(f"{name} stopped early; see {workdir / name}.log")
            time.sleep(_poll_interval(count, n // 2))
        rate = n / (time.perf_counter() - started)
        cpu_ended = _cpu_seconds(proc.pid)
        broker_ended = _cpu_seconds(BROKER_PID) if BROKER_PID else None
        if broker_started is not None and broker_ended is not None:
            broker_ms = (broker_ended - broker_started) * 1e6 / n
            print(f"{name}: broker CPU {broker_ms:,.0f} ms/1,000 events")
        _stop_py_spy(spy, workdir / f"{name}.profile.txt", name)
        if cpu_started is None or cpu_ended is None:
            return rate, None
        return rate, (cpu_ended - cpu_started) * 1e6 / n
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


#: Where to keep py-spy profiles (``--profile DIR``); None: no profiling.
PROFILE_DIR: Path | None = None


def _py_spy(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start ``py-spy record`` on ``pid`` (collapsed stacks) when ``--profile`` is given."""
    if PROFILE_DIR is None:
        return None
    spy = Path(sys.executable).parent / "py-spy"
    argv = [str(spy), "record", "--pid", str(pid), "--format", "raw", "-o", str(out), "-r", "200"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_py_spy(spy: subprocess.Popen[bytes] | None, out: Path, name: str) -> None:
    """Stop py-spy, then print and keep the top of its profile (self time per function)."""
    if spy is None or PROFILE_DIR is None:
        return
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    top = _profile_top(out)
    target = PROFILE_DIR / f"{name}-{time.strftime('%H%M%S')}.txt"
    target.write_text(out.read_text() if out.exists() else "")
    print(f"{name}: py-spy profile in {target}; self time, top 15:")
    for share, function in top[:15]:
        print(f"  {share:5.1%}  {function}")


def _profile_top(path: Path) -> list[tuple[float, str]]:
    """(share of samples, function) by self time, from py-spy's collapsed-stack output."""
    counts: dict[str, int] = {}
    total = 0
    if not path.exists():
        return []
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        counts[leaf] = counts.get(leaf, 0) + int(samples)
        total += int(samples)
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return [(count / total, function) for function, count in ranked]


def _worker(
    broker: str,
    n: int,
    topics_file: Path,
    workdir: Path,
    partitions: int,
    extra_env: dict[str, str] | None = None,
) -> tuple[float, float | None]:
    """``slawatch worker`` on the backlog: events/s and CPU ms per 1,000 events."""
    port = free_port()
    env = {
        **os.environ,
        "SLAWATCH_BROKER": broker,
        "SLAWATCH_TANSU": "1",
        "SLAWATCH_APP_ID": f"bench{time.time_ns()}",
        "SLAWATCH_POLICIES": str(ROOT / "config" / "policies.yaml"),
        "SLAWATCH_TOPICS": str(topics_file),
        "SLAWATCH_PARTITIONS": str(partitions),
        "SLAWATCH_WEB_PORT": str(port),
        "SLAWATCH_DATADIR": str(workdir / "data"),
        "SLAWATCH_LOG_FORMAT": "json",
        "SLAWATCH_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    argv = [str(Path(sys.executable).parent / "slawatch"), "worker"]
    return _timed(argv, env, port, n, _outcomes, workdir, "worker")


def _peer(broker: str, n: int, workdir: Path, partitions: int) -> tuple[float, float | None]:
    """The hand-written Faust agent (``bench/peer_agent.py``), the worker's producer settings."""
    from streams.app import PRODUCER_LINGER_S, PRODUCER_MAX_BATCH_BYTES

    port = free_port()
    env = {
        **os.environ,
        "PEER_BROKER": broker,
        "PEER_TOPIC": TOPIC,
        "PEER_PARTITIONS": str(partitions),
        "PEER_WEB_PORT": str(port),
        "PEER_DATADIR": str(workdir / "peer-data"),
        "PEER_LINGER": str(PRODUCER_LINGER_S),
        "PEER_MAX_BATCH": str(PRODUCER_MAX_BATCH_BYTES),
    }
    argv = [sys.executable, str(ROOT / "bench" / "peer_agent.py"), "worker"]
    return _timed(argv, env, port, n, _count, workdir, "peer")


def _cpu_text(cpu: float | None) -> str:
    return "" if cpu is None else f" ({cpu:,.0f} ms CPU/1,000 events)"


def _machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events (even number)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2, help="repeats of each measurement")
    parser.add_argument("--write-readme", action="store_true", help="append to bench/README.md")
    parser.add_argument(
        "--keyed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="declare the source topic keyed by case id (no re-key hop); --no-keyed re-keys",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the worker, e.g. SLAWATCH_EVENT_LOOP=asyncio (repeatable)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record a py-spy profile of the peer and the worker into DIR, print the top",
    )
    args = parser.parse_args()
    global PROFILE_DIR
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR = args.profile
    n = args.events - args.events % 2
    extra_env = dict(item.split("=", 1) for item in args.worker_env)
    rows: list[tuple[str, float, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="slawatch-bench-") as tmp:
        workdir = Path(tmp)
        topics_file = workdir / "topics.yaml"
        topics_file.write_text(
            f"version: 1\ntopics:\n  - name: {TOPIC}\n    mapping: canonical\n"
            f"    keyed_by_case: {'true' if args.keyed else 'false'}\n"
        )
        for run in range(args.runs):
            with TansuBroker(log_path=workdir / f"tansu-{run}.log") as broker:
                global BROKER_PID
                BROKER_PID = broker.pid
                ensure_topics(broker.bootstrap, {TOPIC: args.partitions})
                asyncio.run(_produce(broker.bootstrap, _events(n)))
                raw = asyncio.run(_raw(broker.bootstrap, n, topics_file))
                peer, peer_cpu = _peer(broker.url, n, workdir, args.partitions)
                worker, cpu = _worker(
                    broker.url, n, topics_file, workdir, args.partitions, extra_env
                )
            rows += [
                ("raw aiokafka consume + decode", raw, None),
                ("hand-written Faust agent (bench/peer_agent.py)", peer, peer_cpu),
                ("slawatch worker", worker, cpu),
            ]
            print(
                f"run {run + 1}: raw {raw:,.0f}/s | peer {peer:,.0f}/s{_cpu_text(peer_cpu)} | "
                f"worker {worker:,.0f}/s{_cpu_text(cpu)} | "
                f"slawatch/peer {worker / peer:.2f} | slawatch/raw {worker / raw:.3f}"
            )
    machine = _machine()
    if args.write_readme:
        _append_readme(machine, n, args.partitions, rows)


def _append_readme(machine: dict[str, str], n: int, partitions: int, rows: list) -> None:
    readme = ROOT / "bench" / "README.md"
    lines = [
        "",
        f"### {machine['date']}: {n:,} events, {partitions} partitions",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}, "
        "Tansu (memory engine) on the same host.",
        "",
        "| loop | events/s | worker CPU ms per 1,000 events |",
        "|---|---:|---:|",
        *[
            f"| {name} | {rate:,.0f} | {'' if cpu is None else f'{cpu:,.0f}'} |"
            for name, rate, cpu in rows
        ],
        "",
    ]
    with readme.open("a") as out:
        out.write("\n".join(lines))


if __name__ == "__main__":
    main()
