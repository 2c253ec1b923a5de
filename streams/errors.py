"""The worker's one error policy: what happens when a part fails, decided in one place.

Inspired by quix-streams' typed ``on_processing_error`` / ``on_producer_error`` callbacks: every
place in ``streams/`` that must survive a failure calls :class:`ErrorPolicy` instead of writing
its own ``except Exception``, so the table in docs/design.md ("Errors") is this module.

* :meth:`ErrorPolicy.send` (producer errors): a record that cannot be handed to the producer is
  retried with backoff, then :class:`SendFailed` stops the worker: a record is never dropped
  silently; the message is processed again from the committed offset after the restart.
* :meth:`ErrorPolicy.attempt` / :meth:`ErrorPolicy.attempt_async` (processing errors and side
  tasks): the failure is logged under the caller's event name (or not at all, where the caller
  reports it itself) and returned as a :class:`Failed` value, which the caller turns into a dead
  letter, a skipped case, a skipped check or a default. ``asyncio.CancelledError`` is never
  caught.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import structlog

__all__ = ["ErrorPolicy", "Failed", "SendFailed"]

log = structlog.get_logger("slawatch.errors")

T = TypeVar("T")

#: A failure's log context: the fields, or a function that builds them when needed.
Context = Mapping[str, object] | Callable[[], Mapping[str, object]]

#: Log levels a failure may be reported at.
Level = Literal["debug", "info", "warning", "error"]


class SendFailed(RuntimeError):
    """A record could not be handed to Kafka after every retry; the worker must stop."""


@dataclass(frozen=True)
class Failed:
    """What a failed attempt returns instead of its value.

    Attributes:
        detail: ``"ExceptionType: message"``, for a dead letter's ``detail``.
        error: the exception.
    """

    detail: str
    error: Exception


def _failed(exc: Exception) -> Failed:
    return Failed(f"{type(exc).__name__}: {exc}", exc)


@dataclass(frozen=True)
class ErrorPolicy:
    """What the worker does when something fails (one place, named, tested).

    Attributes:
        send_attempts: tries of one effect batch before the worker stops (``SendFailed``).
        send_backoff: seconds before the second try, doubled after each further one.
    """

    send_attempts: int = 5
    send_backoff: float = 0.2

    async def send(self, emit: Callable[[], Awaitable[None]], ctx: Mapping[str, object]) -> None:
        """Run ``emit``; retry with backoff; raise :class:`SendFailed` when it never succeeds.

        A retry may repeat records already handed over: their ids are deterministic and every
        reader deduplicates, so a repeat is harmless and a loss is not.
        """
        try:  # the first try outside the retry loop: it runs once per case written
            await emit()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed = _failed(exc)
        await self._retry(emit, ctx, failed)

    async def _retry(
        self, emit: Callable[[], Awaitable[None]], ctx: Mapping[str, object], failed: Failed
    ) -> None:
        """Log ``failed`` (the first try), then try again with backoff until the attempts run
        out (:class:`SendFailed`)."""
        delay = self.send_backoff
        outcome: object = failed
        for attempt in range(1, self.send_attempts + 1):
            if attempt > 1:
                outcome = await self.attempt_async(emit)
            if not isinstance(outcome, Failed):
                return
            log.error(
                "record_send_failed",
                attempt=attempt,
                of=self.send_attempts,
                error=outcome.detail,
                **ctx,
            )
            if attempt == self.send_attempts:
                raise SendFailed(
                    f"could not send the records of {ctx.get('topic')}[{ctx.get('partition')}]"
                    f"@{ctx.get('offset')} after {attempt} tries: {outcome.error}; the worker "
                    "stops so the message is processed again when it restarts"
                ) from outcome.error
            await asyncio.sleep(delay)
            delay *= 2

    def attempt(
        self,
        run: Callable[[], T],
        event: str | None = None,
        ctx: Context | None = None,
        *,
        level: Level = "error",
    ) -> T | Failed:
        """``run()``, or :class:`Failed` when it raised (logged as ``event`` unless None).

        ``ctx`` may be a function that builds the log context: on the hot path it is then
        built only when something failed.
        """
        try:
            return run()
        except Exception as exc:
            failed = _failed(exc)
            _report(event, failed, ctx, level)
            return failed

    async def attempt_async(
        self,
        run: Callable[[], Awaitable[T]],
        event: str | None = None,
        ctx: Context | None = None,
        *,
        level: Level = "error",
    ) -> T | Failed:
        """``await run()``, or :class:`Failed` when it raised (never on cancellation)."""
        try:
            return await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed = _failed(exc)
            _report(event, failed, ctx, level)
            return failed


def _report(event: str | None, failed: Failed, ctx: Context | None, level: Level) -> None:
    if event is not None:
        fields = ctx() if callable(ctx) else ctx
        getattr(log, level)(event, error=failed.detail, **(fields or {}))


#: The policy every part of a worker uses.
DEFAULT = ErrorPolicy()
