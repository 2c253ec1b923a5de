"""Session-wide set-up: the real services the tests use, each started once per session.

* Redis: the machine's Redis on 127.0.0.1:6379 when it answers, else a throw-away
  ``redis-server`` on a free loopback port. Either way its ``host:port`` is in
  ``SLAWATCH_TEST_REDIS`` before any test module is imported (:func:`slawatch.testing.redis_url`
  builds URLs from it). ``own_redis`` gives a test a durable Redis of its own to stop and start.
* Tansu: a fresh broker per session on a free port (fixture ``tansu``). Tansu's memory engine
  never compacts or deletes records, so its memory and a worker's recovery time grow with all
  the history it holds; a fresh broker per session keeps both small.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from slawatch.testing import REDIS_ENV, RedisServer, redis_answers
from slawatch.testing import redis_url as test_redis_url
from streams.broker import TansuBroker

_DEFAULT = "127.0.0.1:6379"
_server: RedisServer | None = None


def _start_redis() -> str:
    global _server
    try:
        _server = RedisServer(durable=False).start()
    except RuntimeError as exc:
        raise pytest.UsageError(f"no Redis answers at {_DEFAULT}, and {exc}") from exc
    return _server.host_port


def pytest_configure(config: pytest.Config) -> None:
    if REDIS_ENV in os.environ:
        return
    os.environ[REDIS_ENV] = _DEFAULT if redis_answers(_DEFAULT) else _start_redis()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None:
        _server.stop()


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A Tansu broker for this test session."""
    log_dir: Path = tmp_path_factory.mktemp("tansu")
    with TansuBroker(log_path=log_dir / "tansu.log") as broker:
        yield broker


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the worker's alerts use (``$SLAWATCH_REDIS_URL``, else the test Redis, db 0).

    It must answer: a test that needs Redis fails, naming it, rather than being skipped.
    """
    import redis

    url = os.environ.get("SLAWATCH_REDIS_URL") or test_redis_url(0)
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise AssertionError(
            f"no Redis answers at {url}: {exc}; run `make tools` (installs redis-server) or "
            "set SLAWATCH_REDIS_URL"
        ) from exc
    finally:
        client.close()
    return url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A durable Redis of this test's own, stopped afterwards."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
