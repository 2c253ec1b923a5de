"""A real ``redis-server`` for tests: started on a free port, stopped and started at will."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from streams.broker import free_port

__all__ = ["REDIS_ENV", "RedisServer", "redis_answers", "redis_url"]

#: ``host:port`` of the Redis the tests share; ``tests/conftest.py`` sets it for a session.
REDIS_ENV = "SLAWATCH_TEST_REDIS"
_DEFAULT = "127.0.0.1:6379"


def redis_url(db: int) -> str:
    """A URL of the shared test Redis (``$SLAWATCH_TEST_REDIS``), database ``db``.

    Tests and benchmarks use their own database numbers so they never read each other's keys.
    """
    return f"redis://{os.environ.get(REDIS_ENV, _DEFAULT)}/{db}"


def redis_answers(host_port: str) -> bool:
    """Whether a Redis answers PING at ``host:port``."""
    host, port = host_port.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` on a free loopback port, to stop and start at will.

    With ``durable=True`` it keeps an append-only file in ``directory``, so data survives a
    stop and start (a Redis "going away" for a while, not losing its data).
    """

    def __init__(self, directory: Path | None = None, *, durable: bool = True) -> None:
        self.port = free_port()
        self.directory = directory or Path(tempfile.mkdtemp(prefix="slawatch-test-redis-"))
        self.durable = durable
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{self.host_port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING.

        Raises:
            RuntimeError: ``redis-server`` is not installed, or did not answer in time.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; run `make tools`")
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else [
            "--appendonly", "no"
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *persistence, "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if redis_answers(self.host_port):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout}s")

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait for it to exit."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
