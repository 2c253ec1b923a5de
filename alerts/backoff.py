"""Exponential backoff with jitter, so retries of many alerts do not hit a channel in step."""

from __future__ import annotations

import random
from datetime import timedelta

__all__ = ["backoff_delay"]


def backoff_delay(attempt: int, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """The wait before retry number ``attempt`` (1 = first retry): doubling, capped, jittered.

    Half the delay is fixed and half is random ("equal jitter"), so the waits still grow.

    >>> rng = random.Random(7)
    >>> base, cap = timedelta(seconds=2), timedelta(seconds=10)
    >>> [round(backoff_delay(a, base, cap, rng).total_seconds(), 1) for a in (1, 2, 3, 4)]
    [1.3, 2.3, 6.6, 5.4]
    """
    if attempt < 1:
        raise ValueError(f"attempt counts retries from 1, got {attempt}")
    raw: timedelta = min(cap, base * (2 ** min(attempt - 1, 30)))
    half: timedelta = raw / 2
    return half + half * rng.random()
