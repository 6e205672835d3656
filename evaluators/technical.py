"""Technical video quality without weights, for any video.

sharpness   mean |Laplacian| of the luma, per pixel, in [0, 1]: blur lowers it.
noise       Immerkaer's estimate of the noise sigma (luma levels): the mean |response| of a
            Laplacian-difference mask that cancels smooth image content.
blockiness  extra luma jump across 8-pixel block edges over the jump elsewhere (codecs).
flicker     mean |change| of mean luma between consecutive frames (levels).
"""

from __future__ import annotations

import numpy as np

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.registry import register


def luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def sharpness(y: np.ndarray) -> float:
    lap = 4 * y[:, 1:-1, 1:-1] - y[:, :-2, 1:-1] - y[:, 2:, 1:-1] - y[:, 1:-1, :-2] - y[:, 1:-1, 2:]
    return float(np.abs(lap).mean() / 255)


def noise_sigma(y: np.ndarray) -> float:
    # Immerkaer (1996): M = [[1,-2,1],[-2,4,-2],[1,-2,1]]; sigma = sqrt(pi/2) mean|M*y| / 6.
    c = y[:, 1:-1, 1:-1]
    n, s, w, e = y[:, :-2, 1:-1], y[:, 2:, 1:-1], y[:, 1:-1, :-2], y[:, 1:-1, 2:]
    corners = y[:, :-2, :-2] + y[:, :-2, 2:] + y[:, 2:, :-2] + y[:, 2:, 2:]
    response = 4 * c - 2 * (n + s + w + e) + corners
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)


def blockiness(y: np.ndarray, block: int = 8) -> float:
    jumps = np.abs(np.diff(y, axis=2))  # between column x and x + 1
    if jumps.shape[2] < block:
        return 0.0
    edge = np.zeros(jumps.shape[2], dtype=bool)
    edge[block - 1 :: block] = True
    return float(max(jumps[:, :, edge].mean() - jumps[:, :, ~edge].mean(), 0.0))


def flicker(y: np.ndarray) -> float:
    return float(np.abs(np.diff(y.mean(axis=(1, 2)))).mean()) if len(y) > 1 else 0.0


@register("technical")
class TechnicalQuality(PerVideoJudge):
    name, version = "technical", "1"
    dimensions = (
        Dimension("sharpness", True, "mean |Laplacian| of luma / 255"),
        Dimension("noise", False, "Immerkaer noise sigma, luma levels"),
        Dimension("blockiness", False, "extra jump at 8-px block edges"),
        Dimension("flicker", False, "mean |change| of mean luma per frame"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        y = luma(item.frames)
        return {"sharpness": sharpness(y), "noise": noise_sigma(y), "blockiness": blockiness(y),
                "flicker": flicker(y)}  # fmt: skip
