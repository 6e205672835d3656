"""What every benchmark shares: how it names the machine and how it times a function."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import torch
from tqdm.auto import tqdm


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name()
    return f"cpu ({torch.get_num_threads()} threads)"


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call, as torch's FlopCounterMode counts them (matmuls and convolutions:
    the model FLOPs of a utilisation figure)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def median_seconds(fn: Callable[[int], object], repeats: int, desc: str) -> float:
    """Median wall time of fn(1..repeats) after a warm-up call fn(0) (waits for CUDA)."""
    fn(0)
    times = []
    for k in tqdm(range(1, repeats + 1), desc=desc, leave=False):
        _sync()
        started = time.perf_counter()
        fn(k)
        _sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def page_faults_per_call(fn: Callable[[int], object], repeats: int) -> float:
    """Minor page faults per call of fn(1..repeats): memory the OS hands over zeroed, which
    `workbench.allocator` keeps from recurring every step."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for k in range(1, repeats + 1):
        fn(k)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / repeats
