"""VBench dimensions computed natively.

temporal_flickering, as VBench defines it: for uint8 frames, the mean over consecutive frame
pairs of (255 - mean |f_t - f_{t+1}|) / 255. (VBench applies it to static-camera clips; the
score is the same formula.)
"""

from __future__ import annotations

import numpy as np

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.registry import register


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench's temporal flickering of one clip, in [0, 1] (1 = no change at all)."""
    if len(frames) < 2:
        raise ValueError("temporal flickering needs at least two frames")
    diffs = np.abs(np.diff(frames.astype(np.int16), axis=0)).reshape(len(frames) - 1, -1)
    return float(((255.0 - diffs.mean(axis=1)) / 255.0).mean())


@register("vbench")
class VBenchNative(PerVideoJudge):
    name, version = "vbench", "1"
    dimensions = (Dimension("temporal_flickering", True, "VBench's formula, native"),)

    def score_one(self, item: VideoItem) -> dict[str, float]:
        return {"temporal_flickering": temporal_flickering(item.frames)}
