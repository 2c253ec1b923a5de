"""Durable escalation timers in Redis: a sorted set of breaches by the time their next level is due.

Why Redis and not a Faust table: the alert path already depends on Redis for dedupe; a sorted
set is shared by every worker (no partition ownership, no standby recovery before the first
escalation can fire), survives restarts, and ``ZRANGEBYSCORE`` answers "what is due" directly.
A restart does not forget a pending escalation (it stays in the set), and a level does not fire
twice: a worker claims (breach, level) with ``SET NX PX`` before firing, the notifications it
enqueues are deduplicated by key, and the level only moves on if it is still the one fired.

Keys: ``{p}:escalations`` (breach id → due), ``{p}:esc:{breach_id}`` (a hash: the breach, the
next level, and ``acked_by`` / ``stopped`` once it ends). An ack or a stop that arrives before
the breach leaves the hash behind, so the late breach does not start climbing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sla.records import BreachRecord

__all__ = ["EscalationTimers", "Pending"]

_SCHEDULE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'breach', ARGV[2], 'next_level', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
"""

_END = """
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

_ADVANCE = """
local h = KEYS[1]
if redis.call('HGET', h, 'next_level') ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', h, 'acked_by') == 1 or redis.call('HEXISTS', h, 'stopped') == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if ARGV[3] == '' then
  redis.call('HSET', h, 'next_level', 'done')
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', h, 'next_level', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return 1
"""


_CLAIM = """
local f = redis.call('HMGET', KEYS[1], 'breach', 'next_level', 'acked_by', 'stopped')
if not f[1] or f[3] or f[4] or not tonumber(f[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return false end
if not redis.call('SET', ARGV[3] .. f[2], '1', 'NX', 'PX', ARGV[4]) then return false end
return {f[2], f[1]}
"""


@dataclass(frozen=True)
class Pending:
    """A claimed escalation: fire ``level`` for ``breach``."""

    breach: BreachRecord
    level: int


class EscalationTimers:
    """Pending escalations, shared by all workers and durable across restarts."""

    def __init__(
        self, redis: Any, prefix: str = "slawatch", ttl: timedelta = timedelta(days=7)
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = int(ttl.total_seconds() * 1000)
        self._schedule = redis.register_script(_SCHEDULE)
        self._end = redis.register_script(_END)
        self._advance = redis.register_script(_ADVANCE)
        self._claim = redis.register_script(_CLAIM)

    @property
    def index(self) -> str:
        return f"{self.prefix}:escalations"

    def entry(self, breach_id: str) -> str:
        return f"{self.prefix}:esc:{breach_id}"

    async def schedule(self, breach: BreachRecord, level: int, due: datetime) -> bool:
        """Start the climb: ``level`` is due at ``due``; False if known, acked or stopped."""
        return (await self.schedule_many([(breach, level, due)]))[0]

    async def schedule_many(
        self, climbs: Sequence[tuple[BreachRecord, int, datetime]]
    ) -> list[bool]:
        """:meth:`schedule` for each (breach, level, due), in order, in one round trip."""
        if not climbs:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for breach, level, due in climbs:
                await self._schedule(
                    keys=[self.entry(breach.breach_id), self.index],
                    args=[
                        breach.breach_id,
                        breach.model_dump_json(),
                        str(level),
                        due.timestamp(),
                        self.ttl_ms,
                    ],
                    client=pipe,
                )
            created = await pipe.execute()
        return [bool(c) for c in created]

    async def stopped_as(self, breach_id: str) -> str | None:
        """How the breach's clock ended (an outcome, or ``retracted``), if that is known yet."""
        return (await self.stopped_as_many([breach_id]))[0]

    async def stopped_as_many(self, breach_ids: Sequence[str]) -> list[str | None]:
        """:meth:`stopped_as` for each breach id, in one round trip."""
        if not breach_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for breach_id in breach_ids:
                pipe.hget(self.entry(breach_id), "stopped")
            values = await pipe.execute()
        return [
            None if v is None else v.decode() if isinstance(v, bytes) else str(v) for v in values
        ]

    async def unacknowledged(self, breach_id: str) -> BreachRecord | None:
        """The breach, if it is known here and nobody has acknowledged it yet."""
        breach, acked_by = await self.redis.hmget(self.entry(breach_id), "breach", "acked_by")
        if breach is None or acked_by is not None:
            return None
        return BreachRecord.model_validate_json(breach)

    async def ack(self, breach_id: str, by: str) -> bool:
        """End the climb because ``by`` acknowledged; True if an escalation was pending."""
        return bool(
            await self._end(
                keys=[self.entry(breach_id), self.index],
                args=[breach_id, "acked_by", by, self.ttl_ms],
            )
        )

    async def stop(self, breach_id: str, why: str) -> bool:
        """End the climb because the clock stopped or the breach was retracted."""
        return (await self.stop_many([(breach_id, why)]))[0]

    async def stop_many(self, stops: Sequence[tuple[str, str]]) -> list[bool]:
        """:meth:`stop` for each (breach id, why), in order, in one round trip."""
        if not stops:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for breach_id, why in stops:
                await self._end(
                    keys=[self.entry(breach_id), self.index],
                    args=[breach_id, "stopped", why, self.ttl_ms],
                    client=pipe,
                )
            ended = await pipe.execute()
        return [bool(e) for e in ended]

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Breach ids whose next level is due."""
        ids = await self.redis.zrangebyscore(self.index, "-inf", now.timestamp(), 0, limit)
        return [str(i) for i in ids]

    async def claim(self, breach_id: str, now: datetime, lease: timedelta) -> Pending | None:
        """Take the level of ``breach_id`` due at ``now``; None if ended, not due, or taken.

        One atomic step: the level read, its due time checked and the (breach, level) claim
        set together, so a worker that saw the breach due a moment ago cannot fire a level
        another worker has just scheduled for later.
        """
        got = await self._claim(
            keys=[self.entry(breach_id), self.index],
            args=[
                breach_id,
                now.timestamp(),
                f"{self.prefix}:esc-claim:{breach_id}/",
                int(lease.total_seconds() * 1000),
            ],
        )
        if not got:
            return None
        level, record = got
        return Pending(BreachRecord.model_validate_json(record), int(level))

    async def advance(
        self, breach_id: str, fired: int, following: tuple[int, datetime] | None
    ) -> bool:
        """After ``fired`` was sent: schedule the following level, or finish the climb."""
        level, due = following if following else ("", 0.0)
        when = due.timestamp() if isinstance(due, datetime) else due
        done = await self._advance(
            keys=[self.entry(breach_id), self.index],
            args=[breach_id, str(fired), str(level), when],
        )
        return bool(done)

    async def state(self, breach_id: str) -> dict[str, str]:
        """The timer's hash (for tests and inspection)."""
        return {
            str(k): str(v) for k, v in (await self.redis.hgetall(self.entry(breach_id))).items()
        }

    async def pending_count(self) -> int:
        """How many breaches wait for their next level."""
        return int(await self.redis.zcard(self.index))
