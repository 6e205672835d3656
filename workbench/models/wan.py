"""The Wan2.1 family behind the workbench's model adapter: T2V and I2V, VAE or pixel codec.

A model directory is either a diffusers Wan pipeline (`model_index.json`: Wan2.1 T2V / I2V
checkpoints, or tiny ones built by tests) or a workbench checkpoint (`workbench.json`): a full
model saved component by component in the diffusers layout, or LoRA weights over a parent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from workbench.errors import WorkbenchError
from workbench.models.codecs import PixelCodec, WanVAECodec, to_pixels, weights_digest
from workbench.models.runtime import Runtime
from workbench.models.text import PromptEncoder

MODEL_FILE = "workbench.json"
LORA_FILE = "pytorch_lora_weights.safetensors"
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")


@dataclass
class Conditioning:
    """Everything besides the noisy latents that the transformer sees, batched."""

    text: torch.Tensor  # (B, L, D)
    image_latents: torch.Tensor | None = (
        None  # I2V: mask + first-frame latents, (B, C', T', H', W')
    )
    image_embeds: torch.Tensor | None = None  # I2V with a CLIP image encoder

    def select(self, index: torch.Tensor | slice) -> Conditioning:
        pick = lambda x: None if x is None else x[index]  # noqa: E731
        return Conditioning(pick(self.text), pick(self.image_latents), pick(self.image_embeds))

    def to(self, device) -> Conditioning:
        move = lambda x: None if x is None else x.to(device)  # noqa: E731
        return Conditioning(move(self.text), move(self.image_latents), move(self.image_embeds))

    @staticmethod
    def cat(parts: list[Conditioning]) -> Conditioning:
        join = lambda xs: None if xs[0] is None else torch.cat(xs)  # noqa: E731
        return Conditioning(
            *(
                join([getattr(p, f) for p in parts])
                for f in ("text", "image_latents", "image_embeds")
            )
        )


class WanVideoModel:
    """The adapter: prompts and first frames in, flow-matching velocities and videos out."""

    def __init__(
        self,
        transformer,
        prompts: PromptEncoder,
        codec: PixelCodec | WanVAECodec,
        task: str,
        info: dict[str, Any],
        image_encoder=None,
        image_processor=None,
    ) -> None:
        if task not in ("t2v", "i2v"):
            raise WorkbenchError(f"unknown task {task!r} (t2v or i2v)")
        _float32_rope(transformer)
        self.transformer = transformer
        self.prompts = prompts
        self.codec = codec
        self.task = task
        self.info = info  # family, codec, clip format, sampling defaults, lora
        self.image_encoder = image_encoder
        self.image_processor = image_processor
        self.runtime = Runtime()

    def place(self, runtime: Runtime, transformer: bool = True) -> None:
        """Put every part where `runtime` says: the transformer on its device (its dtype is
        the caller's choice: trainable or frozen; `transformer` False leaves it where it is,
        for FSDP2 to move each rank's shards alone), the frozen encoders as runtime.freeze."""
        self.runtime = runtime
        if transformer:
            self.transformer.to(runtime.device)
        self.prompts.place(runtime)
        self.codec.runtime = runtime
        if self.image_encoder is not None:
            runtime.freeze(self.image_encoder)

    # -- shapes ------------------------------------------------------------------------

    def check_clip_format(self, frames: int, height: int, width: int) -> None:
        """Raises WorkbenchError when clips of this size cannot go through the model."""
        clip = self.info.get("clip")
        if clip and (clip["frames"], clip["height"], clip["width"]) != (frames, height, width):
            raise WorkbenchError(
                f"model was built for {clip['frames']} frames at {clip['height']}x{clip['width']}"
                f", dataset has {frames} frames at {height}x{width}"
            )
        p_t, p_h, p_w = self.transformer.config.patch_size
        t = self.codec.latent_frames(frames)
        s = self.codec.spatial_factor
        ok = (frames - 1) % self.codec.temporal_factor == 0 or self.codec.temporal_factor == 1
        if not ok or t % p_t or height % (s * p_h) or width % (s * p_w):
            raise WorkbenchError(
                f"clip format {frames}x{height}x{width} does not fit the model (temporal factor "
                f"{self.codec.temporal_factor}, spatial {s}, patch {tuple((p_t, p_h, p_w))})"
            )

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        s = self.codec.spatial_factor
        return (self.codec.channels, self.codec.latent_frames(frames), height // s, width // s)

    # -- conditioning ------------------------------------------------------------------

    def condition(
        self, prompts: list[str], first_frames: np.ndarray | None = None, num_frames: int = 0
    ) -> Conditioning:
        """Text embeddings; for I2V also the first-frame condition.

        Args:
            prompts: one per sample.
            first_frames: I2V only, uint8 (B, H, W, 3).
            num_frames: I2V only, frames of the clip to generate.
        """
        text = self.prompts.encode(prompts)
        if self.task == "t2v":
            return Conditioning(text)
        if first_frames is None or num_frames < 1:
            raise WorkbenchError("an I2V model needs first frames and a frame count")
        return Conditioning(text, *self.image_condition(first_frames, num_frames))

    def image_condition(
        self, first_frames: np.ndarray, num_frames: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """I2V: (mask + first-frame latents, CLIP image embeddings or None), on the CPU.

        As WanImageToVideoPipeline.prepare_latents: encode [first frame, 0, 0, ...] (zeros in
        [-1, 1] pixels: exact grey) and prepend a mask marking the first latent frame known.
        """
        first = to_pixels(first_frames[:, None])  # (B, 3, 1, H, W)
        pad = first.new_zeros(*first.shape[:2], num_frames - 1, *first.shape[3:])
        latents = self.codec.encode_pixels(torch.cat([first, pad], dim=2))
        mask = torch.zeros(len(first), self.codec.temporal_factor, *latents.shape[2:])
        mask[:, :, 0] = 1.0
        return torch.cat([mask, latents], dim=1), self._image_embeds(first_frames)

    def _image_embeds(self, first_frames: np.ndarray) -> torch.Tensor | None:
        if self.image_encoder is None:
            return None
        images = [Image.fromarray(f) for f in first_frames]  # as the pipeline passes them
        pixels = self.image_processor(images=images, return_tensors="pt").pixel_values
        with torch.no_grad(), self.runtime.use(self.image_encoder) as encoder:
            pixels = pixels.to(encoder.device, encoder.dtype)
            out = encoder(pixels, output_hidden_states=True)
        return out.hidden_states[-2].to("cpu", self.runtime.frozen_dtype)

    @functools.cached_property
    def condition_fingerprint(self) -> str:
        """Names this model's I2V conditions in the on-disk cache (VAE and image encoder)."""
        image = "none" if self.image_encoder is None else weights_digest(self.image_encoder)
        return f"{self.codec.fingerprint}-clip-{image}"

    # -- the network -------------------------------------------------------------------

    def velocity(
        self, latents: torch.Tensor, t: torch.Tensor, cond: Conditioning, transformer=None
    ) -> torch.Tensor:
        """Predicted v = noise - x0 at x_t = (1 - t) x0 + t noise, t in [0, 1] per sample.

        `transformer` swaps in another network of the same architecture (a frozen reference).
        t stays fp32 whatever the weights' dtype: bf16 would quantise it before the x1000.
        """
        x = latents
        if cond.image_latents is not None:
            x = torch.cat([latents, cond.image_latents.to(latents)], dim=1)
        image = None if cond.image_embeds is None else cond.image_embeds.to(latents)
        return (transformer or self.transformer)(
            hidden_states=x,
            timestep=t.float() * 1000.0,  # Wan's time embedding expects [0, 1000]
            encoder_hidden_states=cond.text.to(latents),
            encoder_hidden_states_image=image,
            return_dict=False,
        )[0]


def _float32_rope(transformer) -> None:
    # Wan builds its RoPE tables in float64 on CPU, which silently promotes the q/k maths.
    rope = transformer.rope
    for name in ("freqs_cos", "freqs_sin"):
        setattr(rope, name, getattr(rope, name).float())
