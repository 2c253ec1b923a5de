"""Exactly one notification per key: duplicate events, crashed and racing dispatchers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from alerts.notification import Notification
from tests.alerts._helpers import Harness
from tests.alerts.conftest import breach, make_spec, run_with_redis

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_available")]


class HangingSink:
    """A channel that never answers: the dispatcher is killed while sending to it."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def send(self, n: Notification, address: str | None, now: Any) -> None:
        self.started.set()
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


class TestDuplicates:
    def test_duplicate_breach_events_give_one_notification(self) -> None:
        """The same breach delivered twice sends one alert and counts one duplicate."""

        async def scenario(redis: Any, prefix: str) -> tuple[list[str], float, str]:
            h = Harness(make_spec(), redis, prefix)
            await h.service.on_breach(breach())
            await h.service.on_breach(breach())
            await h.dispatcher.run_once()
            await h.dispatcher.run_once()
            state = await h.store.state("C-1/complaint_first_response/1/L1/agent-1/console")
            dup = h.metric("slawatch_alerts_deduplicated_total", channel="console", level="1")
            handed = h.metric("slawatch_alerts_enqueued_total", channel="console", level="1")
            return h.lines(), dup, handed, state["state"]

        lines, duplicates, handed, state = run_with_redis(scenario)
        assert 1 == len(lines)
        assert "[alert 1 -> agent-1] BREACH case C-1" in lines[0]
        assert (1.0, 1.0, "sent") == (duplicates, handed, state)

    def test_racing_dispatchers_send_once(self) -> None:
        """Two dispatchers working the same outbox at once send each alert once."""

        async def scenario(redis: Any, prefix: str) -> list[str]:
            one = Harness(make_spec(), redis, prefix)
            two = Harness(
                make_spec(), redis, prefix, sinks={"console": one.runtime.sinks["console"]}
            )
            for case in range(10):
                await one.service.on_breach(breach(case_id=f"C-{case}"))
            await asyncio.gather(one.dispatcher.run_once(), two.dispatcher.run_once())
            await asyncio.gather(one.dispatcher.run_once(), two.dispatcher.run_once())
            return one.lines()

        lines = run_with_redis(scenario)
        assert 10 == len(lines)
        assert 10 == len(set(lines))


class TestCrash:
    def test_killed_between_claimed_and_sent_sends_once_after_restart(self) -> None:
        """A dispatcher killed mid-send leaves the alert pending; after the lease it goes once."""

        async def scenario(redis: Any, prefix: str) -> tuple[int, int, list[str], str]:
            spec = make_spec()  # lease 1s
            hanging = HangingSink()
            crashed = Harness(spec, redis, prefix, sinks={"console": hanging})
            await crashed.service.on_breach(breach())
            task = asyncio.create_task(crashed.dispatcher.run_once())
            await hanging.started.wait()
            task.cancel()  # the worker dies: its claim stays until the lease runs out
            with pytest.raises(asyncio.CancelledError):
                await task
            restarted = Harness(spec, redis, prefix)
            during_lease = await restarted.dispatcher.run_once()
            for _ in range(50):  # the lease is 1 s
                await asyncio.sleep(0.1)
                if await restarted.dispatcher.run_once():
                    break
            again = await restarted.dispatcher.run_once()
            state = await restarted.store.state("C-1/complaint_first_response/1/L1/agent-1/console")
            return during_lease, again, restarted.lines(), state["state"]

        during_lease, again, lines, state = run_with_redis(scenario)
        assert (0, 0) == (during_lease, again)
        assert 1 == len(lines)
        assert "sent" == state
