"""Training data in memory: ground-truth clips encoded once, and a deterministic batch order."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from workbench.datasets import get_dataset, load_gt_frames, load_samples
from workbench.errors import WorkbenchError
from workbench.models.wan import WanVideoModel
from workbench.store import Store


@dataclass
class ClipSet:
    """A dataset split, encoded: latents (N, C, T, H, W), prompts, first frames (N, H, W, 3)."""

    latents: torch.Tensor
    prompts: list[str]
    first_frames: np.ndarray
    num_frames: int

    def __len__(self) -> int:
        return len(self.prompts)


def load_clips(store: Store, model: WanVideoModel, dataset: str, split: str = "train") -> ClipSet:
    """Raises WorkbenchError if the split is empty or its format does not fit the model."""
    spec = get_dataset(store, dataset)
    model.check_clip_format(spec.frames, spec.height, spec.width)
    samples = load_samples(store, dataset, split)
    if not samples:
        raise WorkbenchError(f"dataset {dataset!r} has no {split} samples")
    frames = np.stack([load_gt_frames(store, s) for s in samples])
    latents = torch.cat([model.codec.encode(frames[i : i + 16]) for i in range(0, len(frames), 16)])
    return ClipSet(latents, [s["prompt"] for s in samples], frames[:, 0].copy(), spec.frames)


def step_generator(seed: int, step: int, micro: int = 0) -> torch.Generator:
    """Noise, timesteps and dropout of a step depend on (seed, step) only: resume is exact."""
    mixed = np.random.SeedSequence([seed, step, micro]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(mixed))


def batch_indices(n: int, batch_size: int, seed: int, position: int) -> list[int]:
    """Items [position, position + batch_size) of the endless sequence of per-epoch shuffles."""
    return [
        int(_epoch_order(n, seed, p // n)[p % n]) for p in range(position, position + batch_size)
    ]


@lru_cache(maxsize=4)
def _epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)
