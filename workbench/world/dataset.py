"""Writing shapes-world samples into the store as a dataset."""

from __future__ import annotations

from tqdm.auto import tqdm

from workbench.datasets import DatasetSpec, check_dataset, commit_samples, sample_indices
from workbench.provenance import run_row
from workbench.staging import media_stage
from workbench.store import Store
from workbench.world.shapes import WorldConfig, make_sample


def world_spec(name: str, cfg: WorldConfig, seed: int) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        kind="world",
        fps=cfg.fps,
        frames=cfg.frames,
        height=cfg.size,
        width=cfg.size,
        config={"world": cfg.to_dict(), "seed": seed},
    )


def make_world_dataset(
    store: Store, name: str, cfg: WorldConfig, n: int, seed: int = 0, progress: bool = True
) -> dict:
    """Ensure samples 0..n-1 of the world exist (rerunning adds only the missing ones).

    Returns a summary: dataset, added, existing, train, test.
    """
    spec = world_spec(name, cfg, seed)
    with store.read() as con:
        check_dataset(con, spec)  # fail before rendering anything
        have = sample_indices(con, name)
    todo = [i for i in range(n) if i not in have]
    videos, samples = [], []
    with media_stage(store) as stage:
        for index in tqdm(todo, desc=f"world {name}", unit="clip", disable=not progress):
            sample = make_sample(cfg, seed, index)
            video = stage.add_video(sample.frames, cfg.fps)
            videos.append({**video, "source": "gt", "sample_id": f"{name}:{index}"})
            samples.append(
                {
                    "id": f"{name}:{index}",
                    "dataset": name,
                    "split": sample.split,
                    "idx": index,
                    "prompt": sample.prompt,
                    "attributes": sample.attributes,
                    "video_id": video["id"],
                    "first_frame": stage.add_png(sample.frames[0]),
                }
            )
        run = run_row("world.make", {"dataset": name, "n": n, **spec.config}, seed)
        commit_samples(stage, spec, videos, samples, run)
    splits = [s["split"] for s in samples]
    return {
        "dataset": name,
        "added": len(todo),
        "existing": len(have),
        "train": splits.count("train"),
        "test": splits.count("test"),
    }
