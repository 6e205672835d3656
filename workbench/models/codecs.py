"""Codecs map frames to the space the transformer denoises, and back.

Frames enter as uint8 (B, T, H, W, 3); latents are float (B, C, T', H', W').
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import torch

from workbench.models.runtime import Runtime


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
    fingerprint = "pixel"

    runtime = Runtime()

    def encode(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        return self.encode_pixels(to_pixels(frames))

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float pixels in [-1, 1], (B, 3, T, H, W): the codec's own space."""
        return pixels.float()

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        x = ((latents.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
        return x.permute(0, 2, 3, 4, 1).cpu().numpy()

    def latent_frames(self, frames: int) -> int:
        return frames


class WanVAECodec:
    """AutoencoderKLWan with the per-channel normalisation the Wan pipelines apply."""

    name = "wan-vae"

    def __init__(self, vae) -> None:
        self.vae = vae.eval().requires_grad_(False)
        self.runtime = Runtime()
        cfg = vae.config
        self.channels = cfg.z_dim
        self.temporal_factor = 2 ** sum(cfg.temperal_downsample)
        self.spatial_factor = 2 ** len(cfg.temperal_downsample)
        self._mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1)
        self._std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1)

    def encode(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        return self.encode_pixels(to_pixels(frames))

    @torch.no_grad()
    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float pixels in [-1, 1], (B, 3, T, H, W) -> normalised latents on the CPU."""
        with self.runtime.use(self.vae) as vae:
            x = pixels.to(vae.device, vae.dtype)
            latents = vae.encode(x).latent_dist.mode().float().cpu()
        return (latents - self._mean) / self._std

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        x = latents.float().cpu() * self._std + self._mean
        with self.runtime.use(self.vae) as vae:
            video = vae.decode(x.to(vae.device, vae.dtype)).sample
        return PixelCodec().decode(video)

    def latent_frames(self, frames: int) -> int:
        return (frames - 1) // self.temporal_factor + 1

    @functools.cached_property
    def fingerprint(self) -> str:
        """Names this VAE's latents in the on-disk caches."""
        return f"wan-vae-{weights_digest(self.vae)}"


def to_pixels(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 frames (B, T, H, W, 3) -> float pixels in [-1, 1], (B, 3, T, H, W)."""
    if isinstance(frames, np.ndarray) and not frames.flags.writeable:
        frames = frames.copy()  # decoded video frames can be read-only views
    x = torch.as_tensor(frames).float() / 127.5 - 1.0
    return x.permute(0, 4, 1, 2, 3).contiguous()


def weights_digest(module: torch.nn.Module) -> str:
    """A hash of a module's weights as they are in memory (dtype included)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(
            tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        )
    return digest.hexdigest()[:16]
