"""The garbage collector's settings for slawatch's processes (the worker, replay).

Both keep a large, long-lived set of objects (a worker: its framework, policy, calendars and
deadline index; a replay: every open case) and allocate a few hundred short-lived objects per
event. With CPython's default thresholds (700, 10, 10) a young collection runs every few events
and full collections walk every long-lived object again and again: a third of the engine's time
in a profile of the worker (bench/README.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

__all__ = ["GC_ENV", "GcModeError", "collections_paused", "tune_gc"]

#: ``tuned`` (the default) or ``default`` (CPython's own thresholds), for A/B benchmarks.
GC_ENV = "SLAWATCH_GC"


class GcModeError(ValueError):
    """``SLAWATCH_GC`` names no known mode."""


def tune_gc(environ: Mapping[str, str]) -> str:
    """Make the cyclic collector cheap for a long run; returns the mode applied.

    What exists now is moved out of the collector's sight (``gc.freeze``), and the young
    generation is made large enough that a collection runs every 50,000 allocations instead of
    every 700; the memory this can hold back is bounded by that threshold.
    """
    mode = environ.get(GC_ENV, "").strip().lower() or "tuned"
    if mode not in ("tuned", "default"):
        raise GcModeError(f"{GC_ENV}={mode!r} is not 'tuned' or 'default'")
    if mode == "tuned":
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
    return mode


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector's state is restored after it.

    For a replay: it keeps every open case until the end and makes no reference cycles
    (``gc.collect()`` after a full ServiceNow replay frees nothing), so a collection during it
    only walks live objects: 5 % of the replay's time (bench/README.md, 2026-12-07). Reference
    counting still frees everything else at once.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
