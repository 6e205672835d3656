"""A generator's rollouts per sample, judged: what annotated and judge-mined pair sets choose
winners and losers from. Rollout k of a sample has GT-Pair's seed for rollout k, so a GT-Pair
set's losers are reused from the generation cache, and so are the judges' scores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evaluators.runner import mean_overall, score_videos
from workbench.datasets import load_samples
from workbench.generation import generate
from workbench.pairsets import ORACLE_JUDGES
from workbench.pairsets.gtpair import ROLLOUT_SEED_STRIDE
from workbench.store import Store


@dataclass(frozen=True)
class JudgedRollouts:
    videos: dict[str, list[str]]
    """sample -> its distinct rollouts' videos, in rollout order."""
    utility: dict[str, float]
    """video -> the mean of the judges' `overall` scores (VQ and PF, as the app asks people)."""


def judged_rollouts(
    store: Store,
    generator: str,
    dataset: str,
    split: str,
    n: int | None,
    seed: int,
    per_sample: int,
    judges: tuple[str, ...] = ORACLE_JUDGES,
    progress: bool = True,
    weights: Path | None = None,
) -> JudgedRollouts:
    """`per_sample` rollouts of the first `n` samples (cached), scored by `judges` (cached;
    those that need weights find them in `weights`: VideoReward on real videos).

    Raises:
        WorkbenchError: an unknown generator, dataset or judge, or a judge that cannot score
            the dataset.
    """
    samples = {s["id"]: s for s in load_samples(store, dataset, split)}
    videos: dict[str, list[str]] = {}
    for k in range(per_sample):
        rollout_seed = seed + k * ROLLOUT_SEED_STRIDE
        for row in generate(store, generator, dataset, split, n, rollout_seed, progress=progress):
            videos.setdefault(row["sample_id"], []).append(row["video_id"])
    videos = {s: list(dict.fromkeys(ids)) for s, ids in videos.items()}
    scored = [(v, samples[s]) for s, ids in videos.items() for v in ids]
    versions = score_videos(
        store, list(judges), dataset, scored, progress=progress, weights=weights
    )
    return JudgedRollouts(videos, mean_overall(store, versions, [v for v, _ in scored]))
