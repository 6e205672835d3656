"""`workbench bench sample`: videos per second of the workbench sampler against diffusers'
WanPipeline on the same weights, scheduler, guidance and seeds, with the outputs compared."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import device_name, median_seconds
from workbench.generation import inference_model
from workbench.models.random_wan import save_random_wan_pipeline
from workbench.models.runtime import pick_runtime
from workbench.sampling import SamplerSettings, sample_videos

PROMPTS = [
    "a red circle moves up",
    "a blue square moves left",
    "a green triangle moves down",
    "a yellow circle moves right",
]


def bench_sample(
    arch: str = "small",
    height: int = 64,
    width: int = 64,
    frames: int = 9,
    steps: int = 10,
    batch: int = 4,
    repeats: int = 3,
) -> dict[str, Any]:
    """Median seconds to sample `batch` videos each way (after a warm-up), and the largest
    pixel difference between the two (uint8 levels)."""
    from diffusers import WanPipeline

    runtime = pick_runtime("fp32")
    prompts, seeds = (PROMPTS * batch)[:batch], list(range(batch))
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_random_wan_pipeline(Path(tmp) / "wan", "t2v", arch)
        model = inference_model(folder, runtime)
        settings = SamplerSettings.from_defaults(model.info["sampling"], steps=steps)
        pipe = WanPipeline.from_pretrained(folder, local_files_only=True).to(runtime.device)
        pipe.set_progress_bar_config(disable=True)

    def ours(_: int = 0) -> np.ndarray:
        return sample_videos(model, prompts, seeds, settings, frames, height, width)

    def theirs(_: int = 0) -> np.ndarray:
        out = pipe(
            prompt=prompts,
            num_frames=frames,
            height=height,
            width=width,
            num_inference_steps=steps,
            guidance_scale=settings.guidance,
            generator=[torch.Generator().manual_seed(s) for s in seeds],
            output_type="np",
        ).frames
        return (np.asarray(out) * 255).round().astype(np.uint8)

    videos = {"diffusers": theirs(), "workbench": ours()}
    times = {
        name: median_seconds(fn, repeats, f"bench sample {name}")
        for name, fn in (("diffusers", theirs), ("workbench", ours))
    }
    diff = np.abs(videos["workbench"].astype(int) - videos["diffusers"].astype(int))
    shape = {"videos": batch, "frames": frames, "height": height, "width": width}
    return {
        "benchmark": "sample",
        "arch": arch,
        **shape,
        "steps": steps,
        "scheduler": settings.scheduler,
        "guidance": settings.guidance,
        "device": device_name(runtime.device),
        "seconds": times,
        "videos_per_s": {k: batch / v for k, v in times.items()},
        "speedup_workbench_over_diffusers": times["diffusers"] / times["workbench"],
        "max_pixel_diff": int(diff.max()),
        "mean_pixel_diff": float(diff.mean()),
    }
