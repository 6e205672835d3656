"""Technical video quality without weights, for any video (real clips included).

sharpness   1 - the blur effect of Crété-Roffet et al. (2007), on luma: how much of the
            neighbour-to-neighbour variation survives a 9-tap box re-blur is lost from a sharp
            frame and kept in a blurry one. In [0, 1], content-normalised; noise raises it.
noise       Immerkaer's estimate of the noise sigma (luma levels): the mean |response| of a
            Laplacian-difference mask that cancels smooth image content.
blockiness  how unevenly luma changes across the positions of the 8x8 codec grid (block edges
            and deblocking ramps): about 0.01 uncompressed, 0.03-0.07 at H.264 crf 44.
flicker     mean |change| of mean luma between consecutive frames (levels).
stutter     share of consecutive frame pairs that repeat a frame while the others move
            (dropped frames filled with copies, or a hold followed by a jump); 0 for a still clip.
motion      the typical (median) change of 4x4-averaged luma between consecutive frames, in
            levels: how much the clip moves (VBench's dynamic degree without optical flow). 0
            for a still clip and for one that mostly repeats frames. Not in the overall: a still
            shot is not a technical fault; whether it should move is the prompt's business.
overall     geometric mean of sharpness, exp(-max(noise - 5, 0) / 6),
            exp(-max(blockiness - 0.02, 0) / 0.04), exp(-flicker / 4) and 1 - stutter, in
            [0, 1]: higher is better, and a fault in one component is not bought back by the
            others. The first 5 levels of noise and 0.02 of grid unevenness cost nothing:
            camera footage has that much, and the noise estimate counts fine texture as noise,
            so a codec that smooths a clip would otherwise look like an improvement.

The overall sees blur, noise, block artefacts, brightness flicker, dropped frames and holds.
It does not see content (a sharp clip of the wrong thing scores high), composition, colour casts,
slow drifts, or artefacts that look like texture (a generator's grid pattern reads as
detail); compare clips of the same content with it, not across datasets.
"""

from __future__ import annotations

import numpy as np

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.shapes_oracle import geometric_mean

# Scales of the overall's components: levels at which each fault costs a factor e.
NOISE_SCALE, BLOCK_SCALE, FLICKER_SCALE = 6.0, 0.04, 4.0
NOISE_FREE = 5.0  # levels of noise that cost nothing (see the module docstring)
BLOCK_FREE = 0.02  # grid unevenness that costs nothing: uncompressed clips read 0.007-0.018


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
    """How unevenly luma changes across the 8 positions of a codec's 8x8 grid: the
    coefficient of variation, over the positions, of the median |neighbour difference| at
    each (rows and columns, averaged). A codec's block edges and its deblocking filter's ramps
    sit at fixed grid positions; content does not, so an uncompressed clip reads about 0.01.
    Medians, not means, so a few strong content edges cannot pose as a grid; 0 where the
    median change is under half a level (flat synthetic content: no grid can be measured)."""
    variations = []
    for axis in (1, 2):
        jumps = np.moveaxis(np.abs(np.diff(y, axis=axis)), axis, -1)
        whole = jumps.shape[-1] // block * block
        if whole == 0:
            return 0.0
        per_position = np.median(jumps[..., :whole].reshape(-1, block), axis=0)
        mean = per_position.mean()
        variations.append(per_position.std() / mean if mean > 0.5 else 0.0)
    return float(np.mean(variations))


def flicker(y: np.ndarray) -> float:
    return float(np.abs(np.diff(y.mean(axis=(1, 2)))).mean()) if len(y) > 1 else 0.0


STILL = 0.5  # mean |change| of luma (levels) under which a frame pair does not move


def frame_changes(y: np.ndarray) -> np.ndarray:
    """Mean |change| of luma between consecutive frames, after 4x4 block averaging so that
    sensor noise (sigma 1.5 reads about 0.3) is not taken for motion."""
    t, h, w = y.shape
    blocks = y[:, : h // 4 * 4, : w // 4 * 4].reshape(t, h // 4, 4, w // 4, 4).mean(axis=(2, 4))
    return np.abs(np.diff(blocks, axis=0)).mean(axis=(1, 2))


def stutter(y: np.ndarray) -> float:
    """Share of frame pairs that repeat a frame (change under a tenth of the moving pairs'
    median) in a clip that moves elsewhere: dropped frames filled with copies, or a clip that
    holds still and then jumps. 0 for a clip with no moving pair at all."""
    if len(y) < 3:
        return 0.0
    change = frame_changes(y)
    moving = change[change > STILL]
    if len(moving) == 0:
        return 0.0
    return float((change < 0.1 * np.median(moving)).mean())


def motion(y: np.ndarray) -> float:
    """The typical (median) change between consecutive frames, in luma levels: 0 for a clip
    that holds still, and for one that mostly repeats frames and jumps in between."""
    return float(np.median(frame_changes(y))) if len(y) > 1 else 0.0


def technical_quality(frames: np.ndarray) -> dict[str, float]:
    y = luma(frames)
    scores = {
        "sharpness": sharpness(y),
        "noise": noise_sigma(y),
        "blockiness": blockiness(y),
        "flicker": flicker(y),
        "stutter": stutter(y),
        "motion": motion(y),
    }
    scores["overall"] = geometric_mean(
        [
            scores["sharpness"],
            np.exp(-max(scores["noise"] - NOISE_FREE, 0) / NOISE_SCALE),
            np.exp(-max(scores["blockiness"] - BLOCK_FREE, 0) / BLOCK_SCALE),
            np.exp(-scores["flicker"] / FLICKER_SCALE),
            1 - scores["stutter"],
        ]
    )
    return scores


class TechnicalQuality(PerVideoJudge):
    name, version = "technical", "3"
    dimensions = (
        Dimension("sharpness", True, "1 - blur effect (Crete-Roffet 2007), 0..1"),
        Dimension("noise", False, "Immerkaer noise sigma, luma levels"),
        Dimension("blockiness", False, "unevenness of changes across the 8x8 grid"),
        Dimension("flicker", False, "mean |change| of mean luma per frame"),
        Dimension("stutter", False, "share of repeated frames in a moving clip"),
        Dimension("motion", True, "typical change between frames, luma levels (not in overall)"),
        Dimension("overall", True, "geometric mean of five as scores (not motion), 0..1"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        return technical_quality(item.frames)
