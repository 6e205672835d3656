"""Flow-matching sampling with classifier-free guidance, deterministic per sample seed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench.models.wan import Conditioning, WanVideoModel


@dataclass(frozen=True, kw_only=True)
class SamplerSettings:
    """How a video is sampled; recorded with every generated video."""

    steps: int = 20
    guidance: float = 4.0
    """Classifier-free guidance scale; 1.0 disables the unconditional pass."""
    cfg_min_t: float = 0.0
    """Guidance only while t > cfg_min_t (late guidance speckles pixel-space models)."""
    shift: float = 1.0
    """Timestep shift of the flow-matching schedule (Wan2.1 uses 3-5)."""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.guidance < 0 or not 0 <= self.cfg_min_t <= 1 or self.shift <= 0:
            raise ValueError(f"bad sampler settings: {self}")

    @classmethod
    def from_defaults(cls, defaults: dict[str, Any], **overrides: Any) -> SamplerSettings:
        """A model's recorded defaults (unknown keys ignored), with any non-None overrides."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in defaults.items() if k in names}
        return cls(**known | {k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def initial_noise(shape: tuple[int, ...], seeds: list[int]) -> torch.Tensor:
    """One generator per sample: a video depends on its seed, not on its batch."""
    return torch.stack(
        [torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds]
    )


@torch.no_grad()
def sample_videos(
    model: WanVideoModel,
    prompts: list[str],
    seeds: list[int],
    settings: SamplerSettings,
    frames: int,
    height: int,
    width: int,
    first_frames: np.ndarray | None = None,
) -> np.ndarray:
    """Videos as uint8 (B, T, H, W, 3), Euler steps from t = 1 (noise) to t = 0."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    model.check_clip_format(frames, height, width)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=settings.shift)
    scheduler.set_timesteps(settings.steps)
    param = next(model.transformer.parameters())
    latents = initial_noise(model.latent_shape(frames, height, width), seeds).to(param)
    cond = model.condition(prompts, first_frames, frames)
    guided = settings.guidance != 1.0
    if guided:  # batch cond and uncond in one forward
        uncond = model.condition([""] * len(prompts), first_frames, frames)
        cond = Conditioning.cat([cond, uncond])
    model.transformer.eval()
    for timestep in scheduler.timesteps:
        t = float(timestep) / 1000.0
        if guided and t > settings.cfg_min_t:
            v_cond, v_uncond = model.velocity(
                latents.repeat(2, 1, 1, 1, 1), _full(t, 2 * len(seeds), param), cond
            ).chunk(2)
            v = v_uncond + settings.guidance * (v_cond - v_uncond)
        else:
            v = model.velocity(
                latents, _full(t, len(seeds), param), cond.select(slice(0, len(seeds)))
            )
        latents = scheduler.step(v, timestep, latents).prev_sample
    return model.codec.decode(latents)


def _full(t: float, n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((n,), t, dtype=like.dtype, device=like.device)
