"""Several workers of one app under a steady event stream: add, stop, kill, restart, and judge.

One implementation for the CI test (``tests/streams/test_failover.py``, a few steps) and the
long form by hand (``bench/failover.py --kills 10``); run it on your own broker to see what a
failover costs your deployment. What *should* come out is known in
advance: every case is generated here with its start time and its clock's limit (calendar
time), and a known subset is closed before its deadline, so the breach ids expected are
``case/clock/1`` of the unclosed ones (:func:`sla.records.breach_id`). After each step the run
compares ``sla.breaches`` (read from the beginning with kafka-python, deduplicated by id) with
that list, and at the end also the webhook deliveries (per ``Idempotency-Key``) and the
``cases`` tables of the live workers (``/cases/{id}`` and ``slawatch_clocks_open``).

Duplicates are expected only in the at-least-once window of a SIGKILL (a breach sent, its
table write not yet in the changelog; a notification accepted by the receiver, "sent" not yet
written to Redis): a repeat whose first copy was emitted in the seconds before a kill is
counted as *explained*, any other repeat is a defect.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import platform
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sla.records import breach_id
from slawatch.testing._reader import TopicReader
from slawatch.testing._redis import redis_url
from slawatch.testing._stack import Stack, canonical, webhook_alerts
from slawatch.testing._worker import WorkerProcess
from streams.broker import free_port

__all__ = [
    "ALERTS",
    "CLOCKS",
    "POLICY",
    "AlertReceiver",
    "BreachLog",
    "Case",
    "CaseStream",
    "ClockKind",
    "FailoverRun",
    "Member",
    "Report",
    "StepResult",
    "failover_redis_url",
    "format_table",
]

#: A repeat whose first copy was emitted this many seconds before a SIGKILL is the documented
#: at-least-once window (send done, changelog write or Redis "sent" mark not yet durable).
KILL_WINDOW_S = 3.0
#: How long a step waits for the breaches of deadlines that fell due before it settled.
DUE_WAIT_S = 60.0
#: How long the cluster may take to own every partition again after a step.
SETTLE_TIMEOUT_S = 120.0
WEBHOOK_SECRET = "failover-webhook-secret"


def failover_redis_url() -> str:
    """The alerts' Redis: ``$SLAWATCH_FAILOVER_REDIS_URL``, else the test Redis, database 13."""
    return os.environ.get("SLAWATCH_FAILOVER_REDIS_URL") or redis_url(13)


@dataclass(frozen=True)
class ClockKind:
    """One clock of the test policy: its case kind, start and stop events, limit in seconds."""

    clock: str
    case_kind: str
    start: str
    stop: str
    limit_s: float


CLOCKS = (
    ClockKind("quick_reply", "complaint", "complaint_registered", "complaint_acknowledged", 4.0),
    ClockKind("callback", "ticket", "ticket_opened", "ticket_closed", 10.0),
    ClockKind("claim_review", "claim", "claim_filed", "claim_decided", 20.0),
)


def _policy(clocks: Iterable[ClockKind]) -> str:
    lines = [
        'version: "failover-1"',
        "allowed_lateness: 60s",
        "teams:",
        "  desk: {}",
        "clocks:",
    ]
    for c in clocks:
        lines += [
            f"  - id: {c.clock}",
            f"    case_kind: {c.case_kind}",
            f"    start: [{c.start}]",
            f"    stop: [{c.stop}]",
            f"    limit: {c.limit_s:g}s",
            "    warn_at: []",
            "    team: desk",
        ]
    return "\n".join(lines) + "\n"


POLICY = _policy(CLOCKS)

ALERTS = webhook_alerts("failover-1", retries=5, backoff="1s", max_per_minute=1000000)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# ------------------------------------------------------------------------------------ the stream


@dataclass(frozen=True)
class Case:
    """One generated case: its clock, start (Unix s) and, for the closed subset, its stop."""

    case_id: str
    kind: ClockKind
    started_at: float
    close_at: float | None

    @property
    def deadline(self) -> float:
        return self.started_at + self.kind.limit_s

    @property
    def breach_id(self) -> str:
        return breach_id(self.case_id, self.kind.clock, 1)

    @property
    def expected(self) -> bool:
        """Left open past its deadline: its breach must be emitted."""
        return self.close_at is None


class CaseStream(threading.Thread):
    """Opens ``rate`` cases a second (random clock) and closes ``close_share`` of them early.

    A closed case's stop event carries a time between 20 % and 60 % of its limit and is sent
    at that time, so it is before the deadline in event time whatever the workers are doing.
    """

    def __init__(
        self,
        send: Callable[[dict[str, Any]], None],
        *,
        rate: float,
        close_share: float,
        seed: int,
        prefix: str = "F",
        clocks: tuple[ClockKind, ...] = CLOCKS,
    ) -> None:
        super().__init__(name="case-stream", daemon=True)
        self._send = send
        self._rate = rate
        self._close_share = close_share
        self._rng = random.Random(seed)
        self._prefix = prefix
        self._clocks = clocks
        self._opening = threading.Event()
        self._opening.set()
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._cases: list[Case] = []
        self.error: BaseException | None = None

    @property
    def cases(self) -> list[Case]:
        """Every case opened so far."""
        with self._lock:
            return list(self._cases)

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by finish(): a dead stream fails the run
            self.error = exc

    def _loop(self) -> None:
        pending: list[tuple[float, int, dict[str, Any]]] = []
        next_open = time.time()
        seq = 0
        while not self._halt.is_set():
            now = time.time()
            if self._opening.is_set() and now >= next_open:
                kind = self._rng.choice(self._clocks)
                closing = self._rng.random() < self._close_share
                close_at = now + kind.limit_s * self._rng.uniform(0.2, 0.6) if closing else None
                case = Case(f"{self._prefix}-{seq:06d}", kind, now, close_at)
                opened = datetime.fromtimestamp(now, UTC)
                self._send(
                    canonical(
                        f"{case.case_id}-open",
                        case.case_id,
                        kind.start,
                        opened,
                        case_kind=kind.case_kind,
                        assignee="agent-1",
                    )
                )
                with self._lock:
                    self._cases.append(case)
                if close_at is not None:
                    stop = canonical(
                        f"{case.case_id}-stop",
                        case.case_id,
                        kind.stop,
                        datetime.fromtimestamp(close_at, UTC),
                        case_kind=kind.case_kind,
                    )
                    heapq.heappush(pending, (close_at, seq, stop))
                seq += 1
                next_open = max(next_open + 1.0 / self._rate, now - 1.0)
            while pending and pending[0][0] <= time.time():
                self._send(heapq.heappop(pending)[2])
            if not self._opening.is_set() and not pending:
                return
            wake = [pending[0][0]] if pending else []
            if self._opening.is_set():
                wake.append(next_open)
            time.sleep(min(0.05, max(0.0, min(wake) - time.time())))

    def finish(self, timeout: float = 60.0) -> None:
        """Open no more cases; return once every scheduled stop has been sent."""
        self._opening.clear()
        self.join(timeout)
        if self.is_alive():
            self._halt.set()
            self.join(5)
        if self.error is not None:
            raise AssertionError(f"the event stream failed: {self.error!r}") from self.error


# ---------------------------------------------------------------------------------- the outputs


@dataclass(frozen=True)
class BreachSeen:
    """One record of ``sla.breaches`` as read back."""

    breach_id: str
    case_id: str
    type: str
    deadline: float
    emitted_at: float
    partition: int


class BreachLog:
    """``sla.breaches`` read from the beginning, parsed once per record."""

    def __init__(self, reader: TopicReader, ignored: list[str] | None = None) -> None:
        self._reader = reader
        self._ignored = ignored if ignored is not None else []
        self._parsed = 0
        self.records: list[BreachSeen] = []

    def poll(self, rounds: int = 1) -> list[BreachSeen]:
        """Read what arrived (``rounds`` polls); returns every record so far."""
        for _ in range(rounds):
            self._reader.poll()
        for r in self._reader.records[self._parsed :]:
            v = json.loads(r.value)
            if v["case_id"] in self._ignored:  # a barrier's sentinel, not a case of the run
                continue
            self.records.append(
                BreachSeen(
                    v["breach_id"],
                    v["case_id"],
                    v["type"],
                    _ts(v["deadline"]),
                    _ts(v["emitted_at"]),
                    r.partition,
                )
            )
        self._parsed = len(self._reader.records)
        return self.records

    def breached(self) -> dict[str, list[BreachSeen]]:
        """Breach records (not retractions) by breach id."""
        out: dict[str, list[BreachSeen]] = defaultdict(list)
        for b in self.poll():
            if b.type == "breach":
                out[b.breach_id].append(b)
        return out


@dataclass(frozen=True)
class Delivery:
    """One webhook POST the receiver accepted."""

    at: float
    key: str
    breach_id: str
    recipient: str
    level: str
    kind: str


class AlertReceiver:
    """A webhook receiver on loopback that accepts every POST and records it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                doc = json.loads(body)
                receiver._record(
                    Delivery(
                        time.time(),
                        self.headers.get("Idempotency-Key", ""),
                        str(doc.get("breach_id")),
                        str(doc.get("recipient")),
                        str(doc.get("level")),
                        str(doc.get("kind")),
                    )
                )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def _record(self, d: Delivery) -> None:
        with self._lock:
            self._deliveries.append(d)

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def start(self) -> AlertReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------------------------- figures


@dataclass
class StepResult:
    """What one step did and what came out by the time it settled."""

    name: str
    action: str
    target: str | None
    at: str
    workers_after: list[str]
    moved_partitions: list[int]
    settle_s: float
    takeover_s: float | None
    mid_processing: bool | None
    expected: int
    emitted: int
    lost: int
    duplicated: int
    overdue: int
    overdue_max_late_s: float | None
    overdue_fired_after_settle_s: float | None


@dataclass
class Report:
    """The figures of a whole run (what the CI test asserts on and the bench prints)."""

    meta: dict[str, Any]
    steps: list[StepResult]
    breaches: dict[str, Any]
    notifications: dict[str, Any] | None
    tables: dict[str, Any]
    log_errors: dict[str, int]
    rereads: int = 0  # partitions sought back to a passed-over message (streams/reread.py)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def format_table(report: Report) -> str:
    """The steps and totals as a Markdown table (for the terminal and docs/resilience.md)."""
    head = (
        "| step | action | settle s | takeover s | expected | emitted | lost | dup | "
        "overdue | overdue max late s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for s in report.steps:
        rows.append(
            f"| {s.name} | {s.action} {s.target or ''} | {s.settle_s:.1f} | "
            f"{'-' if s.takeover_s is None else f'{s.takeover_s:.1f}'} | {s.expected} | "
            f"{s.emitted} | {s.lost} | {s.duplicated} | {s.overdue} | "
            f"{'-' if s.overdue_max_late_s is None else f'{s.overdue_max_late_s:.1f}'} |"
        )
    b = report.breaches
    rows.append(
        f"| **total** | | | | **{b['expected']}** | **{b['emitted']}** | **{b['lost']}** | "
        f"**{b['duplicated']}** | | |"
    )
    return "\n".join(rows)


# ------------------------------------------------------------------------------------- the run


@dataclass
class Member:
    """One worker slot: a name, its own web port and data directory, its current process."""

    name: str
    port: int
    datadir: Path
    process: WorkerProcess | None = None
    kills: list[float] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive()


class FailoverRun:
    """Workers of one app id on one broker, a steady case stream, steps, and the figures.

    Args:
        stack: the test's slice of the broker (topics, config files); its policy must be
            :data:`POLICY` and it should have ``partitions`` set (4 is a good value).
        rate: cases opened per second.
        close_share: the share of cases closed before their deadline.
        seed: seeds the stream (clock and closing per case) and the random choices.
        alerts: a webhook receiver; None runs without alerts.
        redis_url: the alerts' Redis (a database no other test uses; by default
            :func:`failover_redis_url`); keys are prefixed by the stack's app id and deleted
            by :meth:`close`.
    """

    def __init__(
        self,
        stack: Stack,
        *,
        rate: float = 4.0,
        close_share: float = 0.4,
        seed: int = 0,
        alerts: AlertReceiver | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.stack = stack
        self.rng = random.Random(seed)
        self.seed = seed
        self.rate = rate
        self.close_share = close_share
        self.alerts = alerts
        self.redis_url = redis_url or failover_redis_url()
        self.members: list[Member] = []
        self.steps: list[StepResult] = []
        self.kill_times: list[float] = []
        self.stream: CaseStream | None = None
        self.started = time.time()
        env = {"SLAWATCH_STANDBY_REPLICAS": "1", "SLAWATCH_ALERTS": "off"}
        if alerts is not None:
            alerts_path = stack.tmp / "failover-alerts.yaml"
            alerts_path.write_text(ALERTS)
            env.update(
                SLAWATCH_ALERTS=str(alerts_path),
                SLAWATCH_REDIS_URL=self.redis_url,
                HOOK_URL=alerts.url,
                HOOK_SECRET=WEBHOOK_SECRET,
            )
        stack.extra_env.update(env)
        self._breaches: BreachLog | None = None

    @property
    def breaches(self) -> BreachLog:
        """``sla.breaches`` from the beginning (the topic exists once a worker started)."""
        if self._breaches is None:
            self._breaches = BreachLog(self.stack.reader("breaches"), self.stack.barrier_cases)
        return self._breaches

    # ---------------------------------------------------------------- workers and ownership

    def live(self) -> list[Member]:
        return [m for m in self.members if m.alive]

    def _launch(self, member: Member) -> None:
        member.process = self.stack.start_worker(
            ready=False,
            env={"SLAWATCH_WEB_PORT": str(member.port), "SLAWATCH_DATADIR": str(member.datadir)},
        )

    def _new_member(self) -> Member:
        n = len(self.members)
        member = Member(f"w{n}", free_port(), self.stack.tmp / f"data-w{n}")
        self.members.append(member)
        return member

    def owners(self) -> dict[int, str] | None:
        """Partition -> worker name when every live worker is ready and they split the
        partitions between them exactly; None otherwise (still rebalancing)."""
        owner: dict[int, str] = {}
        for m in self.live():
            assert m.process is not None
            try:
                status, body = m.process.get("/ready", timeout=2.0)
            except OSError:
                return None
            if status != 200 or not isinstance(body, dict) or not body.get("recovered"):
                return None
            for p in body["recovered"]["actives"]:
                if p in owner:
                    return None
                owner[p] = m.name
        return owner if set(owner) == set(range(self.stack.partitions)) else None

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> tuple[float, dict[int, str]]:
        """Wait until the live workers own every partition again; (time, owners)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.members:
                proc = m.process.proc if m.process is not None else None
                if proc is not None and proc.poll() not in (None, 0, -9, -15):
                    raise AssertionError(
                        f"worker {m.name} exited with {proc.returncode}:\n"
                        + (m.process.log_tail() if m.process else "")
                    )
            owners = self.owners()
            if owners is not None:
                return time.time(), owners
            time.sleep(0.2)
        tails = "\n".join(
            f"--- {m.name}\n{m.process.log_tail(15)}" for m in self.live() if m.process
        )
        raise AssertionError(f"the workers did not settle within {timeout}s\n{tails}")

    def start(self, workers: int) -> dict[int, str]:
        """Start ``workers`` workers at once and wait until they share the partitions."""
        for _ in range(workers):
            self._launch(self._new_member())
        owners = self.settle()[1]
        self.breaches.poll()
        return owners

    def begin_stream(self) -> None:
        """Start the steady stream of cases."""
        self.stream = CaseStream(
            lambda e: self.stack.send(e),
            rate=self.rate,
            close_share=self.close_share,
            seed=self.seed,
            prefix=f"F{self.seed}",
        )
        self.stream.start()

    def cases(self) -> list[Case]:
        return self.stream.cases if self.stream is not None else []

    def member(self, name: str | None) -> Member:
        """The named member, or a random live one that owns active partitions."""
        if name is None:
            owning = set((self.owners() or {}).values())
            return self.rng.choice([m for m in self.live() if m.name in owning] or self.live())
        return next(m for m in self.members if m.name == name)

    # ------------------------------------------------------------------------- the steps

    def add(self) -> StepResult:
        """Start one more worker; it takes a share of the partitions."""
        member = self._new_member()

        def act() -> float:
            self._launch(member)
            return time.time()

        return self._step("add", member, act)

    def term(self, name: str | None = None) -> StepResult:
        """SIGTERM a worker and wait for it to exit: it leaves the group cleanly."""
        member = self.member(name)

        def act() -> float:
            assert member.process is not None
            member.process.stop()
            return time.time()

        return self._step("sigterm", member, act)

    def kill(self, name: str | None = None, *, mid_processing: bool = True) -> StepResult:
        """SIGKILL a worker, by default right after it emitted a breach (mid-processing).

        Without ``mid_processing`` it is killed at once; the step still records whether it
        had emitted a breach in the second before.
        """
        member = self.member(name)
        fresh: list[bool] = []

        def act() -> float:
            assert member.process is not None
            fresh.append(self._wait_fresh_breach(member, 20.0 if mid_processing else 0.0))
            now = time.time()
            member.kills.append(now)
            self.kill_times.append(now)
            member.process.kill()
            return time.time()

        return self._step("sigkill", member, act, fresh=fresh)

    def restart(self, name: str) -> StepResult:
        """Start a stopped or killed worker again (same name, port and data directory)."""
        member = self.member(name)
        assert not member.alive, f"{name} is still running"

        def act() -> float:
            self._launch(member)
            return time.time()

        return self._step("restart", member, act)

    def _wait_fresh_breach(self, member: Member, timeout: float = 20.0) -> bool:
        """Wait until ``member`` has just emitted a breach (< 1 s ago); False on timeout."""
        owners = self.owners() or {}
        mine = {p for p, name in owners.items() if name == member.name}
        deadline = time.monotonic() + timeout
        while True:
            now = time.time()
            recent = [b for b in self.breaches.poll()[-50:] if b.partition in mine]
            if any(now - b.emitted_at < 1.0 for b in recent):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _step(
        self,
        action: str,
        member: Member,
        act: Callable[[], float],
        *,
        fresh: list[bool] | None = None,
    ) -> StepResult:
        before = self.owners() or {}
        victim_parts = {p for p, name in before.items() if name == member.name}
        t_action = time.time()
        t_gone = act()
        t_settled, after = self.settle()
        moved = sorted(p for p in after if before.get(p) != after[p])
        due = [c for c in self.cases() if c.expected and c.deadline <= t_settled]
        breached = self._await(lambda: {c.breach_id for c in due}, DUE_WAIT_S)
        emitted = sum(1 for c in due if c.breach_id in breached)
        duplicated = sum(len(v) - 1 for v in breached.values())
        overdue = [
            breached[c.breach_id][0]
            for c in due
            if c.deadline >= t_action and c.breach_id in breached
        ]
        takeover = None
        if action in ("sigkill", "sigterm"):
            firsts = [
                b.emitted_at
                for b in overdue
                if b.partition in victim_parts and b.emitted_at >= t_gone - 0.05
            ]
            takeover = min(firsts) - t_action if firsts else None
        result = StepResult(
            name=f"{len(self.steps) + 1}",
            action=action,
            target=member.name,
            at=_iso(t_action),
            workers_after=sorted(m.name for m in self.live()),
            moved_partitions=moved,
            settle_s=round(t_settled - t_action, 3),
            takeover_s=_r(takeover),
            mid_processing=fresh[0] if fresh else None,
            expected=len(due),
            emitted=emitted,
            lost=len(due) - emitted,
            duplicated=duplicated,
            overdue=len(overdue),
            overdue_max_late_s=_r(max((b.emitted_at - b.deadline for b in overdue), default=None)),
            overdue_fired_after_settle_s=_r(
                max((b.emitted_at for b in overdue), default=t_settled) - t_settled
                if overdue
                else None
            ),
        )
        self.steps.append(result)
        return result

    def _await(self, wanted: Callable[[], set[str]], timeout: float) -> dict[str, list[BreachSeen]]:
        """Read breaches until every id of ``wanted()`` is there or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            breached = self.breaches.breached()
            if wanted() <= set(breached) or time.monotonic() > deadline:
                return breached
            time.sleep(0.25)

    # ------------------------------------------------------------------------- the verdict

    def finish(self) -> Report:
        """Stop the stream, let every deadline pass, and judge breaches, alerts and tables."""
        assert self.stream is not None, "begin_stream() first"
        self.stream.finish()
        cases = self.cases()
        last = max((c.deadline for c in cases), default=time.time())
        expected = {c.breach_id for c in cases if c.expected}
        self._await(lambda: expected, max(0.0, last - time.time()) + DUE_WAIT_S)
        self._barrier()
        return Report(
            meta=self._meta(cases),
            steps=self.steps,
            breaches=self._judge_breaches(cases, self.breaches.breached()),
            notifications=self._judge_notifications(cases) if self.alerts else None,
            tables=self._judge_tables(cases),
            log_errors=self._log_errors(),
            rereads=self._count_log_event("partition_reread"),
        )

    def _barrier(self) -> None:
        """Wait until nothing more can come out: a sentinel case per partition, started now,
        breaches after every case of the run (and, with alerts, is notified after them)."""
        quick = CLOCKS[0]
        self.stack.breach_barrier(
            self.breaches._reader,
            quick.start,
            datetime.now(UTC),
            case_kind=quick.case_kind,
            timeout=DUE_WAIT_S,
            assignee="agent-1",
        )
        self.breaches.poll()

    def _deliveries(self) -> list[Delivery]:
        """The webhook deliveries of the run's cases (the barrier's sentinels left out)."""
        assert self.alerts is not None
        sentinels = {breach_id(c, CLOCKS[0].clock, 1) for c in self.stack.barrier_cases}
        return [d for d in self.alerts.deliveries() if d.breach_id not in sentinels]

    def _in_kill_window(self, at: float) -> bool:
        return any(0.0 <= k - at <= KILL_WINDOW_S for k in self.kill_times)

    def _judge_breaches(
        self, cases: list[Case], breached: dict[str, list[BreachSeen]]
    ) -> dict[str, Any]:
        by_id = {c.breach_id: c for c in cases}
        expected = [c for c in cases if c.expected]
        retracted = {b.breach_id for b in self.breaches.records if b.type == "breach_retracted"}
        repeats = {k: v for k, v in breached.items() if len(v) > 1}
        explained = sum(
            len(v) - 1 for v in repeats.values() if self._in_kill_window(v[0].emitted_at)
        )
        unexpected = sorted(
            k for k in breached if (k not in by_id or not by_id[k].expected) and k not in retracted
        )
        late = [
            v[0].emitted_at - v[0].deadline
            for k, v in breached.items()
            if k in by_id and by_id[k].expected
        ]
        lost = sorted(c.breach_id for c in expected if c.breach_id not in breached)
        deadline_ok = sum(
            1
            for c in expected
            if c.breach_id in breached
            and abs(breached[c.breach_id][0].deadline - c.deadline) < 0.002
        )
        return {
            "cases": len(cases),
            "closed_early": len(cases) - len(expected),
            "expected": len(expected),
            "emitted": len(expected) - len(lost),
            "lost": len(lost),
            "lost_ids": lost[:20],
            "duplicated": sum(len(v) - 1 for v in repeats.values()),
            "duplicated_in_kill_window": explained,
            "duplicated_unexplained": sum(len(v) - 1 for v in repeats.values()) - explained,
            "unique_after_dedupe": len(breached),
            "unexpected": len(unexpected),
            "unexpected_ids": unexpected[:20],
            "retracted": len(retracted),
            "deadline_matches": deadline_ok,
            "lateness_p50_s": _percentile(late, 0.5),
            "lateness_p99_s": _percentile(late, 0.99),
            "lateness_max_s": _r(max(late, default=None)),
        }

    def _judge_notifications(self, cases: list[Case], timeout: float = 120.0) -> dict[str, Any]:
        alerts = self.alerts
        assert alerts is not None
        expected = {c.breach_id for c in cases if c.expected}
        sentinels = {breach_id(c, CLOCKS[0].clock, 1) for c in self.stack.barrier_cases}

        def delivered() -> set[str]:
            return {d.breach_id for d in alerts.deliveries() if d.level == "1"}

        # the sentinels' level 1 goes out after every earlier breach of their partitions
        deadline = time.monotonic() + timeout
        while not (expected | sentinels) <= delivered() and time.monotonic() < deadline:
            time.sleep(0.5)
        deliveries = self._deliveries()
        per_key = Counter(d.key for d in deliveries)
        first_at: dict[str, float] = {}
        for d in deliveries:
            first_at.setdefault(d.key, d.at)
        repeats = {k: n for k, n in per_key.items() if n > 1}
        explained = sum(n - 1 for k, n in repeats.items() if self._in_kill_window(first_at[k]))
        keys_per_target: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for d in deliveries:
            keys_per_target[(d.breach_id, d.recipient, d.level)].add(d.key)
        level1 = Counter(d.breach_id for d in deliveries if d.level == "1")
        unexpected = sorted(k for k in level1 if k not in expected)
        by_id = {c.breach_id: c for c in cases}
        retracted = {b.breach_id for b in self.breaches.records if b.type == "breach_retracted"}
        return {
            "deliveries": len(deliveries),
            "by_level": dict(Counter(d.level for d in deliveries)),
            "expected_level1": len(expected),
            "level1_delivered": len(expected & set(level1)),
            "level1_missing": len(expected - set(level1)),
            "level1_missing_ids": sorted(expected - set(level1))[:20],
            "repeated_keys": sum(repeats.values()) - len(repeats),
            "repeated_in_kill_window": explained,
            "repeated_unexplained": sum(repeats.values()) - len(repeats) - explained,
            "distinct_keys_same_target": sum(
                len(keys) - 1 for keys in keys_per_target.values() if len(keys) > 1
            ),
            "level1_for_closed_not_retracted": len(
                [k for k in unexpected if k in by_id and k not in retracted]
            ),
        }

    def _judge_tables(self, cases: list[Case], timeout: float = 60.0) -> dict[str, Any]:
        live = [m for m in self.live() if m.process is not None]
        want_open = sum(1 for c in cases if c.expected)
        sentinels = len(self.stack.barrier_cases)  # the barrier's cases stay open too

        def open_clocks() -> int:
            return int(sum(m.process.metric("slawatch_clocks_open") for m in live if m.process))

        deadline = time.monotonic() + timeout
        total = open_clocks() - sentinels
        while total != want_open and time.monotonic() < deadline:
            time.sleep(0.5)
            total = open_clocks() - sentinels

        def lookup(case: Case) -> list[tuple[str, dict[str, Any]]]:
            found = []
            for m in live:
                assert m.process is not None
                # local: each worker's own table, not the owner's answer forwarded
                status, body = m.process.get(f"/cases/{case.case_id}", local=True)
                if status == 200:
                    found.append((m.name, body))
            return found

        with ThreadPoolExecutor(max_workers=8) as pool:
            found = list(pool.map(lookup, cases))
        missing, doubled, wrong = [], [], []
        once = 0
        for case, owners in zip(cases, found, strict=True):
            if len(owners) > 1:
                doubled.append(case.case_id)
            elif len(owners) == 1 and case.expected:
                once += 1
            if not case.expected:
                if owners and owners[0][1].get("open"):
                    wrong.append(case.case_id)
                continue
            if not owners:
                missing.append(case.case_id)
                continue
            body = owners[0][1]
            running = (body["state"]["clocks"].get(case.kind.clock) or {}).get("running") or {}
            started = running.get("started_at")
            if (
                body.get("open") != [case.kind.clock]
                or started is None
                or abs(_ts(started) - case.started_at) > 0.002
            ):
                wrong.append(case.case_id)
        return {
            "workers": [m.name for m in live],
            "clocks_open_sum": total,
            "clocks_open_expected": want_open,
            "open_cases_found_once": once,
            "missing": len(missing),
            "missing_ids": missing[:20],
            "in_several_tables": len(doubled),
            "in_several_ids": doubled[:20],
            "wrong_state": len(wrong),
            "wrong_state_ids": wrong[:20],
        }

    def _worker_log_lines(self) -> Iterator[str]:
        """Every line of every worker process's log, in worker order."""
        for i in range(len(self.stack.workers)):
            path = self.stack.tmp / f"worker-{i}.log"
            if path.exists():
                yield from path.read_text(errors="replace").splitlines()

    def _count_log_event(self, event: str) -> int:
        """How many log lines of all workers are the structured event ``event``."""
        needle = f'"event": "{event}"'
        return sum(1 for line in self._worker_log_lines() if needle in line)

    def _log_errors(self) -> dict[str, int]:
        """Error log lines of every worker process, by event name (and tracebacks)."""
        counts: Counter[str] = Counter()
        for line in self._worker_log_lines():
            if line.startswith("Traceback"):
                counts["traceback"] += 1
                continue
            if '"error"' not in line and '"critical"' not in line:
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("level") in ("error", "critical"):
                counts[str(doc.get("event"))[:80]] += 1
        return dict(counts)

    def _meta(self, cases: list[Case]) -> dict[str, Any]:
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "python": sys.version.split()[0],
            "partitions": self.stack.partitions,
            "rate_per_s": self.rate,
            "close_share": self.close_share,
            "seed": self.seed,
            "limits_s": {c.clock: c.limit_s for c in CLOCKS},
            "cases": len(cases),
            "kills": len(self.kill_times),
            "duration_s": round(time.time() - self.started, 1),
            "alerts": self.alerts is not None,
        }

    def close(self) -> None:
        """Stop the stream and delete this run's Redis keys; call after ``stack.close()``."""
        if self.stream is not None and self.stream.is_alive():
            with contextlib.suppress(AssertionError):  # cleanup must not hide the real failure
                self.stream.finish(timeout=5)
        if self.alerts is None:
            return
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(match=f"{self.stack.name}:*", count=1000):
                client.delete(key)
            client.close()
        except Exception:  # cleanup only; a Redis that went away leaves keys with a unique prefix
            pass
