"""Training data, encoded once into the on-disk cache and read lazily, and the draws that
make every step reproducible.

An item is a ground-truth clip (SFT) or a pair (winner, loser). Its noise, timestep and
prompt dropout are a function of (seed, item, epoch) alone, so a resumed run repeats them
exactly and a reference model's errors can be computed ahead of time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from training.cache import (
    RamCache,
    Shelf,
    cache_key,
    cache_root,
    cached_conditions,
    cached_latents,
)
from workbench import media
from workbench.datasets import get_dataset, load_first_frame, load_gt_frames, load_samples
from workbench.errors import WorkbenchError, unknown_name
from workbench.models.wan import Conditioning, WanVideoModel
from workbench.store import Store

DEFAULT_RAM_BYTES = 4 << 30


@dataclass
class TrainingSet:
    """Items on shelves: winner latents (C, T, H, W) each, loser latents for pairs, prompts,
    and for I2V the first-frame condition (the sample's stored first frame, as rollouts use)."""

    winners: Shelf
    losers: Shelf | None
    prompts: list[str]
    num_frames: int
    image_latents: Shelf | None = None
    image_embeds: Shelf | None = None
    fingerprint: str = ""
    """Names the items' content (videos, prompts, first frames, order) for shared caches."""

    def __len__(self) -> int:
        return len(self.prompts)

    def condition(self, model: WanVideoModel, items: list[int], prompts: list[str]) -> Conditioning:
        image = None if self.image_latents is None else self.image_latents[items]
        embeds = None if self.image_embeds is None else self.image_embeds[items]
        return Conditioning(model.prompts.encode(prompts), image, embeds)


def load_clips(
    store: Store,
    model: WanVideoModel,
    dataset: str,
    split: str = "train",
    ram_bytes: int = DEFAULT_RAM_BYTES,
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
    how = "exact" if spec.kind == "world" else "mp4"
    clips = [
        (f"{s['video_id']}-{how}", functools.partial(load_gt_frames, store, s, spec))
        for s in samples
    ]
    return _training_set(store, model, samples, clips, None, spec.frames, ram_bytes)


def load_pairs(
    store: Store, model: WanVideoModel, pairset: str, ram_bytes: int = DEFAULT_RAM_BYTES
) -> TrainingSet:
    """A pair set's winners and losers, both read from their mp4 files alike.

    Raises:
        WorkbenchError: unknown or empty pair set, two sides of a pair that differ in shape,
            a format the model cannot take.
    """
    rows = store.pair_rows(pairset)
    if not rows:
        raise unknown_name("pair set", pairset, store.pairsets())
    shapes = set()
    for row in rows:
        w, l_ = (tuple(row[f"{side}_{k}"] for k in ("frames", "height", "width")) for side in "wl")
        if w != l_:
            raise WorkbenchError(
                f"pair {row['id']} in {pairset!r}: winner {w} and loser {l_} differ in shape "
                "(frames, height, width)"
            )
        shapes.add(w)
    if len(shapes) > 1:
        raise WorkbenchError(f"pair set {pairset!r} mixes clip formats")
    frames, height, width = shapes.pop()
    model.check_clip_format(frames, height, width)
    read = lambda path: media.read_video(store.path(path))[0]  # noqa: E731
    winners = [(f"{r['w_id']}-mp4", functools.partial(read, r["w_path"])) for r in rows]
    losers = [(f"{r['l_id']}-mp4", functools.partial(read, r["l_path"])) for r in rows]
    return _training_set(store, model, rows, winners, losers, frames, ram_bytes)


def _training_set(store, model, rows, winners, losers, num_frames, ram_bytes) -> TrainingSet:
    ram = RamCache(ram_bytes)
    content = [
        (name, None if losers is None else losers[i][0], r["prompt"], r["first_frame"])
        for i, ((name, _), r) in enumerate(zip(winners, rows, strict=True))
    ]
    root = cache_root(store)
    w_files = cached_latents(root, model, winners)
    l_files = None if losers is None else cached_latents(root, model, losers)
    data = TrainingSet(
        Shelf(w_files, "latents", ram),
        None if l_files is None else Shelf(l_files, "latents", ram),
        [r["prompt"] for r in rows],
        num_frames,
        fingerprint=cache_key([model.codec.fingerprint, num_frames, content]),
    )
    if model.task == "i2v":
        firsts = [
            (
                _frame_name(r["first_frame"]),
                functools.partial(load_first_frame, store, r["first_frame"]),
            )
            for r in rows
        ]
        files = cached_conditions(root, model, firsts, num_frames)
        data.image_latents = Shelf(files, "image_latents", ram)
        if model.image_encoder is not None:
            data.image_embeds = Shelf(files, "image_embeds", ram)
    return data


def _frame_name(relative: str) -> str:
    return relative.rsplit("/", 1)[-1].removesuffix(".png")  # named by content


@dataclass
class Draws:
    """What a batch of items gets: item indices, shared noise (for both sides), t, dropout."""

    items: list[int]
    epochs: list[int]
    noise: torch.Tensor
    t: torch.Tensor
    drop: torch.Tensor  # bool: prompt replaced by ''

    def part(self, index: int, parts: int) -> Draws:
        """The `index`-th of `parts` equal slices: a data-parallel rank's share."""
        size = len(self.items) // parts
        cut = slice(index * size, (index + 1) * size)
        return Draws(
            self.items[cut], self.epochs[cut], self.noise[cut], self.t[cut], self.drop[cut]
        )


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
