"""A record the broker refused is never committed past: the worker stops and reads it again.

``await topic.send(...)`` hands a record to the producer and returns; the broker answers later,
on the record's future. Faust flushes the producer before each commit, so every record sent for
a processed message has its answer by then, but it commits whatever the answers were. A record
the broker refused (``INVALID_RECORD``, a message too large, a topic it will not write) was
therefore lost without a trace: its source message was committed, the breach, outcome or dead
letter never existed. The send-time guard (:class:`streams.errors.ErrorPolicy`) sees only
failures to hand a record over, not refusals.

:func:`install` closes that. Every record future of Faust's producer is watched (records,
changelog writes, dead letters), and once one is refused:

1. commits are held shut (``commit_held``): the source messages stay uncommitted;
2. ``record_delivery_failed`` is logged (critical), and when every record sent so far has its
   answer, the hooks registered with :func:`on_refusal` run: the clock agent's processor puts
   back the table rows of the cases whose records were refused (the row written after a
   message must not outlive its refused records: read again, the message would be a duplicate
   and its records never sent again);
3. the app crashes, the worker exits with an error, and its supervisor restarts it from the
   committed offset: the messages are processed again, their records sent again. If the broker
   keeps refusing, the worker keeps stopping there, loudly, rather than going on without them.

Topics declared with :func:`exempt` (the shadow policy's) are only logged: a candidate policy
never stops the live worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any

import structlog

__all__ = [
    "DeliveryFailed",
    "collect",
    "exempt",
    "failure",
    "install",
    "note",
    "on_refusal",
    "stopping",
    "watch",
]

log = structlog.get_logger("slawatch.deliveries")

_MARK = "_slawatch_delivery_guard"
#: App attribute: this module's state for the app (:class:`_Guard`).
_GUARD = "_slawatch_delivery_guard_state"

#: The record futures sent by the code running now, when it asked (:func:`collect`).
_collector: ContextVar[list[asyncio.Future[Any]] | None] = ContextVar(
    "slawatch_deliveries_collector", default=None
)


class DeliveryFailed(RuntimeError):
    """The broker refused a record; the worker stops so its message is processed again."""


class _Guard:
    """One app's watch: records not yet answered, the first refusal, the hooks, exemptions."""

    def __init__(self) -> None:
        self.pending: dict[asyncio.Future[Any], str] = {}
        self.failure: BaseException | None = None
        self.hooks: list[Callable[[], Awaitable[object]]] = []
        self.exempt: set[str] = set()
        self.stopping: asyncio.Future[None] | None = None


def _guard(app: Any) -> _Guard:
    guard: _Guard | None = getattr(app, _GUARD, None)
    if guard is None:
        guard = _Guard()
        setattr(app, _GUARD, guard)
    return guard


def on_refusal(app: Any, hook: Callable[[], Awaitable[object]]) -> None:
    """Run ``hook`` after a refusal, once every record sent has its answer, before the crash."""
    _guard(app).hooks.append(hook)


def exempt(app: Any, topics: Iterable[str]) -> None:
    """A refusal of a record of ``topics`` is logged, and stops nothing."""
    _guard(app).exempt.update(topics)


class collect:  # used as a function: ``with deliveries.collect() as sent``
    """The futures of the records the code in this block sends (to tie them to their case).

    A class, not a generator context manager: it runs once per case written, and the
    generator form cost about 3 % of a deadline storm's samples.
    """

    __slots__ = ("_token", "sent")

    def __init__(self) -> None:
        self.sent: list[asyncio.Future[Any]] = []

    def __enter__(self) -> list[asyncio.Future[Any]]:
        self._token = _collector.set(self.sent)
        return self.sent

    def __exit__(self, *exc: object) -> None:
        _collector.reset(self._token)


def stopping(app: Any) -> bool:
    """Whether a refusal was seen and the app is stopping (a flag: cheap on every message)."""
    guard: _Guard | None = getattr(app, _GUARD, None)
    return guard is not None and guard.failure is not None


def failure(app: Any) -> BaseException | None:
    """The first refusal on ``app``, after looking at every record answered so far."""
    guard = _guard(app)
    for future in [f for f in guard.pending if f.done()]:
        _answered(app, future)
    return guard.failure


def watch(app: Any, topic: str, future: asyncio.Future[Any]) -> None:
    """Watch ``future``, a record's (or a batch of records') answer, as every record sent."""
    guard = _guard(app)
    guard.pending[future] = topic
    future.add_done_callback(lambda done: _answered(app, done))


def note(future: asyncio.Future[Any]) -> None:
    """Give ``future`` to the code collecting what it sends (:class:`collect`), if any."""
    sent = _collector.get()
    if sent is not None and (not sent or sent[-1] is not future):
        sent.append(future)


def _answered(app: Any, future: asyncio.Future[Any]) -> None:
    guard = _guard(app)
    topic = guard.pending.pop(future, None)
    if topic is None or future.cancelled():
        return  # looked at already, or the producer stopped: nothing was refused
    error = future.exception()
    if error is None:
        return
    detail = f"{type(error).__name__}: {error}"
    if topic in guard.exempt:
        log.error("record_refused", topic=topic, error=detail, action="none: exempt topic")
        return
    if guard.failure is not None:
        return
    guard.failure = error
    log.critical(
        "record_delivery_failed",
        topic=topic,
        error=detail,
        action="commits held; the worker stops so the message is processed again",
    )
    reason = DeliveryFailed(f"the broker refused a record: {detail}")
    guard.stopping = asyncio.ensure_future(_stop(app, reason))  # kept: a task must be referenced


async def _stop(app: Any, reason: DeliveryFailed) -> None:
    """Let every record sent so far be answered, run the hooks, then crash the app."""
    try:
        await app.producer.flush()
        for hook in _guard(app).hooks:
            await hook()
        await app.producer.flush()  # what the hooks wrote
    except Exception as exc:  # the crash below must happen whatever failed here
        log.error("refusal_hooks_failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        await app.crash(reason)


def install() -> None:
    """Watch every record Faust's aiokafka producer sends; hold commits after a refusal.

    Idempotent. Wraps ``Producer.send`` (the driver's, which returns the record's future) and
    ``ThreadDelegateConsumer._commit``, which Faust calls right after flushing the producer.
    """
    from faust.transport import consumer as consumer_module
    from faust.transport.drivers import aiokafka as driver

    producer_cls = driver.Producer
    if getattr(producer_cls.send, _MARK, False):
        return
    original_send = producer_cls.send
    consumer_cls = consumer_module.ThreadDelegateConsumer
    original_commit = consumer_cls._commit

    async def send(self: Any, topic: str, *args: Any, **kwargs: Any) -> Any:
        future = await original_send(self, topic, *args, **kwargs)
        if isinstance(future, asyncio.Future):
            watch(self.app, topic, future)
            note(future)
        return future

    async def _commit(self: Any, offsets: Any) -> bool:
        if failure(self.app) is not None:
            log.error("commit_held", reason="a record was refused", partitions=len(offsets))
            return False
        return bool(await original_commit(self, offsets))

    setattr(send, _MARK, True)
    send.__doc__ = original_send.__doc__
    producer_cls.send = send  # type: ignore[method-assign]  # wrapping Faust's method
    consumer_cls._commit = _commit  # type: ignore[method-assign]  # wrapping Faust's method
