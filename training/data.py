"""Training data in memory, encoded once, and the draws that make every step reproducible.

An item is a ground-truth clip (SFT) or a pair (winner, loser). Its noise, timestep and
prompt dropout are a function of (seed, item, epoch) alone, so a resumed run repeats them
exactly and a reference model's errors can be computed ahead of time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from workbench import media
from workbench.datasets import get_dataset, load_gt_frames, load_samples
from workbench.errors import WorkbenchError, unknown_name
from workbench.models.wan import WanVideoModel
from workbench.store import Store


@dataclass
class TrainingSet:
    """Encoded items: winner latents (N, C, T, H, W), loser latents for pairs, prompts."""

    winners: torch.Tensor
    losers: torch.Tensor | None
    prompts: list[str]
    first_frames: np.ndarray  # (N, H, W, 3): the I2V condition
    num_frames: int

    def __len__(self) -> int:
        return len(self.prompts)


def _encode(model: WanVideoModel, frames: np.ndarray) -> torch.Tensor:
    return torch.cat([model.codec.encode(frames[i : i + 16]) for i in range(0, len(frames), 16)])


def load_clips(
    store: Store, model: WanVideoModel, dataset: str, split: str = "train"
) -> TrainingSet:
    """A dataset split's ground-truth clips (exact for world clips).

    Raises:
        WorkbenchError: the split is empty or its format does not fit the model.
    """
    spec = get_dataset(store, dataset)
    model.check_clip_format(spec.frames, spec.height, spec.width)
    samples = load_samples(store, dataset, split)
    if not samples:
        raise WorkbenchError(f"dataset {dataset!r} has no {split} samples")
    frames = np.stack([load_gt_frames(store, s) for s in samples])
    return TrainingSet(_encode(model, frames), None, [s["prompt"] for s in samples],
                       frames[:, 0].copy(), spec.frames)  # fmt: skip


def load_pairs(store: Store, model: WanVideoModel, pairset: str) -> TrainingSet:
    """A pair set's winners and losers, both read from their mp4 files alike.

    Raises:
        WorkbenchError: unknown or empty pair set, two sides of a pair that differ in shape,
            a format the model cannot take.
    """
    rows = store.query(
        """SELECT p.id, s.prompt, w.path AS winner, l.path AS loser FROM pairs p
           JOIN samples s ON s.id = p.sample_id JOIN videos w ON w.id = p.winner_video
           JOIN videos l ON l.id = p.loser_video WHERE p.pairset = ? ORDER BY p.id""",
        [pairset],
    )
    if not rows:
        known = [r["pairset"] for r in store.query("SELECT DISTINCT pairset FROM pairs")]
        raise unknown_name("pair set", pairset, known)
    winners, losers = [], []
    for row in rows:
        w, _ = media.read_video(store.path(row["winner"]))
        l_, _ = media.read_video(store.path(row["loser"]))
        if w.shape != l_.shape:
            raise WorkbenchError(
                f"pair {row['id']} in {pairset!r}: winner {w.shape} and loser {l_.shape} differ in "
                "shape (frames, height, width)"
            )
        winners.append(w)
        losers.append(l_)
    if len({x.shape for x in winners}) > 1:
        raise WorkbenchError(f"pair set {pairset!r} mixes clip formats")
    w, l_ = np.stack(winners), np.stack(losers)
    model.check_clip_format(*w.shape[1:4])
    return TrainingSet(_encode(model, w), _encode(model, l_), [r["prompt"] for r in rows],
                       w[:, 0].copy(), w.shape[1])  # fmt: skip


@dataclass
class Draws:
    """What a batch of items gets: item indices, shared noise (for both sides), t, dropout."""

    items: list[int]
    epochs: list[int]
    noise: torch.Tensor
    t: torch.Tensor
    drop: torch.Tensor  # bool: prompt replaced by ''


def batch_draws(
    data: TrainingSet, position: int, batch_size: int, seed: int, t_sampler, prompt_dropout: float
) -> Draws:
    """Draws for items [position, position + batch_size) of the endless shuffled sequence."""
    n = len(data)
    items, epochs, noise, t, drop = [], [], [], [], []
    for p in range(position, position + batch_size):
        epoch = p // n
        item = int(_epoch_order(n, seed, epoch)[p % n])
        gen = item_generator(seed, item, epoch)
        noise.append(torch.randn(data.winners.shape[1:], generator=gen))
        t.append(t_sampler(1, gen))
        drop.append(torch.rand(1, generator=gen) < prompt_dropout)
        items.append(item)
        epochs.append(epoch)
    return Draws(items, epochs, torch.stack(noise), torch.cat(t), torch.cat(drop))


def item_generator(seed: int, item: int, epoch: int) -> torch.Generator:
    mixed = np.random.SeedSequence([seed, item, epoch]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(mixed))


@lru_cache(maxsize=4)
def _epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)
