"""The worker's one error policy (streams/errors.py): retries then stops on sends, reports and
returns a ``Failed`` value on processing errors, never swallows a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from streams.errors import ErrorPolicy, Failed, SendFailed


class TestSend:
    def test_a_send_that_recovers_is_retried(self) -> None:
        """Two failures, then success: three tries, no error."""
        calls: list[int] = []

        async def emit() -> None:
            calls.append(1)
            if len(calls) < 3:
                raise ConnectionError("broker refused")

        asyncio.run(ErrorPolicy(send_backoff=0.0).send(emit, {"topic": "t"}))
        assert 3 == len(calls)

    def test_a_send_that_never_succeeds_stops_the_worker(self) -> None:
        """After every try SendFailed names the message: the record is never skipped."""

        async def emit() -> None:
            raise ConnectionError("broker refused")

        policy = ErrorPolicy(send_attempts=2, send_backoff=0.0)
        with pytest.raises(SendFailed, match=r"t\[1\]@7 after 2 tries"):
            asyncio.run(policy.send(emit, {"topic": "t", "partition": 1, "offset": 7}))

    def test_a_cancelled_send_is_not_retried(self) -> None:
        """Cancellation goes through: the worker is stopping."""

        async def emit() -> None:
            raise asyncio.CancelledError

        with pytest.raises(asyncio.CancelledError):
            asyncio.run(ErrorPolicy(send_backoff=0.0).send(emit, {}))


class TestAttempt:
    def test_a_value_is_returned(self) -> None:
        """Nothing failed: the value itself."""
        assert 3 == ErrorPolicy().attempt(lambda: 3)

    def test_a_failure_is_a_value_with_its_detail(self) -> None:
        """The exception becomes ``Failed`` with ``Type: message`` for a dead letter."""

        def broken() -> int:
            raise KeyError("clock")

        failed = ErrorPolicy().attempt(broken, "clock_event_failed", {"topic": "t"})
        assert isinstance(failed, Failed)
        assert ("KeyError: 'clock'", KeyError) == (failed.detail, type(failed.error))

    def test_an_async_failure_is_a_value(self) -> None:
        """Same for coroutines."""

        async def broken() -> int:
            raise ConnectionError("redis down")

        failed = asyncio.run(ErrorPolicy().attempt_async(broken))
        assert isinstance(failed, Failed)
        assert "ConnectionError: redis down" == failed.detail
