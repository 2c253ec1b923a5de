"""``slawatch demo``: the whole system on one laptop, with breaches within the first minute.

What it does, in order:

1. starts an embedded Tansu broker (memory storage; gone when the demo ends);
2. creates the source, internal and output topics;
3. starts ``slawatch worker`` as a child process with the demo policy
   (``config/demo-policies.yaml``: the default clocks, limits in seconds), logging JSON to
   ``.run/demo/worker.log`` (the broker logs to ``.run/demo/broker.log``);
4. feeds a realistic, compressed-time stream of complaints, enquiries and shipments
   (:mod:`slawatch.demo_events`) to ``complaints.lifecycle`` and ``shipments.lifecycle``;
5. prints warnings (at 80 % of a limit and above), breaches, retractions, cases closed late and
   dead letters as they happen: time, clock, case, team, region, how late; never personal data;
6. prints where the metrics are served and a running summary every ten seconds;
7. stops everything on Ctrl-C or after ``--duration`` seconds: the worker gets SIGTERM and is
   waited for, then the broker stops. No process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import html
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from rich.console import Console
from rich.markup import escape

from slawatch.demo_events import COMPLAINTS_TOPIC, SHIPMENTS_TOPIC, DemoStream
from slawatch.demo_robots import DemoRobots, Received
from streams.broker import free_port
from streams.settings import TopicNames

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

__all__ = ["DemoOptions", "run"]

#: Everything a demo run writes goes here (relative to the working directory).
RUN_DIR = Path(".run/demo")
#: Partitions of every demo topic: small, the machine is a laptop.
PARTITIONS = 2
#: Seconds between summary lines.
SUMMARY_EVERY = 10.0
#: Warnings below this fraction of the limit are counted, not printed (they are many).
PRINT_WARNINGS_FROM = 0.8
#: Breaches each chat robot prints (all its messages are counted in the summary).
ROBOT_LINES = 3
BREACH_TITLE = ("【已超时】", "BREACH")
ROBOT_NAMES = {"wecom": "企业微信 WeCom", "dingtalk": "钉钉 DingTalk", "feishu": "飞书 Feishu"}
#: Seconds the worker gets to stop after SIGTERM before it is killed.
WORKER_STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class DemoOptions:
    """What ``slawatch demo`` was asked for."""

    port: int = 6066
    duration: float | None = None
    seed: int = 7
    rate: float = 2.0
    policies: Path = Path("config/demo-policies.yaml")
    topics: Path = Path("config/topics.yaml")
    run_dir: Path = RUN_DIR
    ready_timeout: float = 120.0


@dataclass
class Tally:
    """Counts for the running summary line."""

    sent: Counter[str] = field(default_factory=Counter)
    warnings: int = 0
    breaches: int = 0
    retracted: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    alerts: int = 0
    worklist: int | None = None


#: Record kinds counted in a field of :class:`Tally` of their own; outcomes go by kind.
_TALLY_FIELDS = {
    "warning": "warnings",
    "breach": "breaches",
    "retracted": "retracted",
    "dead_letter": "dead_letters",
}


class DemoError(RuntimeError):
    """The demo cannot start; the message says what to do."""


def run(options: DemoOptions, console: Console | None = None) -> int:
    """Run the demo until Ctrl-C or ``options.duration``; returns the exit code."""
    if console is None:
        # Not a terminal (a pipe, a test): do not wrap the lines at 80 columns.
        console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    try:
        _check_inputs(options)
    except DemoError as exc:
        console.print(f"[red]slawatch demo:[/] {escape(str(exc))}")
        return 2
    from streams.admin import ensure_topics
    from streams.broker import BrokerError, TansuBroker

    run_dir = options.run_dir
    shutil.rmtree(run_dir / "worker-data", ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        console.print("[bold]slawatch demo[/]  starting an embedded Tansu broker ...")
        broker = TansuBroker(log_path=run_dir / "broker.log")
        try:  # not `with`: a Ctrl-C while the broker starts must stop it too
            broker.start()
            ensure_topics(broker.bootstrap, _topic_sizes())
            redis_url, redis_server = _redis_for_alerts(run_dir, console)
            robots = DemoRobots(free_port())
            worker = _start_worker(
                options, broker.url, redis_url, run_dir / "worker.log", robots.env()
            )
            try:
                console.print(
                    f"  broker  {broker.bootstrap}  (log {run_dir / 'broker.log'})\n"
                    f"  worker  pid {worker.pid}, policy {options.policies}  "
                    f"(JSON log {run_dir / 'worker.log'})\n"
                    f"  metrics http://127.0.0.1:{options.port}/metrics   "
                    f"ready http://127.0.0.1:{options.port}/ready   "
                    f"worklist http://127.0.0.1:{options.port}/worklist.html\n"
                    f"  robots  WeCom, DingTalk, Feishu stand-ins on 127.0.0.1:{robots.port}, "
                    "checking keys and signatures as the platforms do"
                )
                demo = _Demo(
                    options, broker.bootstrap, worker, run_dir / "worker.log", console, robots
                )
                return asyncio.run(demo.main())
            finally:
                _stop_worker(worker, console)  # before the broker goes: it leaves its group
                if redis_server is not None:
                    redis_server.terminate()
                    redis_server.wait(timeout=10)
        finally:
            broker.stop()
    except BrokerError as exc:
        console.print(f"[red]slawatch demo: the broker did not start:[/] {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    finally:
        console.print("demo stopped: worker and broker are down")


def _check_inputs(options: DemoOptions) -> None:
    """Refuse early, with a clear message, what would make the worker fail later."""
    from sla.config_file import ConfigError
    from sla.policy_file import load_policy
    from sources.topics import load_topics

    try:
        load_policy(options.policies)
        load_topics(options.topics)
    except ConfigError as exc:
        raise DemoError(f"a configuration file has mistakes:\n{exc}") from exc
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", options.port))
        except OSError:
            raise DemoError(
                f"port {options.port} is in use (another worker or demo?); pass --port"
            ) from None
    if options.duration is not None and options.duration <= 0:
        raise DemoError(f"--duration must be above 0 seconds, got {options.duration}")


def _topic_sizes() -> dict[str, int]:
    names = TopicNames()
    topics = [COMPLAINTS_TOPIC, SHIPMENTS_TOPIC]
    topics += [names.events, names.due, names.warnings, names.breaches, names.outcomes]
    topics += [names.deadletter]
    return dict.fromkeys(topics, PARTITIONS)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the worker if the demo process dies without cleaning up."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _redis_for_alerts(
    run_dir: Path, console: Console
) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The Redis the alerts use: the local one, or a throw-away ``redis-server`` started here."""
    import redis

    url = os.environ.get("SLAWATCH_REDIS_URL", DEFAULT_REDIS_URL)
    with contextlib.suppress(redis.RedisError):
        if redis.Redis.from_url(url, socket_timeout=1).ping():
            return url, None
    binary = shutil.which("redis-server")
    if binary is None:
        console.print(
            f"[yellow]no Redis answers at {url} and redis-server is not installed: alerts will "
            "wait for Redis (clock tracking goes on)[/]"
        )
        return url, None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=(run_dir / "redis.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    for _ in range(50):
        with contextlib.suppress(redis.RedisError):
            if client.ping():
                break
        time.sleep(0.1)
    console.print(f"  redis   {url}  (started for the demo; none answered at 127.0.0.1:6379)")
    return url, server


def _start_worker(
    options: DemoOptions,
    broker_url: str,
    redis_url: str,
    log_path: Path,
    robots: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **(robots or {}),
        "SLAWATCH_REDIS_URL": redis_url,
        # A fresh key space per run: the same seed gives the same case ids, and alerts of an
        # earlier run are remembered in Redis for a day.
        "SLAWATCH_APP_ID": f"slawatch-demo-{int(time.time())}",
        "SLAWATCH_ACK_SECRET": secrets.token_hex(16),
        "SLAWATCH_ALLOW_LOOPBACK_ACK_LINKS": "1",  # the demo's links open on this machine
        "SLAWATCH_DEBUG_ENDPOINTS": "1",  # /cases/{id} and explain, on 127.0.0.1 only
        "SLAWATCH_BROKER": broker_url,
        "SLAWATCH_TANSU": "1",
        "SLAWATCH_POLICIES": str(options.policies),
        "SLAWATCH_TOPICS": str(options.topics),
        "SLAWATCH_WEB_PORT": str(options.port),
        "SLAWATCH_LOG_FORMAT": "json",
        "SLAWATCH_PARTITIONS": str(PARTITIONS),
        "SLAWATCH_DATADIR": str(options.run_dir / "worker-data"),
    }
    log: IO[bytes] = log_path.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "slawatch.cli", "worker"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops the worker itself
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        log.close()


def _stop_worker(worker: subprocess.Popen[bytes], console: Console) -> None:
    if worker.poll() is not None:
        return
    console.print("stopping the worker (SIGTERM) ...")
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=WORKER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        console.print(f"[yellow]worker did not stop in {WORKER_STOP_TIMEOUT:.0f}s; killing it[/]")
        worker.kill()
        worker.wait(timeout=10)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _clock_time(value: str | None) -> str:
    """``HH:MM:SS`` in the local time zone, from an ISO timestamp."""
    if not value:
        return "--:--:--"
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return "--:--:--"


def _seconds_between(later: str | None, earlier: str | None) -> float | None:
    if not later or not earlier:
        return None
    try:
        return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
    except ValueError:
        return None


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


#: Column titles of the printed lines (see :func:`describe`).
HEADER = f"{'time':<9} {'what':<12} {'clock':<25} {'case':<13} {'team':<16} {'region':<6}  how late"


def _who(record: dict[str, Any]) -> str:
    """Clock, case, team and region columns; ids only, never personal data."""
    return (
        f"{record.get('clock', '?'):<25} {record.get('case_id', '?'):<13} "
        f"{record.get('team') or 'none':<16} {record.get('region') or 'none':<6}"
    )


def describe(topic: str, record: dict[str, Any], names: TopicNames) -> tuple[str | None, str]:
    """The printed line for one output record (None: count it only) and its tally kind."""
    kind = str(record.get("type", ""))
    who = escape(_who(record))
    if topic == names.warnings:
        threshold = float(record.get("threshold") or 0)
        left = _seconds_between(record.get("deadline"), record.get("emitted_at"))
        line = (
            f"{_clock_time(record.get('emitted_at'))}  [yellow]{f'WARN {threshold:.0%}':<12}[/] "
            f"{who}  due in {_span(left)}"
        )
        return (line if threshold >= PRINT_WARNINGS_FROM else None), "warning"
    if topic == names.breaches:
        when = _clock_time(record.get("emitted_at"))
        if kind == "breach_retracted":
            early = _seconds_between(record.get("deadline"), record.get("stopped_at"))
            line = f"{when}  [green]RETRACTED[/]    {who}  met {_span(early)} early (a late event)"
            return line, "retracted"
        late = _seconds_between(record.get("emitted_at"), record.get("deadline"))
        line = f"{when}  [bold red]BREACH[/]       {who}  deadline passed {_span(late)} ago"
        return line, "breach"
    if topic == names.outcomes:
        outcome = str(record.get("outcome", "?"))
        if outcome != "breached":
            return None, outcome
        late = _seconds_between(record.get("ended_at"), record.get("deadline"))
        line = (
            f"{_clock_time(record.get('ended_at'))}  [red]CLOSED LATE[/]  {who}  "
            f"handled {_span(late)} after the deadline"
        )
        return line, outcome
    reason = escape(str(record.get("reason", "?")))
    detail = escape(str(record.get("detail", ""))[:110])
    line = (
        f"{_clock_time(record.get('at'))}  [magenta]DEAD LETTER[/]  "
        f"{escape(str(record.get('topic', '?')))}: {reason}: {detail}"
    )
    return line, "dead_letter"


@dataclass
class _Demo:
    """The asynchronous part: wait for the worker, feed events, print what comes out."""

    options: DemoOptions
    bootstrap: str
    worker: subprocess.Popen[bytes]
    worker_log: Path
    console: Console
    robots: DemoRobots | None = None
    robot_lines: dict[str, int] = field(default_factory=dict, init=False)
    names: TopicNames = field(default_factory=TopicNames, init=False)
    tally: Tally = field(default_factory=Tally, init=False)
    stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    failed: bool = field(default=False, init=False)
    acked: bool = field(default=False, init=False)
    started: float = field(default_factory=time.monotonic, init=False)

    def __post_init__(self) -> None:
        if self.robots is not None:
            self.robots.on_message = self._robot_message

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._request_stop)
        if self.robots is not None:
            await self.robots.start()
        try:
            return await self._run()
        finally:
            if self.robots is not None:
                await self.robots.stop()

    def _robot_message(self, got: Received) -> None:
        """Print what a robot got: its first few breaches, and every refusal."""
        name = ROBOT_NAMES.get(got.platform, got.platform)
        if got.refused:
            self.console.print(f"[red]  {name} refused: {escape(got.refused)}[/]")
            return
        if not got.title.startswith(BREACH_TITLE):
            return
        shown = self.robot_lines[got.platform] = self.robot_lines.get(got.platform, 0) + 1
        if shown <= ROBOT_LINES:
            self.console.print(f"[cyan]  {name} ✔ {escape(got.title)}[/]")

    async def _run(self) -> int:
        if not await self._wait_ready():
            return 1 if self.failed else 0
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        names = self.names
        consumer = AIOKafkaConsumer(
            names.warnings,
            names.breaches,
            names.outcomes,
            names.deadletter,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await consumer.start()
        await producer.start()
        self.console.print(
            "[bold]feeding events[/] (seed "
            f"{self.options.seed}, {self.options.rate:g} new cases/s); "
            + (
                f"stopping after {self.options.duration:g}s"
                if self.options.duration
                else "Ctrl-C stops"
            )
        )
        self.console.print(f"[bold]{escape(HEADER)}[/]")
        self.started = time.monotonic()
        tasks = [
            asyncio.create_task(self._feed(producer), name="feed"),
            asyncio.create_task(self._print(consumer), name="print"),
            asyncio.create_task(self._summaries(), name="summary"),
            asyncio.create_task(self._alerts(), name="alerts"),
        ]
        try:
            await self.stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await producer.stop()
            with contextlib.suppress(Exception):
                await consumer.stop()
            self._summary()
        return 1 if self.failed else 0

    def _request_stop(self) -> None:
        if not self.stop.is_set():
            self.console.print("\nstopping ...")
        self.stop.set()

    def _worker_died(self) -> bool:
        if self.worker.poll() is None:
            return False
        self.failed = True
        self.console.print(
            f"[red]the worker exited with code {self.worker.returncode}[/]; "
            f"last lines of {self.worker_log}:\n{escape(_tail(self.worker_log))}"
        )
        self.stop.set()
        return True

    async def _wait_ready(self) -> bool:
        url = f"http://127.0.0.1:{self.options.port}/ready"
        self.console.print(f"waiting for the worker to be ready ({url}) ...")
        deadline = time.monotonic() + self.options.ready_timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            if self._worker_died():
                return False
            if await asyncio.to_thread(_answers, url):
                self.console.print("[green]worker ready[/]")
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.5)
        if not self.stop.is_set():
            self.failed = True
            self.console.print(
                f"[red]the worker was not ready within {self.options.ready_timeout:.0f}s[/]; "
                f"see {self.worker_log}"
            )
        return False

    async def _feed(self, producer: Any) -> None:
        start = datetime.now(UTC).replace(microsecond=0)
        end = None
        if self.options.duration is not None:
            end = start.timestamp() + self.options.duration
        stream = DemoStream(self.options.seed, start, rate=self.options.rate)
        for message in stream:
            if end is not None and message.send_at.timestamp() >= end:
                break
            delay = message.send_at.timestamp() - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await producer.send(message.topic, message.value, key=message.key)
            self.tally.sent[message.kind] += 1
        if end is not None:
            await asyncio.sleep(max(0.0, end - time.time()))
            await producer.flush()
            self.stop.set()

    async def _print(self, consumer: Any) -> None:
        async for message in consumer:
            try:
                record = orjson.loads(message.value)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            line, kind = describe(message.topic, record, self.names)
            self._count(kind)
            if line is not None:
                self.console.print(line)

    async def _alerts(self) -> None:
        """Show the console channel's alerts, which the worker writes among its log lines."""
        with self.worker_log.open("r", encoding="utf-8", errors="replace") as log:
            log.seek(0, os.SEEK_END)
            showing = False
            while True:
                line = log.readline()
                if not line:
                    await asyncio.sleep(0.2)
                    continue
                if line.startswith("[alert "):
                    self.tally.alerts += 1
                    showing = _worth_showing(line)
                    if showing:
                        self.console.print(f"[magenta]{escape(line.rstrip())}[/]")
                elif showing and line.startswith("    "):
                    self.console.print(f"[magenta dim]{escape(line.rstrip())}[/]")
                    link = _ACK_LINK.search(line)
                    if link and not self.acked:
                        await self._acknowledge(link.group(1))
                else:
                    showing = False

    async def _acknowledge(self, link: str) -> None:
        """Acknowledge the first breach from its link, as its owner would: it never escalates."""
        self.acked = True
        try:
            breach = await asyncio.to_thread(acknowledge, link)
        except OSError as exc:
            self.console.print(f"[yellow]could not acknowledge from the link: {exc}[/]")
            return
        self.console.print(
            f"[green]✔ acknowledged {escape(breach)}[/] from the link in its alert (the demo "
            "plays its owner: open the link, press 确认): its escalation stops"
        )

    def _count(self, kind: str) -> None:
        name = _TALLY_FIELDS.get(kind)
        if name is None:
            self.tally.outcomes[kind] += 1
        else:
            setattr(self.tally, name, getattr(self.tally, name) + 1)

    async def _summaries(self) -> None:
        while True:
            await asyncio.sleep(SUMMARY_EVERY)
            if self._worker_died():
                return
            url = f"http://127.0.0.1:{self.options.port}/worklist"
            self.tally.worklist = await asyncio.to_thread(_worklist_size, url)
            self._summary()

    def _robots_summary(self) -> str:
        return "" if self.robots is None else _robots_count(self.robots.received) + " · "

    def _summary(self) -> None:
        t = self.tally
        elapsed = time.monotonic() - self.started
        sent = sum(t.sent.values())
        closed = " ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items())) or "none yet"
        self.console.print(
            f"[dim]── {int(elapsed // 60):02d}:{int(elapsed % 60):02d}[/]  sent {sent} "
            f"(dup {t.sent['duplicate']}, late {t.sent['out_of_order']}, malformed "
            f"{t.sent['malformed']}) · warnings {t.warnings} · breaches {t.breaches} "
            f"· alerts {t.alerts} "
            f"(retracted {t.retracted}) · closed: {closed} · dead letters {t.dead_letters} · "
            + (f"worklist {t.worklist} to chase · " if t.worklist is not None else "")
            + self._robots_summary()
            + f"http://127.0.0.1:{self.options.port}/worklist.html · /metrics"
        )


def _robots_count(received: list[Received]) -> str:
    """``robots ✔ 3/3/3`` (WeCom, DingTalk, Feishu messages taken) and any refusals."""
    taken = [sum(1 for r in received if r.platform == p and not r.refused) for p in ROBOT_NAMES]
    refused = sum(1 for r in received if r.refused)
    return f"robots ✔ {'/'.join(map(str, taken))}" + (f" refused {refused}" if refused else "")


#: How much of its time a warning's clock used, in the English or the Chinese title.
_WARNING_SHARE = re.compile(r"\((\d+)% of its time used\)|【预警 (\d+)%】")
#: The acknowledge link in an alert's plain text (Chinese or English template).
_ACK_LINK = re.compile(r"(?:确认处理（停止升级）：|Acknowledge: )(http\S+/ack\?\S+)")


def _worth_showing(alert_line: str) -> bool:
    """Alerts are printed like records: warnings only from ``PRINT_WARNINGS_FROM`` on.

    >>> _worth_showing("[alert warning -> a] 【预警 50%】x"), _worth_showing("[alert 1 -> a] x")
    (False, True)
    """
    share = _WARNING_SHARE.search(alert_line)
    if share is None:
        return True
    return int(share.group(1) or share.group(2)) >= PRINT_WARNINGS_FROM * 100


def acknowledge(link: str) -> str:
    """Do what a staff member does with an alert's link: open it, press the button.

    The link (GET) shows a confirmation page and sets the browser's nonce cookie; its form
    posts the signed fields and the form token bound to that cookie to ``/ack``, with the
    cookie, as a browser does. Returns the breach id acknowledged.

    Raises:
        OSError: the worker refused or did not answer.
    """
    with urllib.request.urlopen(link, timeout=5) as page:
        body = page.read().decode("utf-8", errors="replace")
        cookie = page.headers.get("Set-Cookie", "").split(";", 1)[0]
    fields = {
        html.unescape(name): html.unescape(value) for name, value in _HIDDEN_INPUT.findall(body)
    }
    request = urllib.request.Request(
        link.split("?", 1)[0],
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Cookie": cookie} if cookie else {},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        answer.read()
    return fields.get("b", "?")


#: A hidden field of the ack page's form: name and value (HTML-escaped).
_HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def _worklist_size(url: str) -> int | None:
    """How many open clocks the worklist has due today or overdue; None if it did not answer."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return len(orjson.loads(response.read()).get("items", []))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _answers(url: str) -> bool:
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False
