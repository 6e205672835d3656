"""Flow-matching sampling with classifier-free guidance, deterministic per sample seed.

Follows diffusers' pipelines/wan/pipeline_wan.py and pipeline_wan_i2v.py step for step (the
same noise per seed, scheduler, CFG and I2V condition), so GT-Pair losers are what the
official pipeline would make; it differs only in batching the cond and uncond passes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench.models.wan import Conditioning, WanVideoModel

SCHEDULERS = ("euler", "unipc")


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
    scheduler: str = "euler"
    """euler (FlowMatchEulerDiscreteScheduler: the embedded model) or unipc
    (UniPCMultistepScheduler with flow sigmas: what the Wan2.1 pipelines ship with)."""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.guidance < 0 or not 0 <= self.cfg_min_t <= 1 or self.shift <= 0:
            raise ValueError(f"bad sampler settings: {self}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")

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


def make_scheduler(settings: SamplerSettings):
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    if settings.scheduler == "unipc":  # as diffusers' docs/source/en/api/pipelines/wan.md
        return UniPCMultistepScheduler(
            prediction_type="flow_prediction",
            use_flow_sigmas=True,
            num_train_timesteps=1000,
            flow_shift=settings.shift,
        )
    return FlowMatchEulerDiscreteScheduler(shift=settings.shift)


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
    decode: bool = True,
) -> np.ndarray | torch.Tensor:
    """Videos as uint8 (B, T, H, W, 3) from t = 1 (noise) to t = 0; the final latents
    instead when `decode` is False. Runs on the model's runtime (device, autocast)."""
    model.check_clip_format(frames, height, width)
    scheduler = make_scheduler(settings)
    scheduler.set_timesteps(settings.steps, device=model.runtime.device)
    latents = initial_noise(model.latent_shape(frames, height, width), seeds)
    latents = _denoise(model, latents, scheduler, prompts, first_frames, frames, settings)
    return model.codec.decode(latents) if decode else latents.cpu()


@torch.no_grad()
def edit_videos(
    model: WanVideoModel,
    prompts: list[str],
    seeds: list[int],
    settings: SamplerSettings,
    clips: np.ndarray,
    strength: float,
    first_frames: np.ndarray | None = None,
    masks: np.ndarray | None = None,
) -> np.ndarray:
    """SDEdit on flow matching (diffusers' video-to-video pipelines start the same way): each
    clip (B, T, H, W, 3) noised to the schedule's first level at or below `strength`
    (x = (1 - sigma) x0 + sigma noise, the noise drawn from its seed) and denoised from there
    to t = 0, so the result keeps the clip's layout and motion where the model agrees.

    With `masks` (B, T, H, W, bool) only the masked region is made anew: after every step the
    latents outside it are the clip's at the step's noise level (diffusers'
    pipeline_stable_diffusion_inpaint.py, `init_latents_proper`), and the result keeps the
    clip's own pixels there."""
    model.check_clip_format(*clips.shape[1:4])
    scheduler = make_scheduler(settings)
    scheduler.set_timesteps(settings.steps, device=model.runtime.device)
    sigmas = scheduler.sigmas.cpu()
    begin = int((sigmas[:-1] > strength).sum())  # the first step at or below `strength`
    if begin >= settings.steps:
        raise ValueError(f"strength {strength} leaves no denoising step of {settings.steps}")
    scheduler.set_begin_index(begin)
    x0 = model.codec.encode(clips)
    sigma, noise = float(sigmas[begin]), initial_noise(tuple(x0.shape[1:]), seeds)
    latents = (1 - sigma) * x0 + sigma * noise
    known = None
    if masks is not None:  # a latent is made anew if any pixel it codes is
        region = torch.from_numpy(masks).float()[:, None]
        known = Known(x0, noise, torch.nn.functional.adaptive_max_pool3d(region, x0.shape[2:]))
    frames = clips.shape[1]
    latents = _denoise(model, latents, scheduler, prompts, first_frames, frames, settings, known)
    edited = model.codec.decode(latents)
    return edited if masks is None else np.where(masks[..., None], edited, clips)


@dataclass(frozen=True)
class Known:
    """What an inpainting edit keeps: the clip's latents `x0`, their noise, and where
    (`region`, 1 = made anew) the sampler's latents are kept instead."""

    x0: torch.Tensor
    noise: torch.Tensor
    region: torch.Tensor

    def paste(self, latents: torch.Tensor, sigma: float) -> torch.Tensor:
        """The latents inside the region; outside, the clip's noised to `sigma`."""
        device = latents.device
        kept = ((1 - sigma) * self.x0 + sigma * self.noise).to(device)
        region = self.region.to(device)
        return region * latents + (1 - region) * kept


def _denoise(
    model, latents, scheduler, prompts, first_frames, frames, settings, known: Known | None = None
) -> torch.Tensor:
    """The sampler's loop over the scheduler's timesteps from its begin index, classifier-free
    guidance while t > cfg_min_t; with `known`, the known region pasted back after each step."""
    runtime, n = model.runtime, len(prompts)
    latents = latents.to(runtime.device)
    cond = model.condition(prompts, first_frames, frames)
    guided = settings.guidance != 1.0
    if guided:  # cond and uncond in one forward; the uncond pass keeps the image condition
        uncond = Conditioning(model.prompts.encode([""] * n), cond.image_latents, cond.image_embeds)
        cond = Conditioning.cat([cond, uncond])
    cond = cond.to(runtime.device)
    model.transformer.eval()
    begin = getattr(scheduler, "begin_index", None) or 0
    with runtime.use(model.transformer), runtime.autocast():
        for timestep in scheduler.timesteps[begin:]:
            t = torch.tensor(float(timestep) / 1000.0, device=runtime.device)
            if guided and t > settings.cfg_min_t:
                v_cond, v_uncond = (
                    model.velocity(latents.repeat(2, 1, 1, 1, 1), t.expand(2 * n), cond)
                    .float()
                    .chunk(2)
                )
                v = v_uncond + settings.guidance * (v_cond - v_uncond)
            else:
                v = model.velocity(latents, t.expand(n), cond.select(slice(0, n))).float()
            latents = scheduler.step(v, timestep, latents).prev_sample
            if known is not None:
                latents = known.paste(latents, float(scheduler.sigmas[scheduler.step_index]))
    return latents
