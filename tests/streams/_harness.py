"""Helpers for the worker integration tests: a real worker subprocess, Kafka in and out.

Every test gets its own app id, web port and topic names (:class:`Stack`), so tests sharing
one broker never see each other's messages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.broker import free_port

VENV_BIN = Path(sys.executable).parent
ROLES = ("events", "due", "warnings", "breaches", "outcomes", "deadletter", "acks")


class WorkerFailed(AssertionError):
    """The worker process died or did not become ready; the message has its log tail."""


class WorkerProcess:
    """``slawatch worker`` as a child process with its own environment and log file."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.port = int(env["SLAWATCH_WEB_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "slawatch"), "worker"],
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, timeout: float = 3.0, *, local: bool = False) -> tuple[int, Any]:
        """GET ``path`` from the worker's web server: (status, parsed JSON or text).

        ``local``: ask as another worker would, so this worker answers from its own
        partitions only (no forwarding to the case's owner, no gathering).
        """
        from streams.forward import FORWARDED

        headers = {FORWARDED: "test"} if local else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                body = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read().decode(), exc.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until ``/ready`` answers 200; returns its body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise WorkerFailed(
                    f"worker exited with {self.proc and self.proc.returncode}:\n" + self.log_tail()
                )
            try:
                status, body = self.get("/ready", timeout=1.0)
                if status == 200:
                    return body  # type: ignore[no-any-return]
            except OSError:
                pass
            time.sleep(0.25)
        raise WorkerFailed(f"worker not ready after {timeout}s:\n" + self.log_tail())

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``/metrics``: (name, sorted labels) -> value."""
        status, text = self.get("/metrics")
        assert status == 200, text
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for (sample, sample_labels), value in self.metrics().items():
            if sample == name and set(labels.items()) <= set(sample_labels):
                total += value
        return total

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send ``sig`` and wait for the process to exit; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no goodbye to the group, no flush, no commit."""
        self.stop(signal.SIGKILL)


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25
) -> Any:
    """Poll ``condition`` until it returns a truthy value; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # a flaky poll is retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error {last_exc!r})")


class TopicReader:
    """Reads a whole topic from the beginning, without a consumer group."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        partitions = wait_for(
            lambda: self.consumer.partitions_for_topic(topic), 30, f"topic {topic}"
        )
        self.consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        self.consumer.seek_to_beginning()
        self.records: list[Any] = []

    def poll(self) -> list[Any]:
        batch = self.consumer.poll(timeout_ms=200)
        for records in batch.values():
            self.records.extend(records)
        return self.records

    def values(self) -> list[dict[str, Any]]:
        """Every value read so far, parsed as JSON."""
        self.poll()
        return [json.loads(r.value) for r in self.records]

    def wait(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float, what: str
    ) -> list[dict[str, Any]]:
        """Read until ``predicate(values)`` holds; returns the values."""
        return wait_for(lambda: predicate(self.values()) and self.values(), timeout, what)

    def close(self) -> None:
        self.consumer.close()


def canonical(
    event_id: str,
    case_id: str,
    event_type: str,
    occurred_at: datetime,
    case_kind: str = "complaint",
    **attributes: Any,
) -> dict[str, Any]:
    """A canonical lifecycle event as a dict."""
    return {
        "event_id": event_id,
        "case_id": case_id,
        "case_kind": case_kind,
        "event_type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "attributes": attributes,
    }


@dataclass
class Stack:
    """One test's slice of the broker: topic names, config files, workers it started."""

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

    def env(self) -> dict[str, str]:
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
        reader = TopicReader(self.bootstrap, self.topics[role])
        self.readers.append(reader)
        return reader

    def close(self) -> None:
        for worker in self.workers:
            worker.stop(signal.SIGTERM, timeout=20)
        for reader in self.readers:
            reader.close()
        self._producer.close()


def by_case(values: Iterable[dict[str, Any]], case_id: str) -> list[dict[str, Any]]:
    """Records of one case."""
    return [v for v in values if v.get("case_id") == case_id]


def one_clock_policy(version: str, limit: str = "1h", team: str | None = None) -> str:
    """A policy of one complaint clock, ``first_response``: registered to acknowledged."""
    owner = f"    team: {team}\n" if team else ""
    return (
        f'version: "{version}"\nclocks:\n  - id: first_response\n'
        "    name: {zh-CN: 首次回复, en: First response}\n    case_kind: complaint\n"
        "    start: [complaint_registered]\n    stop: [complaint_acknowledged]\n"
        f"    limit: {limit}\n{owner}"
    )
