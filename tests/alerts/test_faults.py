"""Faults: Redis down means alerts wait and are delivered when it is back; nothing is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import RedisError

from alerts.runtime import until_redis_answers
from slawatch.testing import RedisServer
from tests.alerts._helpers import Harness
from tests.alerts.conftest import breach, make_spec, run_with_redis

pytestmark = pytest.mark.integration


class TestRedisDown:
    def test_alerts_wait_for_redis_and_are_delivered_once_when_it_is_back(
        self, own_redis: RedisServer
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
            with pytest.raises((RedisError, OSError)):
                await h.runtime.tick()  # a round while Redis is down: it fails, sends nothing
            while_down = h.lines()
            await asyncio.to_thread(own_redis.start)
            for _ in range(300):
                if len(h.lines()) >= 2:
                    break
                await asyncio.sleep(0.1)
            await arriving
            stop.set()
            await loop_task
            assert 0 == await h.runtime.tick()  # one more round: nothing else goes out
            return while_down, h.lines()

        while_down, lines = run_with_redis(scenario, own_redis.url)
        assert [] == while_down
        assert ["ARRIVING", "QUEUED"] == sorted(line.split("case ")[1].split()[0] for line in lines)
