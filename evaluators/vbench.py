"""VBench's maths, dimension by dimension, as pure functions; the weight-free VBench judge;
ingesting the official package's results.

Followed from the official source (Vchitect/VBench), file by file:

- temporal_flickering (vbench/temporal_flickering.py, `cal_score`): for uint8 frames,
  (255 - mean over consecutive pairs of mean |f_t - f_t+1|) / 255. VBench scores it only on
  static videos: its static filter (static_filter.py) keeps a video when RAFT sees almost no
  motion (`is_static`). Without RAFT weights the filter cannot run: the weight-free judge
  reports `temporal_flickering_unfiltered` (every video), which the report labels and keeps
  out of VBench's Quality score.
- dynamic_degree (vbench/dynamic_degree.py): frames sampled every
  `interval = max(1, round(fps / 8))`; RAFT with `iters=20` between consecutive sampled
  frames; a pair's motion is the mean of its top 5% flow magnitudes; the video is dynamic when
  at least `round(4 * count / 16)` pairs (count = sampled frames) exceed
  `6.0 * (min(H, W) / 256.0)` (`set_params`, `check_move`).
- static filter (static_filter.py): every frame, pairs (t, t+1) plus (first, last) and
  (last, first); top 2% flow magnitudes; thres = 3.0 * min(H, W) / 256, count_num =
  round(2 * count / 16); static when no more than count_num of the consecutive pairs exceed
  thres and both first-last pairs stay within thres * count_num * 2 (`check_static`).
- imaging_quality (vbench/imaging_quality.py): MUSIQ (pyiqa) per frame, preprocessing
  'longer' (the default of evaluate.py): frames whose longer side exceeds 512 are resized
  (bilinear, no antialias) so that it is 512; pixels / 255 in; the mean of the frames'
  0..100 scores, / 100.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from workbench.errors import WorkbenchError

DYNAMIC_TOP, STATIC_TOP = 0.05, 0.02  # share of the largest flow magnitudes averaged
RAFT_ITERS = 20  # `iters=20` in dynamic_degree.py and static_filter.py
# Official per-video results in a different unit than the dimension's score.
OFFICIAL_PER_VIDEO_SCALE = {"imaging_quality": 0.01}  # MUSIQ's 0..100 per video


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench's temporal flickering of one clip, in [0, 1] (1 = no change at all)."""
    if len(frames) < 2:
        raise ValueError("temporal flickering needs at least two frames")
    diffs = np.abs(np.diff(frames.astype(np.int16), axis=0)).reshape(len(frames) - 1, -1)
    return float(((255.0 - diffs.mean(axis=1)) / 255.0).mean())


def dynamic_interval(fps: float) -> int:
    """VBench's frame step for dynamic_degree: 8 sampled frames per second of video."""
    return max(1, round(fps / 8))


def top_motion(magnitude: np.ndarray, share: float) -> float:
    """Mean of the largest `share` of a flow field's magnitudes (H, W); VBench's `get_score`
    keeps int(h * w * share) of them."""
    flat = np.sort(magnitude.ravel())[::-1]
    return float(flat[: int(flat.size * share)].mean())


def is_dynamic(pair_motion: list[float], sampled_frames: int, height: int, width: int) -> bool:
    """VBench's `check_move`: enough sampled pairs move more than the size-scaled threshold."""
    threshold = 6.0 * (min(height, width) / 256.0)
    needed = round(4 * (sampled_frames / 16.0))
    return bool(pair_motion) and sum(m > threshold for m in pair_motion) >= needed


def static_pairs(n_frames: int) -> list[tuple[int, int]]:
    """The frame pairs VBench's static filter compares: consecutive, then first-last both ways."""
    return [(t, t + 1) for t in range(n_frames - 1)] + [(0, n_frames - 1), (n_frames - 1, 0)]


def is_static(pair_motion: list[float], n_frames: int, height: int, width: int) -> bool:
    """VBench's `check_static`, over the motions of `static_pairs(n_frames)` in order."""
    threshold = 3.0 * (min(height, width) / 256.0)
    count_num = round(2 * (n_frames / 16.0))
    if sum(m > threshold for m in pair_motion[:-2]) > count_num:
        return False
    return all(m <= threshold * count_num * 2 for m in pair_motion[-2:])


def imaging_quality(frames: np.ndarray, scorer) -> float:
    """VBench's imaging_quality with `scorer` ((1, 3, H, W) in [0, 1] -> MUSIQ's 0..100)."""
    import torch
    from torchvision.transforms import functional as F

    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    if max(h, w) > 512:
        scale = 512.0 / max(h, w)
        x = F.resize(x, [int(scale * h), int(scale * w)], antialias=False)
    x = x / 255.0
    return float(np.mean([float(scorer(frame[None])) for frame in x])) / 100.0


class VBenchNative(PerVideoJudge):
    name, version = "vbench", "2"
    dimensions = (
        Dimension(
            "temporal_flickering_unfiltered",
            True,
            "VBench's formula on every video; VBench itself scores static videos only "
            "(vbench-raft applies its static filter)",
        ),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        return {"temporal_flickering_unfiltered": temporal_flickering(item.frames)}


def ingest_official_results(store, path: str | Path) -> int:
    """Scores from the official `vbench` package, run in its own environment on the media
    folder: `{dimension: [mean, [{"video_path", "video_results"}, ...]], ...}`. Videos are
    matched by file name (`<video id>.mp4`); per-video MUSIQ scores (0..100) are brought to
    the dimension's 0..1. Returns the number of scores stored.

    Raises:
        WorkbenchError: unreadable file, or videos the store does not know (nothing stored).
    """
    path = Path(path)
    try:
        results = json.loads(path.read_text())
        entries = [
            (
                dim,
                Path(r["video_path"]).stem,
                float(r["video_results"]) * OFFICIAL_PER_VIDEO_SCALE.get(dim, 1.0),
            )
            for dim, (_, per_video) in results.items()
            for r in per_video
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkbenchError(f"{path.name}: not a VBench results file ({exc})") from exc
    ids = sorted({video for _, video, _ in entries})
    known = store.video_paths(ids)
    unknown = [v for v in ids if v not in known]
    if unknown:
        raise WorkbenchError(f"{path.name}: videos not in the store: {', '.join(unknown[:5])}")
    rows = [
        {
            "video_id": video,
            "judge": "vbench-official",
            "judge_version": "official",
            "dimension": dim,
            "value": value,
        }
        for dim, video, value in entries
    ]
    store.insert("scores", rows)
    return len(rows)
