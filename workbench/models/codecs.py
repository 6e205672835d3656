"""Codecs map frames to the space the transformer denoises, and back.

Frames enter as uint8 (B, T, H, W, 3); latents are float (B, C, T', H', W').
"""

from __future__ import annotations

import numpy as np
import torch


class PixelCodec:
    """Pixel space in [-1, 1]: lossless and free, for the embedded default's 32-pixel clips.

    A tiny VAE would have to be trained on the world first and would blur 6-pixel shapes; at
    8x32x32 the transformer runs on 4x4 pixel patches directly (512 tokens), which the
    calibration run showed trains at ~0.1 s per sample on two cores.
    """

    channels = 3
    temporal_factor = 1
    spatial_factor = 1
    name = "pixel"

    def encode(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(frames).float() / 127.5 - 1.0
        return x.permute(0, 4, 1, 2, 3).contiguous()

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        x = ((latents.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
        return x.permute(0, 2, 3, 4, 1).cpu().numpy()

    def latent_frames(self, frames: int) -> int:
        return frames


class WanVAECodec:
    """AutoencoderKLWan with the per-channel normalisation the Wan pipelines apply."""

    name = "wan-vae"

    def __init__(self, vae) -> None:
        self.vae = vae
        cfg = vae.config
        self.channels = cfg.z_dim
        self.temporal_factor = 2 ** sum(cfg.temperal_downsample)
        self.spatial_factor = 2 ** len(cfg.temperal_downsample)
        self._mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1)
        self._std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1)

    @torch.no_grad()
    def encode(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = PixelCodec().encode(frames).to(self.vae.device, self.vae.dtype)
        latents = self.vae.encode(x).latent_dist.mode().float().cpu()
        return (latents - self._mean) / self._std

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        x = latents.float().cpu() * self._std + self._mean
        video = self.vae.decode(x.to(self.vae.device, self.vae.dtype)).sample
        return PixelCodec().decode(video)

    def latent_frames(self, frames: int) -> int:
        return (frames - 1) // self.temporal_factor + 1
