"""Videos made from ground-truth clips to fool a visual-quality judge: each loses or damages
the object or the background in one way. Shared by the judge tests and the calibration."""

from __future__ import annotations

import copy

import numpy as np
from helpers import box_blur

from workbench.world.shapes import WorldConfig, render


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _with_objects(cfg: WorldConfig, attributes: dict, scale: float | None) -> np.ndarray:
    attrs = copy.deepcopy(attributes)
    if scale is None:
        attrs["objects"] = []
    for obj in attrs["objects"]:
        obj["radius"] *= scale
    return render(cfg, attrs)


def empty(cfg, attrs, frames):
    """The object is gone: a plain background."""
    return _with_objects(cfg, attrs, None)


def dot(cfg, attrs, frames):
    """A tiny dot of the object's colour moving along the object's path."""
    return _with_objects(cfg, attrs, 1.0 / attrs["objects"][0]["radius"])


def shrunk(cfg, attrs, frames):
    return _with_objects(cfg, attrs, 0.5)


def blurred(cfg, attrs, frames, passes: int = 2):
    return _clip(box_blur(frames, passes))


def noised(cfg, attrs, frames, sigma: float = 16.0):
    return _clip(frames + np.random.default_rng(0).normal(0, sigma, frames.shape))


def pieces(cfg, attrs, frames):
    """The object cut into fragments by background-coloured lines every third row and column."""
    out = frames.copy()
    bg = np.asarray(attrs["background_rgb"], dtype=np.uint8)
    out[:, 1::3] = bg
    out[:, :, 1::3] = bg
    return np.where((frames == out).all(-1, keepdims=True), frames, out)


def torn(cfg, attrs, frames):
    """A torn band: in every other frame a quarter of the rows is replaced by a shifted,
    wrongly coloured copy (the glitch of a broken decode or a collapsed generator)."""
    out = frames.copy()
    h = frames.shape[1]
    band = slice(h // 8, h // 8 + h // 4)
    out[1::2, band] = _clip(np.roll(frames[1::2, band], h // 3, axis=2) * 0.4 + 120)
    return out


DEGENERATE = {  # case -> the VQ dimension that names its fault
    empty: "presence", dot: "presence", shrunk: "presence", blurred: "sharpness",
    noised: "noise", pieces: "integrity", torn: "background",
}  # fmt: skip
