"""Videos made from ground-truth clips to fool a visual-quality judge: each loses or damages
the object or the background in one way. Shared by the judge tests and the calibration."""

from __future__ import annotations

import copy
import dataclasses

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
    empty: "presence",
    dot: "presence",
    shrunk: "presence",
    blurred: "sharpness",
    noised: "noise",
    pieces: "integrity",
    torn: "background",
}


# -- broken time: every frame clean, the sequence wrong ------------------------------------


def _render_at(cfg, attributes: dict, offsets: np.ndarray) -> np.ndarray:
    """The clip with each frame's objects shifted by offsets[t] (dx, dy) pixels."""
    out = []
    for t, (dx, dy) in enumerate(offsets):
        attrs = copy.deepcopy(attributes)
        for obj in attrs["objects"]:
            obj["start"] = [obj["start"][0] + dx, obj["start"][1] + dy]
        out.append(render(cfg, attrs)[t])
    return np.stack(out)


def held_still(cfg, attrs, frames):
    """The first frame held for every frame: what a frozen I2V model outputs."""
    return np.repeat(frames[:1], len(frames), axis=0)


def shuffled(cfg, attrs, frames):
    """The middle frames in a fixed random order, first and last kept."""
    middle = np.random.default_rng(0).permutation(np.arange(1, len(frames) - 1))
    return frames[[0, *middle, len(frames) - 1]]


def short_travel(cfg, attrs, frames):
    """The object moves the right way, smoothly, but under a third as far as the truth."""
    return render(dataclasses.replace(cfg, travel=cfg.travel * 0.3), attrs)


def partly_reversed(cfg, attrs, frames):
    """The right way for three quarters of the clip, then back the way it came."""
    turn = len(frames) * 3 // 4
    return frames[[*range(turn), *range(turn - 2, turn - 2 - (len(frames) - turn), -1)]]


def reversed_(cfg, attrs, frames):
    """The truth played backwards: the opposite motion."""
    return frames[::-1].copy()


def vanishing(cfg, attrs, frames):
    """The object gone for one frame in the middle."""
    out = frames.copy()
    out[len(frames) // 2] = empty(cfg, attrs, frames)[len(frames) // 2]
    return out


def held_then_jumped(cfg, attrs, frames):
    """Every other frame a copy of the one before: it holds, then jumps to catch up."""
    return frames[np.arange(len(frames)) // 2 * 2]


def jittered(cfg, attrs, frames):
    """The object shaken by up to 2 px around its path, frame by frame."""
    offsets = np.random.default_rng(1).uniform(-2, 2, (len(frames), 2))
    return _render_at(cfg, attrs, offsets)


def ghost(cfg, attrs, frames):
    """For one frame a second copy of the object flashes up half a frame away."""
    out = frames.copy()
    t, half = len(frames) // 2, cfg.size // 2
    copy_ = _render_at(cfg, attrs, np.full((len(frames), 2), 0.0))[t]
    shifted = np.roll(copy_, (half, half), axis=(0, 1))
    bg = np.asarray(attrs["background_rgb"], dtype=np.uint8)
    drawn = (shifted != bg).any(-1) & (frames[t] == bg).all(-1)
    out[t][drawn] = shifted[drawn]
    return out


TEMPORAL = {  # case -> the (judge, dimension) pairs that name its fault
    held_still: [("shapes-pf", "dynamics"), ("shapes-pf", "direction")],
    shuffled: [("shapes-pf", "continuity"), ("shapes-vq", "smoothness")],
    short_travel: [("shapes-pf", "travel")],
    partly_reversed: [("shapes-pf", "direction"), ("shapes-vq", "smoothness")],
    reversed_: [("shapes-pf", "direction"), ("shapes-pf", "travel")],
    vanishing: [("shapes-pf", "continuity"), ("shapes-vq", "persistence")],
    held_then_jumped: [("shapes-pf", "continuity"), ("shapes-vq", "smoothness")],
    jittered: [("shapes-vq", "smoothness")],
    ghost: [("shapes-vq", "background_continuity")],
}
