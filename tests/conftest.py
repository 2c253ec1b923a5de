"""Session-wide set-up: a real Redis for the tests that need one.

The machine's Redis on 127.0.0.1:6379 is used when it answers; otherwise a throw-away
``redis-server`` is started on a free loopback port for this test session. Either way its
``host:port`` is in ``SLAWATCH_TEST_REDIS`` before any test module is imported, and
:func:`redis_url` builds URLs from it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

_ENV = "SLAWATCH_TEST_REDIS"
_DEFAULT = "127.0.0.1:6379"
_server: subprocess.Popen[bytes] | None = None


def redis_url(db: int) -> str:
    """A URL of the test Redis, database ``db`` (tests use their own numbers)."""
    return f"redis://{os.environ.get(_ENV, _DEFAULT)}/{db}"


def _answers(host_port: str) -> bool:
    host, port = host_port.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start_redis() -> str:
    global _server
    binary = shutil.which("redis-server")
    if binary is None:
        raise pytest.UsageError(
            f"no Redis answers at {_DEFAULT} and redis-server is not installed; "
            "run `make tools` (Debian package redis-server) or start Redis"
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="slawatch-test-redis-")
    _server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    host_port = f"127.0.0.1:{port}"
    for _ in range(100):
        if _answers(host_port):
            return host_port
        time.sleep(0.05)
    raise pytest.UsageError(f"the test redis-server on port {port} did not start")


def pytest_configure(config: pytest.Config) -> None:
    if _ENV in os.environ:
        return
    os.environ[_ENV] = _DEFAULT if _answers(_DEFAULT) else _start_redis()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None:
        _server.terminate()
        _server.wait(timeout=10)
