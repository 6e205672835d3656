"""`workbench.allocator`: freed activation memory is reused, not faulted in again each step."""

import os
import subprocess
import sys

# A step's pattern: blocks of a few MB to tens of MB live together, then all are freed.
ROUNDS = """
import resource, torch
from workbench.allocator import keep_freed_memory
print(keep_freed_memory())
def step():
    blocks = [torch.ones(k << 18) for k in (1, 2, 4, 8, 16, 32, 3, 5, 7, 12)]
    del blocks
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults_per_round(keep: str) -> tuple[str, float]:
    env = {**os.environ, "WORKBENCH_KEEP_FREED_MEMORY": keep, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", ROUNDS], env=env, capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    return out[0], float(out[1])


def test_a_step_reuses_the_memory_the_previous_one_freed():
    kept, faults = _faults_per_round("1")
    assert kept == "True" and faults < 50  # of ~22,000 pages a round touches
    # glibc's own thresholds return the heap's top to the OS between rounds
    kept, faults = _faults_per_round("0")
    assert kept == "False" and faults > 500
