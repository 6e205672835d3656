"""The host allocator's settings for a workbench process.

glibc adapts its mmap threshold to the largest block freed (up to 32 MB) and returns the top
of the heap to the OS once more than twice that is free. A training step frees its
activations (blocks of a few MB to tens of MB) at the end of every step, so the heap shrinks
and the next step faults the same memory back in, zeroed page by page. Keeping freed memory
(up to `KEEP_BYTES` at the top of the heap) removes those faults; what that buys is
`workbench bench train-step`'s to say (it reports the page faults per step; the README
quotes it). `WORKBENCH_KEEP_FREED_MEMORY=0` leaves glibc as it is, to compare.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 256 << 20
"""Blocks at least this large are mapped and unmapped on their own (whole weight matrices)."""
KEEP_BYTES = 1 << 30
"""Free memory at the top of the heap up to this is kept for the next step."""


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's thresholds once per process; False where the C library is not glibc or
    WORKBENCH_KEEP_FREED_MEMORY is 0."""
    if os.environ.get("WORKBENCH_KEEP_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # musl, macOS: nothing to tune
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)
    )
