"""On-disk caches of what the frozen encoders make, so a dataset is encoded once and read
lazily: a training set need not fit in memory, and every arm of a study reuses the encoding.

- latents: one safetensors file per (video, how its frames were read, codec);
- I2V conditions: one file per (first frame, frame count, VAE and image encoder);
- reference errors: one table per (reference weights, items, draws, numerics), shared by
  every run that would compute the same numbers (the arms of a study, an r ablation).
Files appear whole (written aside, then renamed). A shelf reads them on demand and keeps the
most recently read in RAM up to a byte budget shared by the shelves of a training set.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from workbench.models.wan import WanVideoModel
from workbench.store import Store


def cache_root(store: Store) -> Path:
    return store.home / "cache"


class RamCache:
    """Most recently read tensors, evicted oldest first past `budget` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0
        self.peak = 0
        self._items: OrderedDict[tuple[Path, str], torch.Tensor] = OrderedDict()

    def get(self, file: Path, key: str) -> torch.Tensor:
        tensor = self._items.get((file, key))
        if tensor is not None:
            self._items.move_to_end((file, key))
            return tensor
        tensor = load_file(file)[key]
        size = tensor.numel() * tensor.element_size()
        while self._items and self.held + size > self.budget:
            _, old = self._items.popitem(last=False)
            self.held -= old.numel() * old.element_size()
        if size <= self.budget:
            self._items[(file, key)] = tensor
            self.held += size
            self.peak = max(self.peak, self.held)
        return tensor


class Shelf:
    """One tensor per item, read from its file: `shelf[items]` stacks them."""

    def __init__(self, files: list[Path], key: str, ram: RamCache) -> None:
        self.files, self.key, self.ram = files, key, ram
        self.item_shape = tuple(ram.get(files[0], key).shape)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.files), *self.item_shape)

    def __getitem__(self, items: list[int]) -> torch.Tensor:
        return torch.stack([self.ram.get(self.files[i], self.key) for i in items])


def cache_key(payload, length: int = 16) -> str:
    """A name for what `payload` (plain JSON data) determines."""
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:length]


def cached_latents(
    root: Path, model: WanVideoModel, clips: list[tuple[str, Callable[[], np.ndarray]]]
) -> list[Path]:
    """The latent file of each clip, encoding only those not cached yet (one at a time).

    Args:
        root: the cache folder (`cache_root(store)` for a home's).
        clips: (name, frames loader) per clip; the name says which video and how it was read.
    """
    folder = root / "latents" / model.codec.fingerprint
    files = [folder / f"{name}.safetensors" for name, _ in clips]
    todo = {f: load for f, (_, load) in zip(files, clips, strict=True) if not f.is_file()}
    for file, load in tqdm(
        todo.items(), desc="encode latents", unit="clip", disable=len(todo) < 2, leave=False
    ):
        tensors = {"latents": model.codec.encode(load()[None])[0].contiguous()}
        _publish(file, functools.partial(save_file, tensors))
    return files


def cached_conditions(
    root: Path,
    model: WanVideoModel,
    frames: list[tuple[str, Callable[[], np.ndarray]]],
    num_frames: int,
) -> list[Path]:
    """The I2V condition file of each first frame (image latents, and CLIP embeddings when
    the model has an image encoder), computing only those not cached yet."""
    folder = root / "conditions" / model.condition_fingerprint
    files = [folder / f"{name}-{num_frames}.safetensors" for name, _ in frames]
    todo = {f: load for f, (_, load) in zip(files, frames, strict=True) if not f.is_file()}
    for file, load in tqdm(
        todo.items(), desc="encode I2V conditions", unit="frame", disable=len(todo) < 2, leave=False
    ):
        latents, embeds = model.image_condition(load()[None], num_frames)
        tensors = {"image_latents": latents[0].contiguous()}
        if embeds is not None:
            tensors["image_embeds"] = embeds[0].contiguous()
        _publish(file, functools.partial(save_file, tensors))
    return files


def load_reference_table(store: Store, key: str) -> dict[tuple[int, int], tuple[float, float]]:
    """Reference errors by (item, epoch) that earlier runs with the same reference, items
    and draws computed (empty if none)."""
    file = _reference_file(store, key)
    return torch.load(file, weights_only=True) if file.is_file() else {}


def save_reference_table(
    store: Store, key: str, table: dict[tuple[int, int], tuple[float, float]]
) -> None:
    _publish(_reference_file(store, key), functools.partial(torch.save, table))


def _reference_file(store: Store, key: str) -> Path:
    return cache_root(store) / "reference" / f"{key}.pt"


def _publish(file: Path, save: Callable[[Path], None]) -> None:
    """`save(path)` writes the file aside; it appears under its name only when whole."""
    file.parent.mkdir(parents=True, exist_ok=True)
    aside = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    save(aside)
    os.replace(aside, file)
