"""Memory diagnostics for one soak worker, loaded only when ``bench/diag`` is on PYTHONPATH.

``bench/soak.py --diag DIR`` puts this folder on the workers' PYTHONPATH (Python imports a
``sitecustomize`` module at start). In the worker whose ``SLAWATCH_DATADIR`` ends with
``SLAWATCH_DIAG_WORKER`` (default ``data-w0``) a thread appends, every ``SLAWATCH_DIAG_EVERY``
seconds (30), one line to ``DIR/diag.jsonl``: RSS, the ``[heap]`` and anonymous mappings,
glibc's ``mallinfo2`` (in use, free), pymalloc's arenas and blocks, the ``gc`` generations and
the count of tracked objects by type. So growth can be told apart: live objects, garbage
waiting for the collector, or free memory the allocator keeps.

Options (environment): ``SLAWATCH_DIAG_FRAMES`` (tracemalloc's frames per traceback; 0, the
default, = no tracemalloc) with ``SLAWATCH_DIAG_SNAP_EVERY`` (a tracemalloc snapshot every N
lines, for ``Snapshot.compare_to``); ``SLAWATCH_DIAG_TRIM_EVERY`` (a full collection, then
``malloc_trim`` unless ``SLAWATCH_DIAG_TRIM=0``, every N lines: an experiment that changes the
worker); ``SLAWATCH_DIAG_GARBAGE_AT`` (at line N, the garbage a full collection finds, by type).
Without ``--diag`` nothing here runs; production never loads it.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import re
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> dict[str, int]:
    """glibc's totals over all arenas: in use (uordblks), free inside the heaps (fordblks)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {name: int(getattr(info, name)) for name, _ in _MallInfo2._fields_}


def _pymalloc() -> dict[str, int]:
    """pymalloc's arenas and blocks, parsed from ``sys._debugmallocstats`` (written to fd 2)."""
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    out = {}
    for key in (
        "arenas allocated current",
        "bytes in allocated blocks",
        "bytes in available blocks",
        "unused pools",
        "bytes lost to pool headers",
        "bytes lost to quantization",
    ):
        found = re.search(r"# " + re.escape(key) + r"\s*=\s*([\d,]+)", text)
        if found:
            out[key.replace(" ", "_")] = int(found.group(1).replace(",", ""))
    return out


def _smaps() -> dict[str, int]:
    heap = anon = 0
    where = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and "-" in parts[0] and ":" in parts[3]:
            where = parts[5] if len(parts) > 5 else "[anon]"
        elif parts and parts[0] == "Rss:":
            if where == "[heap]":
                heap += int(parts[1])
            elif where == "[anon]":
                anon += int(parts[1])
    return {"heap_kib": heap, "anon_kib": anon}


def _garbage_census() -> dict[str, object]:
    """A full collection that keeps what it found (``DEBUG_SAVEALL``): the garbage by type.

    Run once, when asked: it changes the worker's memory (the point of the soak is to see it
    without), so it is the last measurement of a run.
    """
    before = _rss_kib()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        found = gc.collect()
        kinds = collections.Counter(type(o).__qualname__ for o in gc.garbage)
        mods = collections.Counter(type(o).__module__ for o in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    gc.collect()
    return {
        "unreachable": found,
        "rss_before_kib": before,
        "rss_after_kib": _rss_kib(),
        "types": dict(kinds.most_common(60)),
        "modules": dict(mods.most_common(30)),
    }


def _loop(out: Path, every: float) -> None:
    n = 0
    tracing = tracemalloc.is_tracing()
    while True:
        time.sleep(every)
        n += 1
        counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        line = {
            "n": n,
            "t": time.time(),
            "rss_kib": _rss_kib(),
            "threads": threading.active_count(),
            "blocks": sys.getallocatedblocks(),
            "gc_objects": sum(counts.values()),
            **_smaps(),
            "malloc": _mallinfo(),
            "pymalloc": _pymalloc(),
            "types": dict(counts.most_common(80)),
            "gc_count": gc.get_count(),
            "gc_stats": gc.get_stats(),
            "gc_threshold": gc.get_threshold(),
        }
        trim_every = int(os.environ.get("SLAWATCH_DIAG_TRIM_EVERY", "0"))
        if trim_every and n % trim_every == 0:
            # The experiment "is it garbage and free memory the allocator keeps?": a full
            # collection, then glibc gives its free pages back.
            line["trim"] = {"collected": gc.collect(), "rss_before_kib": line["rss_kib"]}
            if os.environ.get("SLAWATCH_DIAG_TRIM", "1") == "1":
                ctypes.CDLL("libc.so.6").malloc_trim(0)
            line["trim"]["rss_after_kib"] = _rss_kib()
        if n == int(os.environ.get("SLAWATCH_DIAG_GARBAGE_AT", "0")):
            line["garbage"] = _garbage_census()
        if tracing:
            current, peak = tracemalloc.get_traced_memory()
            line.update(traced=current, peak=peak)
            if n % int(os.environ.get("SLAWATCH_DIAG_SNAP_EVERY", "1")) == 0:
                tracemalloc.take_snapshot().dump(str(out / f"snap-{n:03d}.pickle"))
            tracemalloc.reset_peak()
        with (out / "diag.jsonl").open("a") as f:
            f.write(json.dumps(line) + "\n")


def _start() -> None:
    out = os.environ.get("SLAWATCH_DIAG_DIR")
    who = os.environ.get("SLAWATCH_DIAG_WORKER", "data-w0")
    if not out or not os.environ.get("SLAWATCH_DATADIR", "").endswith(who):
        return
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    frames = int(os.environ.get("SLAWATCH_DIAG_FRAMES", "0"))
    if frames:
        tracemalloc.start(frames)
    every = float(os.environ.get("SLAWATCH_DIAG_EVERY", "30"))
    threading.Thread(target=_loop, args=(path, every), daemon=True, name="diag").start()


_start()
