"""Exact attribute readings of shapes-world clips: what is drawn, in what colour, moving how.

Pure functions over uint8 frames (T, H, W, 3). Ground-truth clips read back their own
attributes; the shapes-world judges compare these readings with the stored attributes.
"""

from __future__ import annotations

import numpy as np

from workbench.world.shapes import BACKGROUNDS, COLORS, MOTIONS

FOREGROUND_THRESHOLD = 60  # summed |RGB| distance from the background colour


def nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    return min(palette, key=lambda name: float(np.abs(rgb - np.asarray(palette[name])).sum()))


def border_colour(frames: np.ndarray) -> np.ndarray:
    """The median colour of the clip's border pixels: its actual background."""
    border = np.concatenate(
        [frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1]], axis=1
    )
    return np.median(border.reshape(-1, 3), axis=0)


def read_background(frames: np.ndarray) -> str:
    """The palette background nearest to the border colour."""
    return nearest(border_colour(frames), BACKGROUNDS)


def foreground(frames: np.ndarray, background_rgb) -> np.ndarray:
    """(T, H, W) mask of pixels clearly away from the background colour."""
    diff = np.abs(frames.astype(np.int32) - np.asarray(background_rgb)).sum(-1)
    return diff > FOREGROUND_THRESHOLD


def read_colour(frames: np.ndarray, mask: np.ndarray) -> str | None:
    """The palette colour nearest to the median foreground pixel; None without foreground."""
    if mask.sum() == 0:
        return None
    return nearest(np.median(frames[mask], axis=0), COLORS)


def read_motion(mask: np.ndarray, min_shift: float = 2.0) -> str | None:
    """The motion whose direction best matches the centroid's path (or the area's change).

    None when the object is missing in some frame or barely moves.
    """
    areas = mask.sum(axis=(1, 2))
    if (areas == 0).any():
        return None
    ys, xs = np.indices(mask.shape[1:])
    cx = (mask * xs).sum(axis=(1, 2)) / areas
    cy = (mask * ys).sum(axis=(1, 2)) / areas
    shift = np.array([cx[-1] - cx[0], cy[-1] - cy[0]])
    growth = areas[-1] / areas[0]
    if np.linalg.norm(shift) >= min_shift and max(growth, 1 / growth) < 1.8:
        return max(("left", "right", "up", "down"), key=lambda m: float(shift @ MOTIONS[m][:2]))
    if max(growth, 1 / growth) >= 1.8:
        return "grow" if growth > 1 else "shrink"
    return None


# Share of its bounding box a shape fills once rasterised at world sizes (a 6-pixel triangle
# fills about 0.6, not the continuum's 0.5: its edge pixels count whole).
BOX_FILL = {"circle": 0.785, "square": 1.0, "triangle": 0.6}


def read_shape(mask: np.ndarray) -> str | None:
    """circle / square / triangle from how much of its bounding box the object fills
    (median over frames: one compressed frame does not decide)."""
    fills = []
    for frame in mask:
        ys, xs = np.nonzero(frame)
        if len(xs) >= 6:
            fills.append(len(xs) / ((np.ptp(xs) + 1) * (np.ptp(ys) + 1)))
    if not fills:
        return None
    fill = float(np.median(fills))
    return min(BOX_FILL, key=lambda shape: abs(BOX_FILL[shape] - fill))


def object_mask(frames: np.ndarray, background_rgb, object_rgb) -> np.ndarray:
    """(T, H, W) pixels nearer the object's colour than the background's: the midpoint
    threshold, so colour bleeding from compression splits evenly at the edges."""
    px = frames.astype(np.int32)
    to_obj = np.abs(px - np.asarray(object_rgb)).sum(-1)
    to_bg = np.abs(px - np.asarray(background_rgb)).sum(-1)
    return to_obj < to_bg


def read_attributes(frames: np.ndarray) -> dict[str, str | None]:
    """Everything the oracle can read from a single-object clip."""
    background_rgb = border_colour(frames)
    mask = foreground(frames, background_rgb)
    colour = read_colour(frames, mask)
    if colour is not None:  # refine the outline for shape and motion
        mask = object_mask(frames, background_rgb, np.median(frames[mask], axis=0))
    return {
        "background": nearest(background_rgb, BACKGROUNDS),
        "color": colour,
        "motion": read_motion(mask),
        "shape": read_shape(mask),
    }


# -- visual quality against what the world renders -----------------------------------------


def palette_residual(frames: np.ndarray, background_rgb, object_rgb) -> np.ndarray:
    """(T, H, W) summed |RGB| distance of each pixel to the nearer of the two true colours."""
    px = frames.astype(np.int32)
    to_bg = np.abs(px - np.asarray(background_rgb)).sum(-1)
    to_obj = np.abs(px - np.asarray(object_rgb)).sum(-1)
    return np.minimum(to_bg, to_obj)


def largest_component_share(mask: np.ndarray) -> float:
    """Mean over frames of the largest 4-connected blob's share of the foreground (1 = whole)."""
    shares = []
    for frame in mask:
        total = int(frame.sum())
        shares.append(_largest_component(frame) / total if total else 0.0)
    return float(np.mean(shares))


def _largest_component(frame: np.ndarray) -> int:
    seen = np.zeros_like(frame, dtype=bool)
    best = 0
    h, w = frame.shape
    for y0, x0 in zip(*np.nonzero(frame), strict=True):
        if seen[y0, x0]:
            continue
        stack, size = [(y0, x0)], 0
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            size += 1
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and frame[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        best = max(best, size)
    return best


def visual_quality(frames: np.ndarray, attributes: dict) -> dict[str, float]:
    """VQ components in [0, 1], 1 = as the world renders it.

    clean: share of pixels within 30 of a true colour (blur and noise lower it);
    noise: 1 - median distance to the nearer true colour / 60;
    integrity: the object is one blob, not fragments;
    color_fidelity: the object's median colour against the stated one;
    stability: no global brightness jumps between frames (flicker).
    """
    obj = attributes["objects"][0]
    bg = attributes["background_rgb"]
    residual = palette_residual(frames, bg, obj["rgb"])
    mask = foreground(frames, border_colour(frames))  # the object, even if colours shifted
    if mask.sum():
        colour_error = np.abs(np.median(frames[mask], axis=0) - np.asarray(obj["rgb"])).sum()
    else:
        colour_error = 3 * 128.0
    brightness = frames.astype(np.float64).mean(axis=(1, 2, 3))
    scores = {
        "clean": float((residual < 30).mean()),
        "noise": float(1 - min(np.median(residual) / 60, 1.0)),
        "integrity": largest_component_share(mask),
        "color_fidelity": float(1 - min(colour_error / (3 * 128), 1.0)),
        "stability": float(1 - min(np.abs(np.diff(brightness)).mean() / 32, 1.0)),
    }
    scores["overall"] = float(np.mean(list(scores.values())))
    return scores


def prompt_following(frames: np.ndarray, attributes: dict) -> dict[str, float]:
    """1 / 0 per attribute read back from the clip, and their mean."""
    read = read_attributes(frames)
    obj = attributes["objects"][0]
    truth = {"shape": obj["shape"], "color": obj["color"], "motion": obj["motion"],
             "background": attributes["background"]}  # fmt: skip
    scores = {k: float(read[k] == v) for k, v in truth.items()}
    scores["overall"] = float(np.mean(list(scores.values())))
    return scores
