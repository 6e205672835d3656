"""Pairs whose loser is the generator's edit of the real video, which wins.

Denoised-from-real (DenseDPO, arXiv 2506.03517): the loser is the generator's denoising of a
partly noised copy of the whole clip (SDEdit at `strength`: `sampling.edit_videos`), so
winner and loser share layout and motion and differ in the model's own local flaws.
Locally corrupted (LocalDPO-style): only a region is made anew, the object or the background
over a window of the clip's frames (`region_masks`); outside it the loser is the real video,
pixel for pixel, so the pair says exactly where the model falls short.

Cost: one partial rollout a prompt (strength x the sampler's steps). Every pair records the
source, the generator, its parameters and the seed; each loser is stored as a generated
video with its settings, as a rollout is."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation
from tqdm.auto import tqdm

from workbench.checkpoint_registry import resolve_checkpoint
from workbench.datasets import get_dataset, load_first_frame, load_gt_frames, load_samples
from workbench.errors import WorkbenchError
from workbench.generation import generation_key, inference_model
from workbench.models.loading import sampling_defaults
from workbench.models.runtime import pick_runtime
from workbench.pairsets import REGIONS, real_pair
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
    region: str | None = None,
    span: float = 0.5,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Store the pair set `name`: each sample's real video over the generator's denoising of
    it from `strength` (sample i draws its noise from seed + i); with a `region`, of that
    region only, over `span` of the clip's frames.

    Raises:
        WorkbenchError: the pair set exists, a strength or span outside (0, 1], an unknown
            region, generator or dataset, or a clip format the generator cannot make.
    """
    command, source, kind, edit = _recipe(generator, strength, region, span)
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
    run = run_row(command, {"pairset": name, "dataset": dataset, **source}, seed)
    videos, generations, pairs = [], [], []
    with media_stage(store) as stage:
        for start in tqdm(range(0, len(samples), batch_size), "denoise", disable=not progress):
            batch = samples[start : start + batch_size]
            edited = _edit(store, model, spec, batch, settings, strength, seed, region, span)
            for sample, sd, frames in edited:
                video = stage.add_video(frames, spec.fps)
                videos.append({**video, "source": "generated", "sample_id": sample["id"]})
                key = generation_key(ref, sample["id"], settings, sd, edit)
                generation = {"key": key, "checkpoint": ref.name, "sample_id": sample["id"]}
                generation |= {"seed": sd, "settings": {**settings.to_dict(), **edit}}
                generations.append({**generation, "video_id": video["id"], "run_id": run["id"]})
                made = {**source, "seed": sd}
                pairs.append(real_pair(name, sample, video["id"], made, kind))

        def write(con) -> None:
            insert_rows(con, "runs", [run])
            insert_rows(con, "videos", videos, ignore_existing=True)
            insert_rows(con, "generations", generations, ignore_existing=True)
            insert_rows(con, "pairs", pairs)

        stage.commit(write)
    cost = f"{len(pairs)} partial rollouts of {round(strength * settings.steps)} steps"
    return {"pairset": name, "pairs": len(pairs), **source, "cost": cost}


def _recipe(generator: str, strength: float, region: str | None, span: float):
    """The command, provenance, pair kind and generation edit of a whole-clip denoising, or
    of a regional one with a `region`.

    Raises:
        WorkbenchError: a strength or span outside (0, 1], an unknown region.
    """
    if not 0 < strength <= 1:
        raise WorkbenchError(f"--strength must be in (0, 1], got {strength}")
    if region is not None and region not in REGIONS:
        raise WorkbenchError(f"unknown region {region!r}; choose from {', '.join(REGIONS)}")
    if not 0 < span <= 1:
        raise WorkbenchError(f"--span must be in (0, 1], got {span}")
    source = {"source": "denoised-from-real", "generator": generator, "strength": strength}
    if region is None:
        return "pairs.denoise", source, "denoised", {"denoised_from_real": strength}
    source |= {"source": "locally-corrupted", "region": region, "span": span}
    return "pairs.corrupt", source, "corrupted", {"corrupted": [region, span, strength]}


def _edit(store: Store, model, spec, batch, settings, strength, seed, region, span):
    """(sample, seed, edited clip) for a batch of samples: their real clips denoised from
    `strength` (in `region` only, when one is named), sample i's noise drawn from seed + i."""
    clips = np.stack([load_gt_frames(store, s, spec) for s in batch])
    first = None
    if model.task == "i2v":
        first = np.stack([load_first_frame(store, s["first_frame"]) for s in batch])
    seeds = [seed + s["idx"] for s in batch]
    prompts = [s["prompt"] for s in batch]
    masks = None if region is None else region_masks(clips, region, span, seeds)
    edited = edit_videos(model, prompts, seeds, settings, clips, strength, first, masks)
    return zip(batch, seeds, edited, strict=True)


OBJECT_CONTRAST = 24  # least colour difference (0-255, any channel) from the background


def region_masks(clips: np.ndarray, region: str, span: float, seeds: list[int]) -> np.ndarray:
    """(B, T, H, W) bool: where each clip (B, T, H, W, 3) is made anew. The object is what
    stands out from the clip's background colour (the median of its border pixels; exact on
    the shapes world's plain backgrounds, a crude saliency on real footage), grown by a
    pixel; the background is the rest. Only in ceil(span x T) consecutive frames, placed by
    the clip's seed."""
    masks = np.zeros(clips.shape[:4], dtype=bool)
    frames = clips.shape[1]
    window = max(1, int(np.ceil(span * frames)))
    for i, (clip, seed) in enumerate(zip(clips, seeds, strict=True)):
        border = np.concatenate(
            [clip[:, [0, -1]].reshape(-1, 3), clip[:, :, [0, -1]].reshape(-1, 3)]
        )
        background = np.median(border, axis=0)
        obj = np.abs(clip.astype(np.int16) - background).max(axis=-1) > OBJECT_CONTRAST
        obj = binary_dilation(obj, structure=np.ones((1, 3, 3), bool))  # grown a pixel
        start = np.random.default_rng(seed).integers(0, frames - window + 1)
        chosen = obj if region == "object" else ~obj
        masks[i, start : start + window] = chosen[start : start + window]
    return masks
