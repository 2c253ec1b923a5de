"""Session fixtures for the stream integration tests: a fresh Tansu broker, and Redis.

The broker is started once per session on a free port: Tansu's memory engine never compacts
or deletes records (no retention), so its memory and a worker's recovery time grow with all the
history it holds; a fresh broker per session keeps both small.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import TansuBroker
from tests.conftest import redis_url as test_redis_url


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A Tansu broker for this test session."""
    log_dir: Path = tmp_path_factory.mktemp("tansu")
    with TansuBroker(log_path=log_dir / "tansu.log") as broker:
        yield broker


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the alerts side uses; skip when none answers."""
    redis = pytest.importorskip("redis")
    url = os.environ.get("SLAWATCH_REDIS_URL") or test_redis_url(0)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:  # any failure means "no usable Redis here"
        pytest.skip(f"no Redis at {url}: {exc}")
    return url
