"""Never commit a message no agent processed: the fix for records lost around a rebalance.

Faust's stream *skips* a message it pulls while flow control is suspended (a rebalance has
started) or that was fetched in an earlier consumer generation, and then **acks** it, "so the
lag does not grow" (``faust/streams.py``, ``_py_aiter``). An acked offset is committed by the
next periodic commit. If that commit lands before the partitions are revoked, or while they
are kept across the rebalance, the group's committed offset moves past records that no agent
handled; after the rebalance the consumer seeks to that offset and the records are never
read again. No error, no log line: a start event, a timer command or a breach record is gone.

That is how a breach left ``sla.breaches`` without its level-1 notification: the alert agent
of the worker owning the partition pulled the breach record while a rebalance (a worker
killed, added or stopped) suspended the flow; the record was skipped and acked, the offset
committed, and neither that worker nor the next owner ever enqueued the notification. The
clock agents lose events the same way (a case never started: a breach missing altogether).

:func:`install` wraps ``Consumer.ack`` so that such a message is marked done for Faust's own
bookkeeping (nothing waits on it during the revoke) but its offset is **not** recorded as
safe to commit. The committed offset stays before it, and the partition's next owner (this
worker or another) reads it again. A message that was processed but acked during a
rebalance is read again too: at-least-once, which every agent handles (duplicates are
recognised by event id, breach id and notification key).
"""

from __future__ import annotations

from typing import Any

__all__ = ["first_uncommitted", "head_is_missing", "head_offset", "install", "is_skipped"]

_MARK = "_slawatch_skipped_guard"

#: Consumer attribute: per partition, the lowest offset skipped and not yet committed past.
_SKIPPED = "_slawatch_skipped"


def is_skipped(app: Any, message: Any) -> bool:
    """True when Faust's stream would skip ``message`` rather than hand it to an agent."""
    generation = getattr(message, "generation_id", None)
    if generation is not None and generation != app.consumer_generation_id:
        return True
    return not app.flow_control.is_active()


def first_uncommitted(consumer: Any, tp: Any) -> int | None:
    """The lowest offset of ``tp`` Faust may count as done: acked, or a gap it saw in the log.

    None when nothing is acked.
    """
    acked = consumer._acked.get(tp)
    if not acked:
        return None
    head = int(min(acked))
    gaps = consumer._gap.get(tp)
    if gaps:
        head = min(head, min(int(interval.begin) for interval in gaps))
    return head


def head_offset(consumer: Any, tp: Any) -> int | None:
    """The offset the partition's next commit must not pass before its message is done.

    The committed offset; where the group never committed (Faust keeps None, also for a
    committed 0), the lowest offset skipped since, if any (:func:`install` notes it).
    """
    committed: int | None = consumer._committed_offset.get(tp)
    if committed is not None and committed >= 0:
        return committed
    skipped: int | None = getattr(consumer, _SKIPPED, {}).get(tp)
    return skipped


def head_is_missing(consumer: Any, tp: Any) -> bool:
    """True when the head's own message (:func:`head_offset`) is not done, but later ones are.

    Faust's commit then goes ahead, past that message: its check (``min(acked) -
    committed > 1``) reads the committed offset as the last one processed, while Kafka's
    committed offset, and Faust's own record of it, is the *next* one to read; and where the
    group never committed, it commits whatever run of offsets is done. A message fetched
    around a rebalance and never handed to an agent (or skipped, above) right at the
    committed offset was lost that way: found with a breach record that no alert agent ever
    saw, once the next messages were processed and committed (2026-11-25).
    """
    head = head_offset(consumer, tp)
    done = first_uncommitted(consumer, tp)
    return head is not None and head >= 0 and done is not None and done > head


def install() -> None:
    """Wrap Faust's ``Consumer.ack`` and ``Consumer._new_offset`` once per process.

    Idempotent. ``_new_offset`` gives no offset to commit while :func:`head_is_missing`: the
    partition's commits wait (its lag shows it) until the message is processed, at the latest
    after the next rebalance, which seeks every partition back to its committed offset.
    """
    from faust.transport import consumer as consumer_module
    from faust.types.tuples import ack_lock
    from mode.utils.futures import notify

    cls = consumer_module.Consumer
    if getattr(cls.ack, _MARK, False):
        return
    original = cls.ack
    original_new_offset = cls._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        if head_is_missing(self, tp):
            return None
        result: int | None = original_new_offset(self, tp)
        skipped = getattr(self, _SKIPPED, {})
        if result is not None and skipped.get(tp, result) < result:
            del skipped[tp]  # read again and done: the commit may pass it
        return result

    cls._new_offset = _new_offset  # type: ignore[method-assign]  # wrapping Faust's method

    def ack(self: Any, message: Any) -> bool:
        if not is_skipped(self.app, message):
            return bool(original(self, message))
        with ack_lock:
            if message.acked:
                return False
            skipped = self.__dict__.setdefault(_SKIPPED, {})
            skipped[message.tp] = min(message.offset, skipped.get(message.tp, message.offset))
            message.acked = True  # done for Faust: the revoke does not wait for it
            self._unacked_messages.discard(message)
            notify(self._waiting_for_ack)
        return False  # but not safe to commit: the offset is read again

    setattr(ack, _MARK, True)
    ack.__doc__ = original.__doc__
    cls.ack = ack  # type: ignore[method-assign]  # wrapping Faust's method
