"""Faults: Redis down means alerts wait and are delivered when it is back; nothing is lost."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from alerts.runtime import until_redis_answers
from tests.alerts._helpers import Harness, free_port
from tests.alerts.conftest import breach, make_spec, run_with_redis

pytestmark = pytest.mark.integration


class OwnRedis:
    """A redis-server of this test's own (append-only file), to stop and start at will."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


class TestRedisDown:
    def test_alerts_wait_for_redis_and_are_delivered_once_when_it_is_back(
        self, own_redis: OwnRedis
    ) -> None:
        """Redis stops with one alert queued and another arriving: both go out once it is back."""

        async def scenario(client: Any, prefix: str) -> tuple[list[str], list[str]]:
            h = Harness(make_spec(escalation={}), client, prefix)
            await h.service.on_breach(breach(case_id="QUEUED"))
            own_redis.stop()
            stop = asyncio.Event()
            loop_task = asyncio.create_task(h.runtime.run(stop))
            arriving = asyncio.create_task(
                until_redis_answers(lambda: h.service.on_breach(breach(case_id="ARRIVING")))
            )
            await asyncio.sleep(1.0)
            while_down = h.lines()
            await asyncio.to_thread(own_redis.start)
            for _ in range(300):
                if len(h.lines()) >= 2:
                    break
                await asyncio.sleep(0.1)
            await arriving
            await asyncio.sleep(0.5)  # one more round: nothing else may go out
            stop.set()
            await loop_task
            return while_down, h.lines()

        while_down, lines = run_with_redis(scenario, own_redis.url)
        assert [] == while_down
        assert ["ARRIVING", "QUEUED"] == sorted(line.split("case ")[1].split()[0] for line in lines)
