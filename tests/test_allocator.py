"""`workbench.allocator`: the memory a step freed stays in the heap for the next step.

Asserted on glibc's own account (mallinfo2: free bytes the heap holds) rather than on page
faults: whether returned memory faults again also depends on the host's reclaim (this VM's
kdamond), which made a page-fault count flaky in both directions."""

import os
import subprocess
import sys

STEP_MB = 90  # the blocks below, in MB
# A step's pattern: blocks of a few MB to tens of MB live together, then all are freed.
ROUNDS = """
import ctypes, torch
from workbench.allocator import keep_freed_memory
print(keep_freed_memory())
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
mallinfo2.restype = MallInfo2
def step():
    blocks = [torch.ones(k << 18) for k in (1, 2, 4, 8, 16, 32, 3, 5, 7, 12)]
    del blocks
for _ in range(3):
    step()
print(mallinfo2().fordblks / 2**20)
"""


def _free_heap_mb_after_steps(keep: str) -> tuple[str, float]:
    env = {**os.environ, "WORKBENCH_KEEP_FREED_MEMORY": keep, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], float(out[1])


def test_a_step_reuses_the_memory_the_previous_one_freed():
    kept, free_mb = _free_heap_mb_after_steps("1")
    assert kept == "True" and free_mb >= STEP_MB  # the whole step fits in what is kept
    # glibc's own thresholds hand part of it back to the OS: the next step faults it in
    kept, free_mb = _free_heap_mb_after_steps("0")
    assert kept == "False" and free_mb < STEP_MB
