"""Technical video quality without weights, for any video (real clips included).

sharpness   1 - the blur effect of Crété-Roffet et al. (2007), on luma: how much of the
            neighbour-to-neighbour variation survives a 9-tap box re-blur is lost from a sharp
            frame and kept in a blurry one. In [0, 1], content-normalised; noise raises it.
noise       Immerkaer's estimate of the noise sigma (luma levels): the mean |response| of a
            Laplacian-difference mask that cancels smooth image content.
blockiness  extra luma jump across 8-pixel block edges over the jump elsewhere (codecs).
flicker     mean |change| of mean luma between consecutive frames (levels).
stutter     share of consecutive frame pairs that repeat a frame while the rest move
            (dropped frames filled with copies); 0 for a still clip.
overall     geometric mean of sharpness, exp(-max(noise - 5, 0) / 6), exp(-blockiness / 2),
            exp(-flicker / 4) and 1 - stutter, in [0, 1]: higher is better, and a fault in one
            component is not bought back by the others. The first 5 levels of noise cost
            nothing: camera footage has that much, and the estimate counts fine texture as
            noise, so a codec that smooths a clip would otherwise look like an improvement.

The overall sees blur, noise, block artefacts, brightness flicker and dropped frames. It does
not see content (a sharp clip of the wrong thing scores high), composition, colour casts,
slow drifts, or artefacts that look like texture (a generator's grid pattern reads as
detail); compare clips of the same content with it, not across datasets.
"""

from __future__ import annotations

import numpy as np

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.registry import register
from evaluators.shapes_oracle import geometric_mean

# Scales of the overall's components: levels at which each fault costs a factor e.
NOISE_SCALE, BLOCK_SCALE, FLICKER_SCALE = 6.0, 2.0, 4.0
NOISE_FREE = 5.0  # levels of noise that cost nothing (see the module docstring)


def luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def sharpness(y: np.ndarray, taps: int = 9) -> float:
    """1 - blur effect (Crété-Roffet, Dolmiere, Ladret, Nicolas 2007), worst direction."""
    kernel = np.ones(taps) / taps
    blur = []
    for axis in (1, 2):
        reblurred = np.apply_along_axis(np.convolve, axis, y, kernel, mode="same")
        d_f = np.abs(np.diff(y, axis=axis))
        d_b = np.abs(np.diff(reblurred, axis=axis))
        keep = (slice(None), slice(taps, -taps), slice(taps, -taps))  # skip the padded border
        s_f = d_f[keep].sum()
        s_v = np.maximum(d_f - d_b, 0)[keep].sum()
        blur.append((s_f - s_v) / s_f if s_f > 0 else 1.0)
    return float(1 - max(blur))


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


def stutter(y: np.ndarray) -> float:
    """Share of frame pairs that change less than a tenth of the clip's typical change."""
    if len(y) < 3:
        return 0.0
    change = np.abs(np.diff(y, axis=0)).mean(axis=(1, 2))
    typical = float(np.median(change))
    return float((change < 0.1 * typical).mean()) if typical > 0.5 else 0.0


def technical_quality(frames: np.ndarray) -> dict[str, float]:
    y = luma(frames)
    scores = {"sharpness": sharpness(y), "noise": noise_sigma(y), "blockiness": blockiness(y),
              "flicker": flicker(y), "stutter": stutter(y)}  # fmt: skip
    scores["overall"] = geometric_mean([
        scores["sharpness"], np.exp(-max(scores["noise"] - NOISE_FREE, 0) / NOISE_SCALE),
        np.exp(-scores["blockiness"] / BLOCK_SCALE), np.exp(-scores["flicker"] / FLICKER_SCALE),
        1 - scores["stutter"],
    ])  # fmt: skip
    return scores


@register("technical")
class TechnicalQuality(PerVideoJudge):
    name, version = "technical", "2"
    dimensions = (
        Dimension("sharpness", True, "1 - blur effect (Crete-Roffet 2007), 0..1"),
        Dimension("noise", False, "Immerkaer noise sigma, luma levels"),
        Dimension("blockiness", False, "extra jump at 8-px block edges"),
        Dimension("flicker", False, "mean |change| of mean luma per frame"),
        Dimension("stutter", False, "share of repeated frames in a moving clip"),
        Dimension("overall", True, "geometric mean of the five as scores, 0..1"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        return technical_quality(item.frames)
