"""Storm control: past a team's alerts-per-minute budget, alerts are held and sent as one digest.

Counters live in Redis, per team and per minute, so every worker spends the same budget. Held
alerts wait in a list for their minute; when the minute is over, one worker claims the digest
and sends it to the team's digest recipients.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from alerts.notification import Alert

__all__ = ["StormGuard"]


def _minute(now: datetime) -> int:
    return int(now.timestamp() // 60)


class StormGuard:
    """Counts alerts per team and minute, and keeps the ones over budget for a digest.

    Args:
        redis: ``redis.asyncio.Redis`` with ``decode_responses=True``.
        prefix: key prefix.
        budget: the per-minute budget of a team.
    """

    def __init__(self, redis: Any, prefix: str, budget: Callable[[str], int]) -> None:
        self.redis = redis
        self.prefix = prefix
        self.budget = budget

    def _counter(self, team: str, minute: int) -> str:
        return f"{self.prefix}:storm:{team}:{minute}"

    def _held(self, digest_id: str) -> str:
        return f"{self.prefix}:digest:{digest_id}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}:digests"

    async def admit(self, team: str, now: datetime) -> bool:
        """Spend one alert of ``team``'s budget for this minute; False when it is spent."""
        key = self._counter(team, _minute(now))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 180)
            count, _ = await pipe.execute()
        return int(count) <= self.budget(team)

    async def hold(self, team: str, now: datetime, alert: Alert) -> str:
        """Keep ``alert`` for the team's digest of this minute; returns the digest id."""
        minute = _minute(now)
        digest_id = f"{team}/{minute}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._held(digest_id), alert.model_dump_json())
            pipe.expire(self._held(digest_id), 86400)
            pipe.zadd(self._index, {digest_id: (minute + 1) * 60})
            await pipe.execute()
        return digest_id

    async def due(self, now: datetime) -> list[str]:
        """Digests whose minute is over."""
        ids = await self.redis.zrangebyscore(self._index, "-inf", now.timestamp())
        return [str(i) for i in ids]

    async def take(self, digest_id: str, lease: timedelta) -> list[Alert] | None:
        """Claim a digest and read its alerts (each alert once); None if another worker has it."""
        claim = f"{self.prefix}:digest-claim:{digest_id}"
        if not await self.redis.set(claim, "1", nx=True, px=int(lease.total_seconds() * 1000)):
            return None
        raw = await self.redis.lrange(self._held(digest_id), 0, -1)
        seen: set[tuple[str, str]] = set()
        alerts = []
        for item in raw:
            alert = Alert.model_validate_json(item)
            if (alert.breach_id, alert.stage) not in seen:
                seen.add((alert.breach_id, alert.stage))
                alerts.append(alert)
        return alerts

    async def done(self, digest_id: str) -> None:
        """The digest is in the outbox: forget it."""
        await self.redis.zrem(self._index, digest_id)
