"""Exact judges for shapes-world videos: prompt following (PF) and visual quality (VQ)."""

from __future__ import annotations

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.registry import register
from evaluators.shapes_oracle import prompt_following, visual_quality
from workbench import media


@register("shapes-pf")
class ShapesPromptFollowing(PerVideoJudge):
    name, version, needs_world = "shapes-pf", "3", True
    dimensions = (
        Dimension("shape", description="the stated shape is drawn clearly (soft IoU rule)"),
        Dimension("color", description="the object has the stated colour"),
        Dimension("background", description="the stated background"),
        Dimension("motion", description="the object moves as stated"),
        Dimension("overall", description="mean of the four"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        return prompt_following(item.frames, item.attributes)


@register("shapes-vq")
class ShapesVisualQuality(PerVideoJudge):
    name, version, needs_world = "shapes-vq", "2", True
    dimensions = (
        Dimension("presence", description="each object's area against the true area"),
        Dimension("sharpness", description="soft-edge share against the true render's"),
        Dimension("noise", description="1 - median off-palette distance"),
        Dimension("integrity", description="each object is one blob"),
        Dimension("color_fidelity", description="object colour as stated"),
        Dimension("background", description="background pixels have its colour"),
        Dimension("stability", description="no brightness flicker between frames"),
        Dimension("overall", description="geometric mean of the seven"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        if item.reference is None:
            raise ValueError(f"{self.name} needs the sample's ground truth as the reference")
        # The truth after the same H.264 every stored video went through (see visual_quality).
        truth = media.h264_round_trip(item.reference, round(item.fps or 8))
        return visual_quality(item.frames, item.attributes, truth)
