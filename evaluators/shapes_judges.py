"""Exact judges for shapes-world videos: prompt following (PF) and visual quality (VQ)."""

from __future__ import annotations

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.registry import register
from evaluators.shapes_oracle import prompt_following, visual_quality


@register("shapes-pf")
class ShapesPromptFollowing(PerVideoJudge):
    name, version, needs_world = "shapes-pf", "2", True
    dimensions = (
        Dimension("shape", description="the stated shape is drawn"),
        Dimension("color", description="the object has the stated colour"),
        Dimension("background", description="the stated background"),
        Dimension("motion", description="the object moves as stated"),
        Dimension("overall", description="mean of the four"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        return prompt_following(item.frames, item.attributes)


@register("shapes-vq")
class ShapesVisualQuality(PerVideoJudge):
    name, version, needs_world = "shapes-vq", "1", True
    dimensions = (
        Dimension("clean", description="pixels on the true palette (sharp, noise-free)"),
        Dimension("noise", description="1 - median off-palette distance"),
        Dimension("integrity", description="the object is one blob"),
        Dimension("color_fidelity", description="object colour as stated"),
        Dimension("stability", description="no brightness flicker between frames"),
        Dimension("overall", description="mean of the five"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        return visual_quality(item.frames, item.attributes)
