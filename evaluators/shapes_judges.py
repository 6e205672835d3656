"""Exact judges for shapes-world videos: prompt following (PF) and visual quality (VQ)."""

from __future__ import annotations

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.shapes_oracle import prompt_following, visual_quality
from workbench import media


class ShapesPromptFollowing(PerVideoJudge):
    name, version, needs_world = "shapes-pf", "4", True
    dimensions = (
        Dimension("shape", description="the stated shape is drawn clearly (soft IoU rule)"),
        Dimension("color", description="the object has the stated colour"),
        Dimension("background", description="the stated background"),
        Dimension("motion", description="least of direction, travel and continuity"),
        Dimension("overall", description="mean of shape, color, background and motion"),
        Dimension("direction", description="share of steps the prompted way"),
        Dimension("travel", description="net progress against the truth's (within 20%: 1)"),
        Dimension("continuity", description="share of steps like the truth's (no jump, hold)"),
        Dimension("dynamics", description="how much it moves at all against the truth"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        if item.reference is None:
            raise ValueError(f"{self.name} needs the sample's ground truth as the reference")
        return prompt_following(item.frames, item.attributes, item.reference)


class ShapesVisualQuality(PerVideoJudge):
    name, version, needs_world = "shapes-vq", "3", True
    dimensions = (
        Dimension("presence", description="each object's area against the true area"),
        Dimension("sharpness", description="soft-edge share against the true render's"),
        Dimension("noise", description="1 - median off-palette distance"),
        Dimension("integrity", description="each object is one blob"),
        Dimension("color_fidelity", description="object colour as stated"),
        Dimension("background", description="background pixels have its colour"),
        Dimension("stability", description="no brightness flicker between frames"),
        Dimension("smoothness", description="0.5 ** frames where the path jumps or jitters"),
        Dimension("persistence", description="0.5 ** frames where an object is not drawn"),
        Dimension("background_continuity", description="0.5 ** frame pairs it changes in"),
        Dimension("overall", description="geometric mean of seven x the temporal three ^ 1/7"),
    )

    def score_one(self, item: VideoItem) -> dict[str, float]:
        if item.reference is None:
            raise ValueError(f"{self.name} needs the sample's ground truth as the reference")
        # The truth after the same H.264 every stored video went through (see visual_quality).
        truth = media.h264_round_trip(item.reference, round(item.fps or 8))
        return visual_quality(item.frames, item.attributes, truth)
