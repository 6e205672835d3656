"""The shapes world: the embedded default's procedural video data."""

from workbench.world.shapes import WorldConfig, WorldSample, make_sample, render

__all__ = ["WorldConfig", "WorldSample", "make_sample", "render"]
