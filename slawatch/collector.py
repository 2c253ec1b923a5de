"""The garbage collector's settings for slawatch's processes (the worker, replay).

Both keep a large, long-lived set of objects (a worker: its framework, policy, calendars and
deadline index; a replay: every open case) and allocate a few hundred short-lived objects per
event. With CPython's default thresholds (700, 10, 10) a young collection runs every few events
and full collections walk every long-lived object again and again: a third of the engine's time
in a profile of the worker (bench/README.md).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping

__all__ = ["GC_ENV", "GcModeError", "tune_gc"]

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
