"""The judge interface: videos (with prompts, and a reference where there is one) in,
per-video scores per dimension out. Every judge has a name, a version and dimensions that
say which direction is better.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dimension:
    name: str
    higher_is_better: bool = True
    description: str = ""


@dataclass
class VideoItem:
    """One video to score."""

    video_id: str
    frames: np.ndarray  # (T, H, W, 3) uint8
    prompt: str
    attributes: dict[str, Any] = field(default_factory=dict)  # exact world attributes, if any
    reference: np.ndarray | None = None  # the ground-truth clip of the same sample, if any
    fps: float | None = None  # the stored frame rate (VBench samples frames by it)


class Judge(ABC):
    name: str
    version: str
    dimensions: tuple[Dimension, ...]
    needs_world: bool = False
    """Only videos of shapes-world samples (with attributes and a reference) can be scored."""

    def __init__(self, weights: Path | None = None) -> None:
        self.weights = weights  # where a judge that needs weights looks for them

    def unavailable(self) -> str | None:
        """None when the judge can run here, else what is missing and where it was looked for."""
        return None

    @abstractmethod
    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        """One {dimension: value} per item, in order."""


class PerVideoJudge(Judge):
    """A judge whose score of a video depends on that video alone (no batching to gain)."""

    @abstractmethod
    def score_one(self, item: VideoItem) -> dict[str, float]: ...

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        return [self.score_one(item) for item in items]
