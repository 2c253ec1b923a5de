"""glibc's malloc for a long-running worker: large buffers from ``mmap``, always.

glibc serves a request of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB) with an ``mmap`` of its
own, given back to the system on ``free``. Unless the threshold was set explicitly, glibc
*raises* it to the size of each such block freed (up to 32 MiB), so from then on blocks of
that size come from the heap arenas. A worker's large blocks are Kafka fetch responses (up to
1 MiB per partition), mostly at a rebalance, when it catches up on partitions it takes over;
from the heap they leave holes between long-lived objects that the arenas keep. In the soak
(docs/resilience.md, 2026-11-25) the free space kept inside glibc's arenas of ``w0`` grew from
2 to 6 MB in 5 minutes of takeovers, and stayed near 2 MB with the threshold fixed.

Setting the threshold once (``mallopt``) turns the raising off. Another allocator (musl, or
``MALLOC_MMAP_THRESHOLD_`` set by the operator, which glibc reads itself) is left alone.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Mapping

__all__ = ["MMAP_THRESHOLD", "fix_mmap_threshold"]

#: Bytes from which a request is an ``mmap`` of its own: glibc's initial threshold.
MMAP_THRESHOLD = 128 * 1024

#: ``mallopt`` parameter number of ``M_MMAP_THRESHOLD`` (``<malloc.h>``).
_M_MMAP_THRESHOLD = -3


def fix_mmap_threshold(environ: Mapping[str, str]) -> int | None:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD`; returns it, or None if untouched.

    Untouched: not glibc, or the operator set ``MALLOC_MMAP_THRESHOLD_`` (glibc's own).
    """
    if "MALLOC_MMAP_THRESHOLD_" in environ or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL("libc.so.6")
    return MMAP_THRESHOLD if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 else None
