"""`workbench bench memory --nproc N --build`: what building a sharded full fine-tune (the
transformer to train and its frozen reference, under FSDP2) costs each rank, for the two
orders the trainer knows, side by side in the same processes.

whole: each rank loads the whole transformer in fp32, copies it as the reference (cast to
bf16 while copying, `Runtime.frozen_copy`), then shards both: the trainer's order before W14,
and still a LoRA base's.
meta: each rank builds both on the meta device, shards them, then reads its own shards from
the safetensors (`load_into_shards`): torchtitan's order, the trainer's for a sharded full
fine-tune since W14.

The weights are a random Wan transformer of `arch`, saved once as the trainer finds a
checkpoint's. Precision bf16 on every device (a GPU run's), so the reference is bf16 here
too. Memory per rank, above what the rank held before the build: `host_peak_mb`, the peak
resident set (VmHWM, reset), which counts the pages of the safetensors a rank maps while it
reads (shared page cache, one copy for all ranks); `anon_peak_mb`, the peak of the rank's
own memory (RssAnon, sampled every 2 ms), what no other rank shares and the kernel cannot
drop; on CUDA `max_memory_allocated` (neither order moves a whole model to the device).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from benchmarks.common import device_name
from benchmarks.memory import _release, _reset_peak, _status_kb
from training.parallel import ParallelPlan, init_parallel, load_into_shards, parallelize
from workbench.launch import local_device, spawn
from workbench.models.loading import transformer_from
from workbench.models.runtime import Runtime

ORDERS = ("whole", "meta")


def bench_memory_build(nproc: int = 2, arch: str = "small") -> dict[str, Any]:
    """Per order: each rank's peak host MB (and device MB on CUDA) and seconds to build, and
    the ratio of the largest rank's peaks, meta / whole."""
    with tempfile.TemporaryDirectory() as tmp:
        folder, warm = Path(tmp) / "transformer", Path(tmp) / "warm-up"
        # In a process of its own, so no rank's parent holds the model it drew.
        saver = multiprocessing.get_context("spawn").Process(
            target=_save_random_transformers, args=({arch: str(folder), "tiny": str(warm)},)
        )
        saver.start()
        saver.join()
        if saver.exitcode != 0:
            raise RuntimeError(f"drawing the random {arch} transformer failed ({saver.exitcode})")
        out = Path(tmp) / "result.json"
        spawn(_worker, nproc, str(out), str(folder), str(warm))
        result = json.loads(out.read_text())
    result["arch"] = arch
    for kind in ("host", "anon"):
        peaks = {o: max(result["orders"][o][f"{kind}_peak_mb_per_rank"]) for o in ORDERS}
        result[f"{kind}_peak_ratio_meta_to_whole"] = peaks["meta"] / peaks["whole"]
    return result


def _save_random_transformers(folders: dict[str, str]) -> None:
    from diffusers import WanTransformer3DModel

    from workbench.models.random_wan import SIZES

    for arch, folder in folders.items():
        torch.manual_seed(0)
        WanTransformer3DModel(**SIZES[arch]["transformer"]).save_pretrained(folder)


def _worker(rank: int, out: str, folder: str, warm: str) -> None:
    nproc = int(os.environ["WORLD_SIZE"])
    device = local_device() or torch.device("cpu")
    runtime = Runtime(device, "bf16")
    par = init_parallel(ParallelPlan(nproc), device)
    # Both orders once on a tiny transformer first: the process's one-off costs (lazy
    # imports, allocator pools, communication buffers) belong to neither.
    for order in ORDERS:
        _build(order, Path(warm), runtime, par)
    orders: dict[str, dict[str, Any]] = {}
    for order in ORDERS:
        _release()
        dist.barrier()
        before = _status_kb("VmRSS") / 1024
        _reset_peak(Runtime())  # the host's peak
        if device.type == "cuda":
            _reset_peak(runtime)
        started = time.perf_counter()
        with _anon_peak_mb() as anon:
            networks = _build(order, Path(folder), runtime, par)
        seconds = time.perf_counter() - started
        cost = {
            "host_peak_mb": _status_kb("VmHWM") / 1024 - before,
            "anon_peak_mb": anon[0],
            "seconds": seconds,
            "device_peak_mb": (
                torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
            ),
        }
        del networks
        every: list[Any] = [None] * nproc
        dist.all_gather_object(every, cost)
        orders[order] = {
            "host_peak_mb_per_rank": [c["host_peak_mb"] for c in every],
            "anon_peak_mb_per_rank": [c["anon_peak_mb"] for c in every],
            "device_peak_mb_per_rank": [c["device_peak_mb"] for c in every],
            "seconds": max(c["seconds"] for c in every),
        }
    if rank == 0:
        size = sum(f.stat().st_size for f in Path(folder).glob("*.safetensors"))
        result = {
            "benchmark": "memory-build",
            "nproc": nproc,
            "precision": runtime.precision,
            "device": device_name(device),
            "backend": dist.get_backend(),
            "weights_mb": size / 2**20,
            "orders": orders,
        }
        Path(out).write_text(json.dumps(result))


@contextmanager
def _anon_peak_mb() -> Iterator[list[float]]:
    """The peak rise of this process's anonymous memory while the block runs, sampled."""
    start = _status_kb("RssAnon")
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], (_status_kb("RssAnon") - start) / 1024)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], (_status_kb("RssAnon") - start) / 1024)


def _build(
    order: str, folder: Path, runtime: Runtime, par
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The trainer's steps for a full fine-tune and its frozen copy (training/trainer.py:
    `build_model`, `make_trainable`, `live_reference`, `parallelize`, `load_into_shards`)."""
    model = transformer_from(folder, torch.float32, empty=order == "meta")
    model.float().requires_grad_(True)
    reference = runtime.frozen_copy(model)
    for network in (model, reference):
        parallelize(network, par, runtime)
    if order == "meta":
        for network in (model, reference):
            load_into_shards(network, folder, runtime.device)
    return model, reference
