"""Exactly one notification per (case, clock, cycle, stage, recipient, channel), kept in Redis.

Three kinds of key, under a prefix (``slawatch`` by default):

* ``{p}:alert-state:{key}`` — the delivery state (a hash): ``pending``, ``sent``, ``failed`` with
  a reason, or ``digested``; and the notification itself. Created once, atomically, when the
  notification is first enqueued: a breach event delivered twice enqueues once.
* ``{p}:outbox`` — a sorted set of pending keys by the time they are due (first try or retry).
  It is the durable outbox: a dispatcher that dies, or a Redis that was down, loses nothing.
* ``{p}:alert:{key}`` — the claim, ``SET NX PX lease``: one dispatcher sends at a time. A claim
  whose holder died expires after the lease; the key, still pending and due, is claimed again.

Exactly once, and its one window: claim → send → mark sent. A dispatcher killed after claiming
and before the channel accepted the alert leaves it pending: it is sent once after the lease. A
dispatcher killed after the channel accepted but before "sent" was written sends it again after
the lease (at least once); webhooks carry the key in ``Idempotency-Key`` so a receiver can drop
the repeat. Two workers racing for one key: only the claim holder sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from alerts.notification import Notification

__all__ = ["AlertStore", "Claimed", "DeliveryState", "Keys"]

DeliveryState = Literal["pending", "sent", "failed", "digested"]

# KEYS: state, outbox, alerted (who heard of the breach: for its "resolved" notice).
# ARGV[8]: the alerted member ("recipient\tchannel"), or "" when the kind is not remembered.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'pending', 'notification', ARGV[2], 'attempts', '0',
           'created_at', ARGV[4], 'channel', ARGV[5], 'level', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])
if ARGV[8] ~= '' then
  redis.call('SADD', KEYS[3], ARGV[8])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
return 1
"""

_RETRY = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'state', 'pending', 'attempts', ARGV[3], 'reason', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
redis.call('DEL', KEYS[1])
return 1
"""

_CLAIM = """
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
if redis.call('SET', KEYS[1], ARGV[3], 'NX', 'PX', ARGV[4]) then return 1 end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Keys:
    """Redis key names under one prefix (tests use their own prefix)."""

    prefix: str = "slawatch"

    def claim(self, key: str) -> str:
        return f"{self.prefix}:alert:{key}"

    def state(self, key: str) -> str:
        return f"{self.prefix}:alert-state:{key}"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}:outbox"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}:alerts:deadletter"

    def alerted(self, breach_id: str) -> str:
        return f"{self.prefix}:alerted:{breach_id}"

    def first(self, breach_id: str) -> str:
        return f"{self.prefix}:first-notified:{breach_id}"


@dataclass(frozen=True)
class Claimed:
    """A notification this dispatcher holds the claim on."""

    key: str
    token: str
    notification: Notification
    attempts: int


def _ms(span: timedelta) -> int:
    return max(1, int(span.total_seconds() * 1000))


class AlertStore:
    """The outbox, claims and delivery states of notifications.

    Args:
        redis: a ``redis.asyncio.Redis`` made with ``decode_responses=True``. Typed ``Any``
            because redis-py types its commands for the sync and async clients at once.
        keys: key names.
        ttl: how long a notification's state is remembered, i.e. the dedupe window.
    """

    def __init__(
        self, redis: Any, keys: Keys | None = None, ttl: timedelta = timedelta(days=7)
    ) -> None:
        self.redis = redis
        self.keys = keys or Keys()
        self.ttl = ttl
        self._enqueue = redis.register_script(_ENQUEUE)
        self._retry = redis.register_script(_RETRY)
        self._release = redis.register_script(_RELEASE)
        self._claim = redis.register_script(_CLAIM)

    async def enqueue(self, n: Notification, due: datetime) -> bool:
        """Add ``n`` to the outbox unless its key was seen before; True when it was new.

        One round trip: the state, the outbox entry and (for warnings, breaches and
        escalations) who was alerted are written together, so a crash cannot leave a sent
        alert whose "resolved" notice is never owed.
        """
        keys, args = self._enqueue_call(n, due)
        return bool(await self._enqueue(keys=keys, args=args))

    async def enqueue_many(
        self, notifications: Sequence[Notification], due: datetime
    ) -> list[bool]:
        """:meth:`enqueue` for each of ``notifications``, in order, in one round trip.

        Each is still its own atomic script: a batch cut short by a crash leaves every
        notification either enqueued or not, and the batch handled again dedupes the first.
        """
        if not notifications:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for n in notifications:
                keys, args = self._enqueue_call(n, due)
                await self._enqueue(keys=keys, args=args, client=pipe)
            created = await pipe.execute()
        return [bool(c) for c in created]

    def _enqueue_call(self, n: Notification, due: datetime) -> tuple[list[str], list[Any]]:
        """The keys and arguments of the enqueue script for ``n``."""
        remembered = n.alert.kind in ("warning", "breach", "escalation")
        keys = [self.keys.state(n.key), self.keys.outbox, self.keys.alerted(n.alert.breach_id)]
        args = [
            n.key,
            n.model_dump_json(),
            _ms(self.ttl),
            n.created_at.isoformat(),
            n.channel,
            n.alert.level,
            due.timestamp(),
            f"{n.recipient}\t{n.channel}" if remembered else "",
        ]
        return keys, args

    async def alerted(self, breach_id: str) -> list[tuple[str, str]]:
        """Every (recipient, channel) alerted about this clock cycle, sorted."""
        members = await self.redis.smembers(self.keys.alerted(breach_id))
        pairs = [tuple(str(m).split("\t", 1)) for m in members]
        return sorted((p[0], p[1]) for p in pairs if len(p) == 2)

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Keys due at ``now``, oldest first."""
        keys = await self.redis.zrangebyscore(self.keys.outbox, "-inf", now.timestamp(), 0, limit)
        return [str(k) for k in keys]

    async def pending_count(self) -> int:
        """How many notifications wait in the outbox."""
        return int(await self.redis.zcard(self.keys.outbox))

    async def claim(self, key: str, now: datetime, lease: timedelta) -> Claimed | None:
        """Take ``key`` for sending if it is due at ``now`` and nobody holds it; else None."""
        token = uuid.uuid4().hex
        taken = await self._claim(
            keys=[self.keys.claim(key), self.keys.outbox],
            args=[key, now.timestamp(), token, _ms(lease)],
        )
        if not taken:
            return None
        fields = await self.redis.hgetall(self.keys.state(key))
        if fields.get("state") != "pending" or "notification" not in fields:
            await self.redis.zrem(self.keys.outbox, key)
            await self._release(keys=[self.keys.claim(key)], args=[token])
            return None
        n = Notification.model_validate_json(fields["notification"])
        return Claimed(key, token, n, int(fields.get("attempts", 0)))

    async def state(self, key: str) -> dict[str, str]:
        """The delivery state hash of ``key`` (empty if unknown)."""
        return {str(k): str(v) for k, v in (await self.redis.hgetall(self.keys.state(key))).items()}

    async def mark_sent(self, c: Claimed, at: datetime) -> bool:
        """Record that the channel accepted ``c``.

        Returns:
            True if ``c`` is the first notification of its breach to be accepted (for latency).
        """
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.state(c.key),
                mapping={"state": "sent", "sent_at": at.isoformat(), "attempts": c.attempts + 1},
            )
            pipe.hdel(self.keys.state(c.key), "reason")
            pipe.zrem(self.keys.outbox, c.key)
            if c.notification.alert.kind == "breach":
                first = self.keys.first(c.notification.alert.breach_id)
                pipe.set(first, c.key, nx=True, px=_ms(self.ttl))
            result = await pipe.execute()
        return c.notification.alert.kind == "breach" and bool(result[-1])

    async def retry_later(self, c: Claimed, due: datetime, reason: str) -> bool:
        """Put ``c`` back in the outbox for ``due`` after a failed try.

        Returns:
            False if this dispatcher's claim was lost (another one owns the key now).
        """
        done = await self._retry(
            keys=[self.keys.claim(c.key), self.keys.state(c.key), self.keys.outbox],
            args=[c.token, c.key, c.attempts + 1, reason, due.timestamp()],
        )
        return bool(done)

    async def mark_failed(
        self, c: Claimed, reason: str, at: datetime, maxlen: int = 10_000
    ) -> None:
        """Give up on ``c``: state failed with ``reason`` and a record on the dead-letter stream."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.state(c.key),
                mapping={
                    "state": "failed",
                    "reason": reason,
                    "failed_at": at.isoformat(),
                    "attempts": c.attempts + 1,
                },
            )
            pipe.zrem(self.keys.outbox, c.key)
            pipe.xadd(
                self.keys.deadletter,
                {
                    "key": c.key,
                    "channel": c.notification.channel,
                    "recipient": c.notification.recipient,
                    "level": c.notification.alert.level,
                    "reason": reason,
                    "attempts": str(c.attempts + 1),
                    "at": at.isoformat(),
                    "notification": c.notification.model_dump_json(),
                },
                maxlen=maxlen,
                approximate=True,
            )
            await pipe.execute()

    async def mark_digested(self, c: Claimed, digest: str) -> None:
        """``c`` was folded into the storm digest ``digest`` instead of being sent."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.state(c.key), mapping={"state": "digested", "digest": digest})
            pipe.zrem(self.keys.outbox, c.key)
            await pipe.execute()
