"""Generating a dataset split's videos with a checkpoint, cached by what determines them.

A video is a pure function of (weights, sample, sampler settings, seed); the hash of those is
the generation key, so a rerun reuses every video it already has.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from workbench.checkpoint_registry import CheckpointRef, resolve_checkpoint
from workbench.datasets import get_dataset, load_first_frame, load_samples
from workbench.errors import WorkbenchError
from workbench.launch import share, wait_for_all
from workbench.models.loading import load_model, sampling_defaults
from workbench.models.runtime import Runtime, pick_runtime
from workbench.models.wan import WanVideoModel
from workbench.provenance import run_row
from workbench.sampling import SamplerSettings, sample_videos
from workbench.staging import media_stage
from workbench.store import Store, insert_rows


def generation_key(
    ref: CheckpointRef,
    sample_id: str,
    settings: SamplerSettings,
    seed: int,
    edit: dict[str, Any] | None = None,
) -> str:
    """What a generated video depends on; `edit`: how a real clip was edited instead of
    sampling from noise (a rollout's key is unchanged without it)."""
    payload = [ref.fingerprint, sample_id, settings.to_dict(), seed, *([edit] if edit else [])]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def generate(
    store: Store,
    ckpt: str,
    dataset: str,
    split: str = "test",
    n: int | None = None,
    seed: int = 0,
    batch_size: int = 8,
    allow_new: bool = True,
    progress: bool = True,
    sample_ids: list[str] | None = None,
    offload: bool = False,
    split_samples: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Videos of `ckpt` for the first `n` samples of a split (or the samples `sample_ids`);
    one row per sample.

    Sample i gets seed `seed + i`. With allow_new False nothing is generated: missing videos
    raise instead. Runs on the accelerator when there is one (bf16 there); `offload` keeps
    each part on the CPU except while it works. `split_samples`: the split's samples when the
    caller has loaded them already (a re-run that finds every video is then one lookup).

    Raises:
        WorkbenchError: unknown checkpoint or dataset, a clip format the model cannot make,
            missing videos when generation is not allowed.
    """
    ref = resolve_checkpoint(store, ckpt)
    samples = load_samples(store, dataset, split) if split_samples is None else split_samples
    samples = [s for s in samples if s["id"] in sample_ids] if sample_ids else samples[:n]
    if not samples:
        raise WorkbenchError(f"dataset {dataset!r} has no {split} samples")
    if ref.method == "videos":  # an external source: its videos are all there is
        return _external_videos(store, ref, samples)
    try:
        settings = SamplerSettings.from_defaults(sampling_defaults(ref.path), **overrides)
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from exc
    jobs = [
        (s, seed + s["idx"], generation_key(ref, s["id"], settings, seed + s["idx"]))
        for s in samples
    ]
    keys = [k for _, _, k in jobs]
    have = _generated(store, keys)
    todo = [j for j in jobs if j[2] not in have]
    if todo and not allow_new:
        raise WorkbenchError(
            f"checkpoint {ref.name!r} has no videos for {len(todo)} {split} samples "
            "and generation is disabled"
        )
    if todo:
        _generate_missing(
            store, ref, dataset, split, todo, settings, seed, batch_size, offload, progress
        )
        have |= _generated(store, keys)
    new = {k for _, _, k in todo}
    return [
        {"sample_id": s["id"], "seed": sd, "video_id": have[k], "new": k in new}
        for s, sd, k in jobs
    ]


def _generate_missing(
    store: Store,
    ref: CheckpointRef,
    dataset: str,
    split: str,
    todo: list[tuple[dict[str, Any], int, str]],
    settings: SamplerSettings,
    seed: int,
    batch_size: int,
    offload: bool,
    progress: bool,
) -> None:
    """Sample and store the videos of `todo` (sample, seed, key) in batches under one run;
    under torchrun each process makes its share and waits for the others'."""
    spec = get_dataset(store, dataset)
    model = inference_model(ref.path, pick_runtime(offload=offload))
    model.check_clip_format(spec.frames, spec.height, spec.width)
    config = {"checkpoint": ref.name, "dataset": dataset, "split": split}
    run = run_row("generate", {**config, "settings": settings.to_dict()}, seed)
    store.insert("runs", [run])
    mine = share(todo)
    bar = tqdm(total=len(mine), desc=f"generate {ref.name}", unit="video", disable=not progress)
    for start in range(0, len(mine), batch_size):
        batch = mine[start : start + batch_size]
        _generate_batch(store, model, ref, spec, batch, settings, run["id"])
        bar.update(len(batch))
    bar.close()
    wait_for_all()


def _generated(store: Store, keys: list[str]) -> dict[str, str]:
    rows = store.query("SELECT key, video_id FROM generations WHERE list_contains(?, key)", [keys])
    return {r["key"]: r["video_id"] for r in rows}


def inference_model(path, runtime: Runtime) -> WanVideoModel:
    """A model loaded for sampling: every part frozen, in the runtime's dtype and place."""
    model = load_model(path, runtime.frozen_dtype)
    runtime.freeze(model.transformer)
    model.place(runtime)
    return model


def _external_videos(store: Store, ref: CheckpointRef, samples: list[dict]) -> list[dict]:
    rows = store.query(
        "SELECT sample_id, seed, video_id FROM generations WHERE checkpoint = ? "
        "AND list_contains(?, sample_id)",
        [ref.name, [s["id"] for s in samples]],
    )
    if not rows:
        raise WorkbenchError(f"source {ref.name!r} has no videos for these samples")
    return [{**r, "new": False} for r in rows]


def _generate_batch(store, model, ref, spec, batch, settings, run_id) -> None:
    first = None
    if model.task == "i2v":
        first = np.stack([load_first_frame(store, s["first_frame"]) for s, _, _ in batch])
    videos = sample_videos(
        model,
        [s["prompt"] for s, _, _ in batch],
        [sd for _, sd, _ in batch],
        settings,
        spec.frames,
        spec.height,
        spec.width,
        first,
    )
    video_rows, gen_rows = [], []
    with media_stage(store) as stage:
        for (sample, sd, key), frames in zip(batch, videos, strict=True):
            row = stage.add_video(frames, spec.fps)
            video_rows.append({**row, "source": "generated", "sample_id": sample["id"]})
            gen_rows.append(
                {
                    "key": key,
                    "checkpoint": ref.name,
                    "sample_id": sample["id"],
                    "seed": sd,
                    "settings": settings.to_dict(),
                    "video_id": row["id"],
                    "run_id": run_id,
                }
            )

        def write(con) -> None:
            insert_rows(con, "videos", video_rows, ignore_existing=True)
            insert_rows(con, "generations", gen_rows)

        stage.commit(write)
