"""Denoised-from-real pairs (DenseDPO's recipe, arXiv 2506.03517): the real video wins; the
loser is the generator's denoising of a partly noised copy of it (SDEdit at `strength`:
`sampling.edit_videos`), so winner and loser share layout and motion and differ in the
model's own local flaws. Its cost is one partial rollout a prompt (strength x the sampler's
steps). Every pair records the source, the generator, the strength and the seed; each loser
is stored as a generated video with its settings, as a rollout is."""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

from workbench.checkpoint_registry import resolve_checkpoint
from workbench.datasets import get_dataset, load_first_frame, load_gt_frames, load_samples
from workbench.errors import WorkbenchError
from workbench.generation import generation_key, inference_model
from workbench.models.loading import sampling_defaults
from workbench.models.runtime import pick_runtime
from workbench.pairsets import real_pair
from workbench.provenance import run_row
from workbench.sampling import SamplerSettings, edit_videos
from workbench.staging import media_stage
from workbench.store import Store, insert_rows


def denoised_pairs(
    store: Store,
    dataset: str,
    generator: str,
    name: str,
    strength: float = 0.5,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Store the pair set `name`: each sample's real video over the generator's denoising of
    it from `strength` (sample i draws its noise from seed + i).

    Raises:
        WorkbenchError: the pair set exists, a strength outside (0, 1], an unknown generator
            or dataset, or a clip format the generator cannot make.
    """
    if not 0 < strength <= 1:
        raise WorkbenchError(f"--strength must be in (0, 1], got {strength}")
    if store.pairset_exists(name):
        raise WorkbenchError(f"pair set {name!r} exists; choose another --name")
    ref = resolve_checkpoint(store, generator)
    spec = get_dataset(store, dataset)
    samples = load_samples(store, dataset, split)[:n]
    if not samples:
        raise WorkbenchError(f"dataset {dataset!r} has no {split} samples")
    settings = SamplerSettings.from_defaults(sampling_defaults(ref.path))
    model = inference_model(ref.path, pick_runtime())
    model.check_clip_format(spec.frames, spec.height, spec.width)
    source = {"source": "denoised-from-real", "generator": generator, "strength": strength}
    run = run_row("pairs.denoise", {"pairset": name, "dataset": dataset, **source}, seed)
    videos, generations, pairs = [], [], []
    with media_stage(store) as stage:
        for start in tqdm(range(0, len(samples), batch_size), "denoise", disable=not progress):
            batch = samples[start : start + batch_size]
            for sample, sd, frames in _edit(store, model, spec, batch, settings, strength, seed):
                video = stage.add_video(frames, spec.fps)
                videos.append({**video, "source": "generated", "sample_id": sample["id"]})
                edit = {"denoised_from_real": strength}
                key = generation_key(ref, sample["id"], settings, sd, edit)
                generation = {"key": key, "checkpoint": ref.name, "sample_id": sample["id"]}
                generation |= {"seed": sd, "settings": {**settings.to_dict(), **edit}}
                generations.append({**generation, "video_id": video["id"], "run_id": run["id"]})
                made = {**source, "seed": sd}
                pairs.append(real_pair(name, sample, video["id"], made, "denoised"))

        def write(con) -> None:
            insert_rows(con, "runs", [run])
            insert_rows(con, "videos", videos, ignore_existing=True)
            insert_rows(con, "generations", generations, ignore_existing=True)
            insert_rows(con, "pairs", pairs)

        stage.commit(write)
    cost = f"{len(pairs)} partial rollouts of {round(strength * settings.steps)} steps"
    return {"pairset": name, "pairs": len(pairs), "strength": strength, "cost": cost}


def _edit(store: Store, model, spec, batch: list[dict], settings, strength: float, seed: int):
    """(sample, seed, edited clip) for a batch of samples: their real clips denoised from
    `strength`, sample i's noise drawn from seed + i."""
    clips = np.stack([load_gt_frames(store, s, spec) for s in batch])
    first = None
    if model.task == "i2v":
        first = np.stack([load_first_frame(store, s["first_frame"]) for s in batch])
    seeds = [seed + s["idx"] for s in batch]
    prompts = [s["prompt"] for s in batch]
    edited = edit_videos(model, prompts, seeds, settings, clips, strength, first)
    return zip(batch, seeds, edited, strict=True)
