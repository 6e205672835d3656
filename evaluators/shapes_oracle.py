"""Exact attribute readings of shapes-world clips: what is drawn, in what colour, moving how,
and how cleanly, against what the world's attributes say should be there.

Pure functions over uint8 frames (T, H, W, 3). Every stated object is read through its own
coverage: the share of each pixel that is the object's colour rather than the background's
(the inverse of the world's alpha compositing), so one-object and two-object clips are read
the same way and never by their first object only.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from workbench.world.shapes import BACKGROUNDS, COLORS, MOTIONS, TRIANGLE, shape_mask

FOREGROUND_THRESHOLD = 60  # summed |RGB| distance from the background colour
PRESENT = 0.3  # a colour is drawn when it covers this share of its object's stated area
# Area of each shape in units of r^2, as the world draws it (the square has the circle's area).
SHAPE_AREA = {
    "circle": np.pi,
    "square": (2 * 0.886) ** 2,
    "triangle": 3 * np.sqrt(3) / 4 * TRIANGLE**2,
}
# A shape is read only when the silhouette matches it clearly: the median soft IoU with the
# ideal shape (at the fitted centre and area, softened as H.264's half-resolution colour
# softens every stored clip) reaches SHAPE_IOU and beats the next shape by SHAPE_MARGIN;
# otherwise the reading is "unclear". Calibrated on 200 world clips after H.264 (194 read
# right; chroma subsampling rounds some squares), fuzzy blobs (200 unclear) and three 3x3
# box blurs (160 not credited; the rest still clearly show their shape), and so that a
# clip encoded twice (an imported one) still reads: tests/test_shapes_oracle.py.
SHAPE_IOU = 0.75
SHAPE_MARGIN = 0.03
UNCLEAR = "unclear"


def nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    return min(palette, key=lambda name: float(np.abs(rgb - np.asarray(palette[name])).sum()))


def border_colour(frames: np.ndarray) -> np.ndarray:
    """The median colour of the clip's border pixels: its actual background."""
    border = np.concatenate(
        [frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1]], axis=1
    )
    return np.median(border.reshape(-1, 3), axis=0)


def foreground(frames: np.ndarray, background_rgb) -> np.ndarray:
    """(T, H, W) mask of pixels clearly away from the background colour."""
    diff = np.abs(frames.astype(np.int32) - np.asarray(background_rgb)).sum(-1)
    return diff > FOREGROUND_THRESHOLD


def coverage(frames: np.ndarray, background_rgb, object_rgb) -> np.ndarray:
    """(T, H, W) in [0, 1]: how much of each pixel is the object's colour, by projecting it
    on the background -> object colour segment (1 inside a crisp object, 0 on background)."""
    bg = np.asarray(background_rgb, dtype=np.float64)
    d = np.asarray(object_rgb, dtype=np.float64) - bg
    return np.clip((frames.astype(np.float64) - bg) @ d / float(d @ d), 0.0, 1.0)


def object_coverages(frames: np.ndarray, attributes: dict) -> list[np.ndarray]:
    """One coverage per stated object. A pixel nearer another stated object's colour than
    this one's (or the background's), or next to such a pixel, counts 0 here."""
    bg = np.asarray(attributes["background_rgb"])
    rgbs = [np.asarray(o["rgb"]) for o in attributes["objects"]]
    px = frames.astype(np.int32)
    distance = np.stack([np.abs(px - c).sum(-1) for c in [bg, *rgbs]])  # (1 + n, T, H, W)
    owner = distance.argmin(axis=0)
    # Edge pixels around another object are that object's blend with the background.
    others = [_dilate(~np.isin(owner, (0, i + 1)), 1) for i in range(len(rgbs))]
    return [coverage(frames, bg, rgb) * ~other for rgb, other in zip(rgbs, others, strict=True)]


def colour_present(frames: np.ndarray, attributes: dict, obj: dict) -> bool:
    """The stated colour covers at least PRESENT of the object's stated area in most frames
    (pixels read against the whole palette, so a near colour is not taken for it)."""
    palette = {**BACKGROUNDS, **COLORS}
    names = list(palette)
    px = frames.astype(np.int32)
    distance = np.stack([np.abs(px - np.asarray(palette[n])).sum(-1) for n in names])
    counts = (distance.argmin(axis=0) == names.index(obj["color"])).sum(axis=(1, 2))
    return float(np.median(counts)) >= PRESENT * np.pi * obj["radius"] ** 2


# -- motion, frame by frame against the truth's track -----------------------------------------

DEAD_ZONE = 0.2  # px: a step smaller than this is H.264 jitter, not progress
STEP_TOLERANCE = 1.0  # px: a step this far from the truth's is a jump, reversal or hold
ACCEL_TOLERANCE = 0.75  # px: a path bending this far from the truth's in one frame jumps or jitters


def track(alpha: np.ndarray, true_alpha: np.ndarray) -> np.ndarray:
    """(T, 3) per-frame centre x, y and circle-equivalent radius sqrt(area / pi) of one
    object's coverage; NaN in frames where less than half its true area is drawn."""
    area = alpha.sum(axis=(1, 2))
    ys, xs = np.indices(alpha.shape[1:]) + 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.stack(
            [
                (alpha * xs).sum((1, 2)) / area,
                (alpha * ys).sum((1, 2)) / area,
                np.sqrt(area / np.pi),
            ],
            axis=1,
        )
    drawn = (alpha > 0.5).sum((1, 2)) >= 0.5 * np.maximum((true_alpha > 0.5).sum((1, 2)), 1)
    out[~drawn] = np.nan
    return out


def motion_following(seen: np.ndarray, truth: np.ndarray, motion: str) -> dict[str, float]:
    """How the drawn object's track follows the truth's, both from `track`.

    direction: share of steps that progress the prompted way (past H.264 jitter);
    travel: the net progress against the truth's, min / max, full marks within 20%;
    continuity: share of steps within STEP_TOLERANCE of the truth's step (no jump, reversal,
        hold or vanished frame);
    dynamics: how much it moves at all, any way, against how much the truth moves (0: still).
    """
    way = np.array(MOTIONS[motion])  # (dx, dy, dr): px along x, y, and of radius per px
    step, true_step = np.diff(seen, axis=0) @ way, np.diff(truth, axis=0) @ way
    direction = float(np.mean(step > DEAD_ZONE)) if np.any(true_step > DEAD_ZONE) else 1.0
    drawn = np.flatnonzero(~np.isnan(seen[:, 0]))
    net = true_net = 0.0
    if len(drawn) >= 2:
        first, last = drawn[0], drawn[-1]
        net = float((seen[last] - seen[first]) @ way)
        true_net = float((truth[last] - truth[first]) @ way)
    ratio = min(net, true_net) / max(net, true_net) if min(net, true_net) > 0 else 0.0
    deviation = np.linalg.norm(np.diff(seen, axis=0) - np.diff(truth, axis=0), axis=1)
    moved = np.nansum(np.linalg.norm(np.diff(seen, axis=0), axis=1))
    true_moved = np.nansum(np.linalg.norm(np.diff(truth, axis=0), axis=1))
    return {
        "direction": direction,
        "travel": min(1.0, ratio / 0.8) if true_net > 0 else float(abs(net) < 1.0),
        "continuity": float(np.mean(deviation <= STEP_TOLERANCE)),  # NaN (not drawn) fails
        "dynamics": float(min(1.0, moved / true_moved)) if true_moved > 0 else 1.0,
    }


def shape_fits(alpha: np.ndarray) -> dict[str, float] | None:
    """Soft IoU, sum(min) / sum(max), of one frame's coverage with each ideal shape placed at
    the coverage's centroid with the coverage's area; None when there is almost no object."""
    area = float(alpha.sum())
    if area < 6:
        return None
    ys, xs = np.indices(alpha.shape)
    cx, cy = (alpha * (xs + 0.5)).sum() / area, (alpha * (ys + 0.5)).sum() / area
    fits = {}
    for shape, unit_area in SHAPE_AREA.items():
        ideal = _soften(shape_mask(shape, cx, cy, np.sqrt(area / unit_area), alpha.shape[0]))
        fits[shape] = float(np.minimum(alpha, ideal).sum() / np.maximum(alpha, ideal).sum())
    return fits


def _soften(image: np.ndarray) -> np.ndarray:
    """[1, 2, 1] / 4 in each direction: about what yuv420p's half-resolution colour does."""
    padded = np.pad(image, 1, mode="edge")
    rows = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) / 4
    return (rows[:-2] + 2 * rows[1:-1] + rows[2:]) / 4


def read_shape(alpha: np.ndarray) -> str | None:
    """circle / square / triangle when the silhouette clearly is one (median over frames of
    the soft IoU, see SHAPE_IOU), "unclear" when not (a blob, a smear), None without object."""
    per_frame = [f for f in (shape_fits(a) for a in alpha) if f is not None]
    if not per_frame:
        return None
    median = {s: float(np.median([f[s] for f in per_frame])) for s in SHAPE_AREA}
    best, second = sorted(median.values(), reverse=True)[:2]
    if best < SHAPE_IOU or best - second < SHAPE_MARGIN:
        return UNCLEAR
    return max(median, key=median.get)


MOTION_PARTS = ("direction", "travel", "continuity", "dynamics")


def read_objects(
    frames: np.ndarray, attributes: dict, reference: np.ndarray
) -> list[dict[str, object]]:
    """Per stated object: is its colour drawn, which shape it shows, and how its track follows
    the truth's (read the same way from the exact render `reference`)."""
    seen, truth = object_coverages(frames, attributes), object_coverages(reference, attributes)
    reads = []
    for obj, alpha, true_alpha in zip(attributes["objects"], seen, truth, strict=True):
        present = colour_present(frames, attributes, obj)
        following = motion_following(
            track(alpha, true_alpha), track(true_alpha, true_alpha), obj["motion"]
        )
        reads.append(
            {
                "color": present,
                "shape": read_shape(alpha) if present else None,
                **{part: following[part] if present else 0.0 for part in MOTION_PARTS},
            }
        )
    return reads


def prompt_following(
    frames: np.ndarray, attributes: dict, reference: np.ndarray
) -> dict[str, float]:
    """Per attribute read back from the clip (averaged over stated objects) and their mean.
    shape, colour, background: 1 / 0 (an unclear silhouette scores 0 for every shape);
    motion: the least of direction, travel and continuity (see motion_following): credited
    only as far as the object goes the prompted way, step by step, as far as the truth."""
    if reference is None or reference.shape != frames.shape:
        raise ValueError("shapes PF needs the exact reference render of the same shape")
    pairs = list(
        zip(read_objects(frames, attributes, reference), attributes["objects"], strict=True)
    )
    scores = {
        "shape": np.mean([read["shape"] == obj["shape"] for read, obj in pairs]),
        "color": np.mean([read["color"] for read, _ in pairs]),
        "background": nearest(border_colour(frames), BACKGROUNDS) == attributes["background"],
        "motion": np.mean([min(r["direction"], r["travel"], r["continuity"]) for r, _ in pairs]),
    }
    scores["overall"] = np.mean(list(scores.values()))
    scores.update({part: np.mean([read[part] for read, _ in pairs]) for part in MOTION_PARTS})
    return {k: float(v) for k, v in scores.items()}


# -- visual quality against what the world renders -----------------------------------------


def largest_component_share(mask: np.ndarray) -> float:
    """Mean over frames of the largest 4-connected blob's share of the mask (1 = whole,
    0 for a frame without any)."""
    shares = []
    for frame in mask:
        total = int(frame.sum())
        shares.append(_largest_blob(frame).sum() / total if total else 0.0)
    return float(np.mean(shares))


def _largest_blob(frame: np.ndarray) -> np.ndarray:
    """(H, W) mask of the largest 4-connected blob of a frame's mask (empty without one)."""
    label = np.zeros(frame.shape, dtype=np.int32)
    h, w = frame.shape
    sizes = [0]
    for y0, x0 in zip(*np.nonzero(frame), strict=True):
        if label[y0, x0]:
            continue
        sizes.append(0)
        stack = [(y0, x0)]
        label[y0, x0] = len(sizes) - 1
        while stack:
            y, x = stack.pop()
            sizes[-1] += 1
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and frame[ny, nx] and not label[ny, nx]:
                    label[ny, nx] = len(sizes) - 1
                    stack.append((ny, nx))
    return label == int(np.argmax(sizes)) if len(sizes) > 1 else np.zeros_like(frame, bool)


def _dilate(mask: np.ndarray, steps: int = 1) -> np.ndarray:
    """(T, H, W) 4-neighbour dilation."""
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        grown[:, :, 1:] |= out[:, :, :-1]
        grown[:, :, :-1] |= out[:, :, 1:]
        out = grown
    return out


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min / max elementwise, 1 where both are 0."""
    hi = np.maximum(a, b)
    return np.where(hi > 0, np.minimum(a, b) / np.where(hi > 0, hi, 1), 1.0)


def geometric_mean(scores: list[float], floor: float = 0.01) -> float:
    """The overall of component scores in [0, 1]: one failed component cannot be bought back
    by the others (an empty clip with a perfect background is not 6/7 good)."""
    return float(np.exp(np.mean(np.log(np.maximum(scores, floor)))))


def visual_quality(frames: np.ndarray, attributes: dict, reference: np.ndarray) -> dict[str, float]:
    """VQ components in [0, 1], 1 = as the world renders it, measured against the exact
    render `reference` of the same attributes (each object's coverage, size and colour per
    frame), not against the palette alone.

    presence: each object's drawn area against its true area, per frame (lost, shrunk or
        swollen objects score low);
    sharpness: share of partly covered pixels (soft edges) against the true render's;
    noise: 1 - median distance of pixels to the nearest true colour / 60;
    integrity: each object is one blob, not fragments;
    color_fidelity: each object's median colour against the stated one;
    background: share of the pixels that should be background (away from where the object
        is and where it should be) that have the background colour: tears and grids;
    stability: no global brightness jumps between frames (flicker);
    and what a person sees as a temporal defect, each defect halving the score (one frame in
    which the object flashes away is glaring, however long the clip):
    smoothness: frames in which an object's path bends more than the truth's (jumps, jitter,
        holds that catch up, reversals);
    persistence: frames in which an object is not drawn (vanishes, or is under half its size);
    background_continuity: frame pairs in which the background changes (ghosts, flashes).
    overall: the geometric mean of the first seven times the product of the temporal three to
        the same 1/7 power: one temporal defect costs what one component at 0.5 costs, and
        adding dimensions does not dilute the spatial ones.
    """
    if reference is None or reference.shape != frames.shape:
        raise ValueError("shapes VQ needs the exact reference render of the same shape")
    seen, truth = object_coverages(frames, attributes), object_coverages(reference, attributes)
    bg = np.asarray(attributes["background_rgb"])
    colours = [bg, *(np.asarray(o["rgb"]) for o in attributes["objects"])]
    px = frames.astype(np.int32)
    residual = np.min([np.abs(px - c).sum(-1) for c in colours], axis=0)
    background_area = ~_dilate(_object_regions(seen, truth), 2)
    scores = {
        "presence": np.mean(
            [
                _ratio((s > 0.5).sum((1, 2)), (t > 0.5).sum((1, 2))).mean()
                for s, t in zip(seen, truth, strict=True)
            ]
        ),
        "sharpness": min(1.0, _edge_share(truth) / max(_edge_share(seen), 1e-9)),
        "noise": 1 - min(np.median(residual) / 60, 1.0),
        "integrity": np.mean([largest_component_share(a > 0.5) for a in seen]),
        "color_fidelity": np.mean(
            [
                _colour_fidelity(frames, s, o["rgb"])
                for s, o in zip(seen, attributes["objects"], strict=True)
            ]
        ),
        "background": (residual[background_area] < 30).mean() if background_area.any() else 1.0,
        "stability": 1
        - min(np.abs(np.diff(frames.astype(np.float64).mean(axis=(1, 2, 3)))).mean() / 32, 1.0),
    }
    scores = {k: float(v) for k, v in scores.items()}
    temporal = temporal_defects(frames, seen, truth, background_area)
    spatial = geometric_mean(list(scores.values()))
    scores.update(temporal)
    scores["overall"] = spatial * float(np.prod(list(temporal.values()))) ** (1 / 7)
    return scores


def temporal_defects(
    frames: np.ndarray, seen: list[np.ndarray], truth: list[np.ndarray], background: np.ndarray
) -> dict[str, float]:
    """smoothness, persistence and background_continuity of visual_quality: 0.5 ** defects.

    An object never drawn at full size (lost, a dot, shrunk) has no missing frames here:
    that is presence's fault, not a flash. Background changes are read on 5x5 means of the
    signed frame difference, so per-pixel noise (noise's fault) is not a change but a ghost
    or a torn band is."""
    bends = missing = 0
    for alpha, true_alpha in zip(seen, truth, strict=True):
        path, true_path = track(alpha, true_alpha), track(true_alpha, true_alpha)
        gone = np.isnan(path[:, 0])
        missing += int(gone.sum()) if not gone.all() else 0
        bend = np.linalg.norm(np.diff(path, 2, axis=0) - np.diff(true_path, 2, axis=0), axis=1)
        bends += int((bend[~np.isnan(bend)] > ACCEL_TOLERANCE).sum())
    steady = ~_dilate(~(background[1:] & background[:-1]), 2)  # the 5x5 means' reach
    signed = uniform_filter(
        np.diff(frames.astype(np.float64), axis=0), size=(1, 5, 5, 1), mode="nearest"
    )  # 5x5 means, edges padded
    change = np.abs(signed).sum(-1) > 30
    changed_pairs = int(
        sum((c[m].mean() if m.any() else 0.0) > 0.01 for c, m in zip(change, steady, strict=True))
    )
    return {
        "smoothness": 0.5**bends,
        "persistence": 0.5**missing,
        "background_continuity": 0.5**changed_pairs,
    }


def _object_regions(seen: list[np.ndarray], truth: list[np.ndarray]) -> np.ndarray:
    """(T, H, W) where objects are or should be: each true object, and each drawn object's
    largest blob when it is no bigger than twice the true one (a wrong position is prompt
    following's business; a frame-wide smear is not an object)."""
    region = np.any([t > 0.02 for t in truth], axis=0)
    for s, t in zip(seen, truth, strict=True):
        for i, (frame, true_area) in enumerate(zip(s > 0.5, (t > 0.5).sum((1, 2)), strict=True)):
            blob = _largest_blob(frame)
            if blob.sum() <= 2 * max(true_area, 1):
                region[i] |= blob
    return region


def _edge_share(alphas: list[np.ndarray]) -> float:
    """Partly covered pixels per unit of covered area, over all objects: soft edges raise it."""
    area = sum(float(a.sum()) for a in alphas)
    partial = sum(int(((a > 0.15) & (a < 0.85)).sum()) for a in alphas)
    return partial / area if area else 0.0


def _colour_fidelity(frames: np.ndarray, alpha: np.ndarray, rgb) -> float:
    inside = alpha > 0.5
    if not inside.any():
        return 0.0
    error = np.abs(np.median(frames[inside], axis=0) - np.asarray(rgb)).sum()
    return float(1 - min(error / (3 * 128), 1.0))
