"""glibc's mmap threshold is fixed in the worker, so fetch-sized buffers never fill the heap.

Each check runs in a fresh interpreter: the threshold is a process-wide setting, and glibc
raises it only once a large block has been freed.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from slawatch import allocator

#: Frees a 1 MiB block, allocates another; prints whether it came from ``mmap`` (glibc's count
#: of mmapped bytes grew by it) rather than from the heap.
PROBE = """
import ctypes, sys
from slawatch.allocator import fix_mmap_threshold

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "fix":
    fix_mmap_threshold({})
size = 1 << 20
block = bytearray(size)
del block  # glibc raises its threshold to this size here, unless it was set
before = libc.mallinfo2().hblkhd
block = bytearray(size)
print(libc.mallinfo2().hblkhd - before >= size)
"""


def mmapped_after_a_free(mode: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "True"


class TestMmapThreshold:
    def test_a_large_block_is_mmapped_again_after_one_was_freed(self) -> None:
        """With the threshold fixed, a fetch-sized block after a free is still an mmap."""
        assert mmapped_after_a_free("fix")

    def test_without_it_glibc_serves_the_next_one_from_the_heap(self) -> None:
        """The behaviour the fix turns off (glibc's dynamic threshold)."""
        assert not mmapped_after_a_free("none")

    def test_applied_in_this_process(self) -> None:
        assert allocator.MMAP_THRESHOLD == allocator.fix_mmap_threshold({})

    def test_an_operator_setting_is_left_alone(self) -> None:
        """``MALLOC_MMAP_THRESHOLD_`` is glibc's own: the operator's value wins."""
        assert allocator.fix_mmap_threshold({"MALLOC_MMAP_THRESHOLD_": "65536"}) is None

    def test_other_allocators_are_left_alone(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
        assert allocator.fix_mmap_threshold({}) is None
