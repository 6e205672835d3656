"""The judge registry: every built-in judge by its name. The judge modules know nothing of it
(no import cycle); a judge is added by importing its class here. Unknown names suggest."""

from __future__ import annotations

from pathlib import Path

from evaluators.base import Judge
from evaluators.clip_judges import ClipAesthetic, ClipPromptFollowing, VBenchClip
from evaluators.shapes_judges import ShapesPromptFollowing, ShapesVisualQuality
from evaluators.technical import TechnicalQuality
from evaluators.vbench import VBenchNative
from evaluators.vbench_models import VBenchDino, VBenchMusiq, VBenchRaft
from evaluators.videoreward import VideoRewardJudge
from workbench.errors import unknown_name

JUDGES: dict[str, type[Judge]] = {
    judge.name: judge
    for judge in (
        ShapesPromptFollowing,
        ShapesVisualQuality,
        TechnicalQuality,
        VBenchNative,
        VBenchDino,
        VBenchRaft,
        VBenchMusiq,
        ClipPromptFollowing,
        ClipAesthetic,
        VBenchClip,
        VideoRewardJudge,
    )
}


def judge_names() -> list[str]:
    return sorted(JUDGES)


def get_judge(name: str, weights: Path | None = None) -> Judge:
    """Raises WorkbenchError for an unknown name."""
    if name not in JUDGES:
        raise unknown_name("judge", name, JUDGES)
    return JUDGES[name](weights)
