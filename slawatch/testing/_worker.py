"""``slawatch worker`` as a child process: start, readiness, web endpoints, metrics, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["VENV_BIN", "WorkerFailed", "WorkerProcess"]

#: The folder of this interpreter's scripts, where ``slawatch`` is installed.
VENV_BIN = Path(sys.executable).parent

Sample = tuple[str, tuple[tuple[str, str], ...]]


class WorkerFailed(AssertionError):
    """The worker process died or did not become ready; the message has its log tail."""


class WorkerProcess:
    """``slawatch worker`` as a child process with its own environment and log file.

    Args:
        env: variables added to this process's environment (``SLAWATCH_*``); must hold
            ``SLAWATCH_WEB_PORT``.
        log_path: the worker's stdout and stderr go here (appended).
        cwd: the worker's working directory.
    """

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.port = int(env["SLAWATCH_WEB_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Start the process (in a session of its own); does not wait for readiness."""
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
        """The last ``lines`` lines of the worker's log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, timeout: float = 3.0, *, local: bool = False) -> tuple[int, Any]:
        """GET ``path`` from the worker's web server: (status, parsed JSON or text).

        Args:
            path: the path and query, e.g. ``/cases/C-1``.
            timeout: seconds for the whole request.
            local: ask as another worker would, so this worker answers from its own
                partitions only (no forwarding to the case's owner, no gathering).
        """
        from streams.forward import FORWARDED

        headers = {FORWARDED: "test"} if local else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                body = resp.read().decode()
                status = int(resp.status)
        except urllib.error.HTTPError as exc:
            body, status = exc.read().decode(), exc.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until ``/ready`` answers 200; returns its body.

        Raises:
            WorkerFailed: the process exited, or was not ready within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise WorkerFailed(
                    f"worker exited with {self.proc and self.proc.returncode}:\n" + self.log_tail()
                )
            try:
                status, body = self.get("/ready", timeout=1.0)
                if status == 200 and isinstance(body, dict):
                    return body
            except OSError:
                pass
            time.sleep(0.25)
        raise WorkerFailed(f"worker not ready after {timeout}s:\n" + self.log_tail())

    def metrics(self) -> dict[Sample, float]:
        """Every sample of ``/metrics``: (name, sorted labels) -> value."""
        status, text = self.get("/metrics")
        assert status == 200, text
        out: dict[Sample, float] = {}
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
