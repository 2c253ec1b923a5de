"""Session-wide set-up: a real Redis for the tests that need one.

The machine's Redis on 127.0.0.1:6379 is used when it answers; otherwise a throw-away
``redis-server`` is started on a free loopback port for this test session. Either way its
``host:port`` is in ``SLAWATCH_TEST_REDIS`` before any test module is imported, and
:func:`redis_url` builds URLs from it.
"""

from __future__ import annotations

import os

import pytest

from tests._services import RedisServer, own_redis, redis_answers

__all__ = ["own_redis", "redis_url"]

_ENV = "SLAWATCH_TEST_REDIS"
_DEFAULT = "127.0.0.1:6379"
_server: RedisServer | None = None


def redis_url(db: int) -> str:
    """A URL of the test Redis, database ``db`` (tests use their own numbers)."""
    return f"redis://{os.environ.get(_ENV, _DEFAULT)}/{db}"


def _start_redis() -> str:
    global _server
    try:
        _server = RedisServer(durable=False).start()
    except RuntimeError as exc:
        raise pytest.UsageError(f"no Redis answers at {_DEFAULT}, and {exc}") from exc
    return _server.host_port


def pytest_configure(config: pytest.Config) -> None:
    if _ENV in os.environ:
        return
    os.environ[_ENV] = _DEFAULT if redis_answers(_DEFAULT) else _start_redis()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None:
        _server.stop()
