"""Timestep sampling for flow-matching training: pure functions of a generator."""

from __future__ import annotations

import torch

SCHEMES = ("uniform", "logit-normal")


def sample_timesteps(
    n: int,
    generator: torch.Generator,
    scheme: str = "logit-normal",
    mean: float = 0.0,
    std: float = 1.0,
    shift: float = 1.0,
) -> torch.Tensor:
    """n timesteps in (0, 1); t = 1 is pure noise.

    `shift` > 1 moves mass towards noise as Wan / SD3 do: t' = s t / (1 + (s - 1) t).
    """
    if scheme == "uniform":
        t = torch.rand(n, generator=generator)
    elif scheme == "logit-normal":
        t = torch.sigmoid(mean + std * torch.randn(n, generator=generator))
    else:
        raise ValueError(f"unknown timestep scheme {scheme!r}; choose from {SCHEMES}")
    t = shift * t / (1 + (shift - 1) * t)
    return t.clamp(1e-4, 1 - 1e-4)


def noisy_latents(
    x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t = (1 - t) x0 + t noise and the velocity target v = noise - x0."""
    t_ = t.view(-1, *([1] * (x0.ndim - 1))).to(x0)
    return (1 - t_) * x0 + t_ * noise, noise - x0
