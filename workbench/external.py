"""Videos made elsewhere (another model's outputs, a folder of real clips) as a source that
evaluation, reports and the app treat like a checkpoint.

The source is a `checkpoints` row with method 'videos' and one `generations` row per video,
linked to a sample: matched by prompt in an existing dataset (outputs on our prompts), or of
a new dataset of the same name whose ground truth is the clips themselves (real clips).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from workbench import media
from workbench.checkpoint_registry import checkpoint_exists, register_checkpoint
from workbench.datasets import DatasetSpec, get_dataset, load_samples
from workbench.errors import WorkbenchError
from workbench.importer import VIDEO_SUFFIXES, import_videos, read_captions
from workbench.staging import media_stage
from workbench.store import Store, insert_rows

EXTERNAL_METHOD = "videos"


def external_generation_rows(name: str, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """generations rows for (sample_id, video_id) pairs of the source `name`."""
    return [
        {
            "key": hashlib.sha256(f"{name}|{sample}".encode()).hexdigest()[:24],
            "checkpoint": name,
            "sample_id": sample,
            "seed": 0,
            "settings": {"external": name},
            "video_id": video,
            "run_id": None,
        }
        for sample, video in pairs
    ]


def register_external_videos(
    store: Store, videos_dir: Path, prompts_file: Path, name: str, dataset: str | None = None
) -> dict[str, Any]:
    """Register a folder of videos as the source `name`; all or nothing.

    Raises:
        WorkbenchError: the name is taken, a file is bad or unprompted, or (with a dataset)
            a prompt matches no sample of it.
    """
    if checkpoint_exists(store, name):
        raise WorkbenchError(f"{name!r} is already a checkpoint or source; choose another --name")
    videos_dir = Path(videos_dir)
    if dataset is None:
        return _as_new_dataset(store, videos_dir, prompts_file, name)
    return _matched_to_dataset(store, videos_dir, prompts_file, name, dataset)


def _as_new_dataset(store: Store, videos_dir: Path, prompts_file: Path, name: str) -> dict:
    files = sorted(p for p in videos_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise WorkbenchError(f"no videos in {videos_dir}")
    frames, fps = media.read_video(files[0])
    t, h, w, _ = frames.shape
    spec = DatasetSpec(
        name=name,
        kind="videos",
        fps=fps,
        frames=t,
        height=h - h % 2,
        width=w - w % 2,
        config={"external": str(videos_dir)},
    )
    outcomes = import_videos(store, videos_dir, prompts_file, spec, split="test")
    samples = {s["id"]: s["video_id"] for s in load_samples(store, name)}
    pairs = [(o.sample_id, samples[o.sample_id]) for o in outcomes]
    with store.write() as con:
        register_checkpoint(
            con,
            store,
            name=name,
            path=videos_dir,
            method=EXTERNAL_METHOD,
            task="t2v",
            config={"dataset": name},
        )
        insert_rows(con, "generations", external_generation_rows(name, pairs))
    return {"source": name, "dataset": name, "videos": len(pairs)}


def _matched_to_dataset(
    store: Store, videos_dir: Path, prompts_file: Path, name: str, dataset: str
) -> dict:
    spec = get_dataset(store, dataset)
    by_prompt: dict[str, str] = {}
    for sample in load_samples(store, dataset):  # test samples win over train ones
        if sample["split"] == "test" or sample["prompt"] not in by_prompt:
            by_prompt[sample["prompt"]] = sample["id"]
    captions = read_captions(prompts_file)
    problems, clips = [], []
    for file, entry in sorted(captions.items()):
        sample = by_prompt.get(entry["caption"])
        try:
            if sample is None:
                raise WorkbenchError(f"prompt {entry['caption']!r} is not in dataset {dataset!r}")
            frames, fps = media.read_video(videos_dir / file)
            clip = media.resample(frames, fps, spec.fps, spec.frames)
            clips.append((sample, media.resize_center_crop(clip, spec.height, spec.width)))
        except WorkbenchError as exc:
            problems.append(f"  {file}: {str(exc).removeprefix(f'{file}: ')}")
    if problems:
        raise WorkbenchError(
            f"nothing registered; {len(problems)} bad file(s):\n" + "\n".join(problems)
        )
    return _commit(store, name, videos_dir, dataset, spec, clips)


def _commit(store, name, videos_dir, dataset, spec, clips: list[tuple[str, np.ndarray]]) -> dict:
    with media_stage(store) as stage:
        videos = [(sample, stage.add_video(clip, spec.fps)) for sample, clip in clips]

        def write(con) -> None:
            rows = [{**v, "source": "external", "sample_id": s} for s, v in videos]
            insert_rows(con, "videos", rows, ignore_existing=True)
            register_checkpoint(
                con,
                store,
                name=name,
                path=videos_dir,
                method=EXTERNAL_METHOD,
                task="t2v",
                config={"dataset": dataset},
            )
            pairs = [(s, v["id"]) for s, v in videos]
            insert_rows(con, "generations", external_generation_rows(name, pairs))

        stage.commit(write)
    return {"source": name, "dataset": dataset, "videos": len(clips)}
