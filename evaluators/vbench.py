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


def ingest_official_results(store, path) -> int:
    """Scores from the official `vbench` package, run in its own environment on the media
    folder: `{dimension: [mean, [{"video_path", "video_results"}, ...]], ...}`. Videos are
    matched by file name (`<video id>.mp4`). Returns the number of scores stored.

    Raises:
        WorkbenchError: unreadable file, or videos the store does not know (nothing stored).
    """
    import json
    from pathlib import Path

    from workbench.errors import WorkbenchError

    path = Path(path)
    try:
        results = json.loads(path.read_text())
        entries = [(dim, Path(r["video_path"]).stem, float(r["video_results"]))
                   for dim, (_, per_video) in results.items() for r in per_video]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkbenchError(f"{path.name}: not a VBench results file ({exc})") from exc
    ids = sorted({video for _, video, _ in entries})
    known = {
        r["id"] for r in store.query("SELECT id FROM videos WHERE list_contains(?, id)", [ids])
    }
    unknown = [v for v in ids if v not in known]
    if unknown:
        raise WorkbenchError(f"{path.name}: videos not in the store: {', '.join(unknown[:5])}")
    rows = [{"video_id": video, "judge": "vbench-official", "judge_version": "official",
             "dimension": dim, "value": value} for dim, video, value in entries]  # fmt: skip
    store.insert("scores", rows)
    return len(rows)
