"""One test's slice of a broker: topic names, config files, workers, producers and barriers.

Every :class:`Stack` has its own app id, web port and topic names, so tests sharing one broker
never see each other's messages.
"""

from __future__ import annotations

import itertools
import json
import signal
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from slawatch.testing._reader import TopicReader
from slawatch.testing._wait import wait_for
from slawatch.testing._worker import WorkerProcess
from streams.broker import free_port

__all__ = [
    "ROLES",
    "Stack",
    "by_case",
    "canonical",
    "case_per_partition",
    "one_clock_policy",
    "webhook_alerts",
]

#: The worker's topics, by role (``SLAWATCH_TOPIC_<ROLE>``).
ROLES = ("events", "due", "warnings", "breaches", "outcomes", "deadletter", "acks")


def canonical(
    event_id: str,
    case_id: str,
    event_type: str,
    occurred_at: datetime,
    case_kind: str = "complaint",
    **attributes: Any,
) -> dict[str, Any]:
    """A canonical lifecycle event as a dict (the ``canonical`` mapping reads it as it is).

    Example:
        >>> from datetime import UTC, datetime
        >>> canonical("e-1", "C-1", "complaint_registered", datetime(2026, 1, 5, tzinfo=UTC))[
        ...     "occurred_at"]
        '2026-01-05T00:00:00+00:00'
    """
    return {
        "event_id": event_id,
        "case_id": case_id,
        "case_kind": case_kind,
        "event_type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "attributes": attributes,
    }


def by_case(values: Iterable[dict[str, Any]], case_id: str) -> list[dict[str, Any]]:
    """Records of one case."""
    return [v for v in values if v.get("case_id") == case_id]


def case_per_partition(prefix: str, partitions: int) -> list[str]:
    """One case id for each partition, in partition order, as the worker places case keys.

    Example:
        >>> from streams.ingest import partition_of
        >>> [partition_of(c, 4) for c in case_per_partition("S", 4)]
        [0, 1, 2, 3]
    """
    from streams.ingest import partition_of

    found: dict[int, str] = {}
    for n in itertools.count():
        case_id = f"{prefix}-{n}"
        found.setdefault(partition_of(case_id, partitions), case_id)
        if len(found) == partitions:
            return [found[p] for p in range(partitions)]
    raise AssertionError("unreachable")  # pragma: no cover


def _unwrap(data: bytes | None) -> Any:
    """A changelog key or value as text: raw bytes, or a JSON string of them, decoded."""
    if data is None:
        return None
    text = data.decode()
    if text.startswith('"'):
        decoded: str = json.loads(text)
        return decoded
    return text


def one_clock_policy(version: str, limit: str = "1h", team: str | None = None) -> str:
    """A policy of one complaint clock, ``first_response``: registered to acknowledged."""
    owner = f"    team: {team}\n" if team else ""
    return (
        f'version: "{version}"\nclocks:\n  - id: first_response\n'
        "    name: {zh-CN: 首次回复, en: First response}\n    case_kind: complaint\n"
        "    start: [complaint_registered]\n    stop: [complaint_acknowledged]\n"
        f"    limit: {limit}\n{owner}"
    )


def webhook_alerts(
    version: str,
    *,
    escalate_after: str | None = None,
    retries: int | None = None,
    backoff: str | None = None,
    max_per_minute: int | None = None,
) -> str:
    """An alerts file: team ``desk`` (agent-1, supervisor sup-1) alerted by one webhook.

    The webhook's URL and secret come from ``$HOOK_URL`` and ``$HOOK_SECRET`` in the worker's
    environment; every level goes to the case's assignee first.

    Args:
        version: the file's version.
        escalate_after: when set, level 2 goes to the supervisor this long after level 1
            (e.g. ``6s``); otherwise nothing escalates.
        retries: delivery attempts after the first (the default when None).
        backoff: the wait before the first retry (the default when None).
        max_per_minute: the storm guard's limit (the default when None).
    """
    hook = ["    type: webhook", "    url: ${HOOK_URL}", "    secret: ${HOOK_SECRET}"]
    if retries is not None:
        hook.append(f"    retries: {retries}")
    if backoff is not None:
        hook.append(f"    backoff: {backoff}")
    lines = [
        f'version: "{version}"',
        "lease: 5s",
        "channels:",
        "  hook:",
        *hook,
        "recipients:",
        "  agent-1: {channels: [hook]}",
        "  sup-1: {channels: [hook]}",
        "teams:",
        "  desk:",
        "    members: [agent-1]",
        "    supervisor: sup-1",
        '    roster: {timezone: UTC, hours: "00:00-24:00",',
        "             days: [mon, tue, wed, thu, fri, sat, sun]}",
        "routes:",
        "  - to: [assignee]",
        "escalation:",
        f"  default:{'' if escalate_after else ' []'}",
    ]
    if escalate_after:
        lines.append(f"    - {{after: {escalate_after}, to: [supervisor]}}")
    if max_per_minute is not None:
        lines += ["storm:", f"  max_per_minute: {max_per_minute}"]
    return "\n".join(lines) + "\n"


@dataclass
class Stack:
    """One test's slice of the broker: topic names, config files, workers it started.

    Args:
        bootstrap: the broker's ``host:port``.
        tmp: a folder of this stack's own (config files, worker logs, data directories).
        policy_yaml: the policy file's text.
        name: the app id and topic prefix; unique by default.
        partitions: partitions of every topic.
        extra_env: more variables for every worker (``SLAWATCH_*``, ``HOOK_URL``, ...).
    """

    bootstrap: str
    tmp: Path
    policy_yaml: str
    name: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:10])
    partitions: int = 2
    workers: list[WorkerProcess] = field(default_factory=list)
    readers: list[TopicReader] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.source = f"{self.name}.complaints"
        self.topics = {role: f"{self.name}.{role}" for role in ROLES}
        self.policy_path = self.tmp / "policies.yaml"
        self.policy_path.write_text(self.policy_yaml)
        self.topics_path = self.tmp / "topics.yaml"
        self.topics_path.write_text(
            f"version: 1\ntopics:\n  - name: {self.source}\n    mapping: canonical\n"
        )
        self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        #: The sentinel cases :meth:`breach_barrier` has opened (each stays open, breached).
        self.barrier_cases: list[str] = []

    def env(self) -> dict[str, str]:
        """The workers' environment: broker, app id, files, topic names, test switches."""
        env = {
            "SLAWATCH_BROKER": f"kafka://{self.bootstrap}",
            "SLAWATCH_TANSU": "1",
            "SLAWATCH_APP_ID": self.name,
            "SLAWATCH_POLICIES": str(self.policy_path),
            "SLAWATCH_TOPICS": str(self.topics_path),
            "SLAWATCH_PARTITIONS": str(self.partitions),
            "SLAWATCH_DATADIR": str(self.tmp / "data"),
            "SLAWATCH_WEB_PORT": str(self.web_port),
            "SLAWATCH_LOG_FORMAT": "json",
            "SLAWATCH_TIMER_MAX_SLEEP": "0.5",
            "SLAWATCH_ALLOW_LOOPBACK_ACK_LINKS": "1",
            "SLAWATCH_DEBUG_ENDPOINTS": "1",  # the tests read /cases/{id}
        }
        env.update({f"SLAWATCH_TOPIC_{role.upper()}": t for role, t in self.topics.items()})
        env.update(self.extra_env)
        return env

    def start_worker(self, ready: bool = True, env: dict[str, str] | None = None) -> WorkerProcess:
        """Start a worker (same app id: it takes over the table) and wait until ready.

        ``env`` overrides this worker's variables (e.g. its own ``SLAWATCH_WEB_PORT`` and
        ``SLAWATCH_DATADIR`` when several workers run side by side).
        """
        n = len(self.workers)
        worker = WorkerProcess(
            {**self.env(), **(env or {})}, self.tmp / f"worker-{n}.log", self.tmp
        ).start()
        self.workers.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    def send(self, *events: dict[str, Any] | bytes, key: bytes | None = None) -> None:
        """Produce events (dicts as JSON, bytes as they are) to the source topic, in order."""
        for event in events:
            if isinstance(event, bytes):
                self._producer.send(self.source, event, key=key)
            else:
                value = json.dumps(event).encode()
                self._producer.send(self.source, value, key=event["case_id"].encode())
        self._producer.flush()

    def reader(self, role: str) -> TopicReader:
        """A reader of the topic of ``role`` (see :data:`ROLES`), closed with the stack."""
        reader = TopicReader(self.bootstrap, self.topics[role])
        self.readers.append(reader)
        return reader

    def breach_barrier(
        self,
        breaches: TopicReader,
        start: str,
        started_at: datetime,
        *,
        case_kind: str = "complaint",
        timeout: float = 60.0,
        **attributes: Any,
    ) -> list[dict[str, Any]]:
        """Wait until everything the events sent so far can breach has reached ``breaches``.

        Sends, for every partition, a sentinel case started by ``start`` at ``started_at`` and
        never stopped, and reads ``breaches`` until each sentinel's breach is there. A worker
        handles a partition's events in order and fires its deadlines in deadline order, so
        when ``started_at`` is later than the start of every clock the test watches, any
        breach those clocks could cause has come out before the sentinels'. The sentinels
        stay open (breached); :attr:`barrier_cases` lists them.

        Args:
            breaches: a reader of this stack's ``breaches`` topic.
            start: a start event type of a clock of the policy.
            started_at: the sentinels' start time.
            case_kind: the sentinels' case kind.
            timeout: seconds to wait for the sentinels' breaches.
            attributes: the sentinels' event attributes (e.g. an ``assignee`` to alert).

        Returns:
            Every breach record read, without the sentinels'.
        """
        prefix = f"barrier{len(self.barrier_cases) // self.partitions + 1}"
        sentinels = case_per_partition(prefix, self.partitions)
        self.barrier_cases.extend(sentinels)
        self.send(
            *(
                canonical(
                    f"{case}-start", case, start, started_at, case_kind=case_kind, **attributes
                )
                for case in sentinels
            )
        )
        values = breaches.wait(
            lambda v: all(by_case(v, case) for case in sentinels),
            timeout,
            f"the barrier breaches of {', '.join(sentinels)}",
        )
        return [v for v in values if v.get("case_id") not in sentinels]

    def changelog_barrier(
        self, worker: WorkerProcess, case_ids: Iterable[str], timeout: float = 30.0
    ) -> None:
        """Wait until the cases table's changelog holds what ``worker``'s table holds now.

        Faust sends each table write to the changelog through the producer, which may hold it
        for a while (linger); a worker killed before it leaves loses that write. After this
        barrier a SIGKILL loses nothing of ``case_ids``.
        """
        from streams.app import CASES_TABLE
        from streams.case_row import decode_row

        wanted: dict[str, Any] = {}
        for case in case_ids:
            status, body = worker.get(f"/cases/{case}")
            assert status == 200, f"{case} is not in the worker's table: {body}"
            wanted[case] = body["state"]
        reader = TopicReader(self.bootstrap, f"{self.name}-{CASES_TABLE}-changelog")
        last: dict[str, Any] = {}

        def caught_up() -> bool:
            for record in reader.poll():
                row = decode_row(_unwrap(record.value))
                last[_unwrap(record.key)] = row.get("s") if row is not None else None
            return all(last.get(case) == state for case, state in wanted.items())

        try:
            wait_for(caught_up, timeout, f"the changelog to hold {len(wanted)} cases")
        finally:
            reader.close()

    def committed(self, topic: str) -> int:
        """Messages of ``topic`` the app's consumer group has committed, over all partitions.

        Read from the group's committed offsets (OffsetFetch), not from the topic's end
        offsets, which Tansu's ListOffsets can under-report.
        """
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            offsets = admin.list_group_offsets(self.name).get(self.name, {})
        finally:
            admin.close()
        return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic)

    def close(self) -> None:
        """Stop the workers (SIGTERM), close the readers and the producer."""
        for worker in self.workers:
            worker.stop(signal.SIGTERM, timeout=20)
        for reader in self.readers:
            reader.close()
        self._producer.close()
