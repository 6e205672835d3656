"""`workbench bench memory --nproc N`: the longest video that trains within a per-rank memory
budget, for FSDP2 alone against the workbench's full stack, on N processes.

fsdp: FSDP2 over every rank, winner and loser one after the other, a frozen copy as the
reference (sharded too), no context parallel, no activation checkpointing, the encoders
resident and encoding every step.
full: FSDP2 plus Ulysses context parallel over every rank, winner and loser fused in one
forward, the LoRA-disabled model as the reference, activation checkpointing, latents and
prompt embeddings encoded ahead with the encoders offloaded.

Both run under the same precision (bf16 frozen weights on CUDA, fp32 on the CPU), so the
ratio is the techniques', not the dtype's. Frames are searched as 4k+1 (Wan's VAE): k grows
(never past a linear extrapolation of the last peak to the budget, so a GPU does not run
out of memory mid-collective) until a step does not fit, then is bisected. Memory is the
largest peak over the ranks, measured as `bench memory` does.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from benchmarks.common import device_name
from benchmarks.memory import Setting, _step_cost
from training.parallel import ParallelPlan, init_parallel
from workbench.launch import local_device, spawn

SETTINGS = {
    "fsdp": Setting("auto", "copy", fused=False, activation_checkpointing=False, caches=False),
    "full": Setting(
        "auto", "lora", fused=True, activation_checkpointing=True, caches=True, cp=True
    ),
}


def bench_memory_parallel(
    nproc: int = 2,
    arch: str = "small",
    task: str = "t2v",
    height: int = 128,
    width: int = 128,
    budget_mb: float = 800.0,
    max_frames: int = 257,
    batch: int = 1,
    max_step_s: float = 120.0,
) -> dict[str, Any]:
    """Per setting: every probe (frames, peak MB per rank, seconds per step) and the largest
    frame count that fits; then the capacity ratio full / fsdp."""
    args = dict(
        arch=arch,
        task=task,
        height=height,
        width=width,
        budget_mb=budget_mb,
        max_frames=max_frames,
        batch=batch,
        max_step_s=max_step_s,
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        spawn(_worker, nproc, str(out), args)
        result = json.loads(out.read_text())
    result["settings"] = {n: s.__dict__ for n, s in SETTINGS.items()}
    if result["largest_frames"]["fsdp"]:
        result["capacity_ratio_frames"] = (
            result["largest_frames"]["full"] / result["largest_frames"]["fsdp"]
        )
    return result


def _worker(rank: int, out: str, args: dict) -> None:
    nproc = int(os.environ["WORLD_SIZE"])
    device = local_device() or torch.device("cpu")
    rows: list[dict[str, Any]] = []
    largest = {}
    bar = tqdm(desc="bench memory probes", unit="probe", disable=rank != 0)
    meshes = {
        name: init_parallel(ParallelPlan(nproc, cp=nproc if s.cp else 1), device)
        for name, s in SETTINGS.items()
    }
    # A throwaway step of each setting first: the process's one-off costs (lazy imports,
    # allocator pools, communication buffers) belong to neither.
    shape = (args["arch"], args["task"], args["height"], args["width"])
    for name, setting in SETTINGS.items():
        _step_cost(*shape, 5, setting, 0, args["batch"], meshes[name])
    for name, setting in SETTINGS.items():
        par = meshes[name]

        def probe(k: int, name=name, setting=setting, par=par) -> dict[str, Any]:
            frames = 4 * k + 1
            every = [None] * nproc
            dist.all_gather_object(
                every, _step_cost(*shape, frames, setting, 1, args["batch"], par)
            )
            row = _probe_row(name, frames, every, args["budget_mb"])
            rows.append(row)
            bar.update()
            bar.set_postfix(setting=name, frames=frames, peak_mb=max(row["peak_mb_per_rank"]))
            return row

        largest[name] = _largest_fit(
            probe, args["budget_mb"], args["max_frames"], args["max_step_s"]
        )
    bar.close()
    if rank == 0:
        result = {
            "benchmark": "memory-parallel",
            "nproc": nproc,
            **{k: args[k] for k in ("arch", "task", "height", "width", "budget_mb", "batch")},
            "device": device_name(device),
            "backend": dist.get_backend(),
            "rows": rows,
            "largest_frames": largest,
        }
        Path(out).write_text(json.dumps(result))


def _probe_row(name: str, frames: int, every: list[dict], budget_mb: float) -> dict[str, Any]:
    """One probe over the ranks: it fits when no rank ran out and the largest peak is within
    the per-rank budget."""
    row = {
        "setting": name,
        "frames": frames,
        "oom": any(c["oom"] for c in every),
        "peak_mb_per_rank": [c["peak_mb"] for c in every],
        "step_s": max(c["step_s"] for c in every),
    }
    row["fits"] = not row["oom"] and max(row["peak_mb_per_rank"]) <= budget_mb
    return row


def _largest_fit(probe, budget_mb: float, max_frames: int, max_step_s: float) -> int:
    """Largest 4k+1 frames whose step fits: grow k, then bisect between fit and misfit."""
    fit, misfit, k = 0, None, 1
    while 4 * k + 1 <= max_frames:
        row = probe(k)
        if not row["fits"]:
            misfit = k
            break
        fit = k
        if row["step_s"] > max_step_s:  # too slow to go on: the answer is a lower bound
            return 4 * fit + 1
        peak = max(row["peak_mb_per_rank"])
        k = max(k + 1, min(2 * k, int(k * budget_mb / peak)))
    while misfit is not None and misfit - fit > 1:
        mid = (fit + misfit) // 2
        if probe(mid)["fits"]:
            fit = mid
        else:
            misfit = mid
    return 4 * fit + 1 if fit else 0
