"""Waiting on a condition with a deadline: the one way the harness waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25
) -> T:
    """Poll ``condition`` until it returns a truthy value, and return that value.

    An exception raised by ``condition`` counts as "not yet" (a worker still starting refuses
    connections); the last one is named in the failure.

    Args:
        condition: called every ``interval`` seconds.
        timeout: seconds before giving up.
        what: what is awaited, for the failure message.
        interval: seconds between two polls.

    Raises:
        AssertionError: ``condition`` stayed falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # a flaky poll is retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error {last_exc!r})")
