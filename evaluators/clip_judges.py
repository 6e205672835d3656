"""Judges built on CLIP (open_clip) with local weights only.

Weights live under `<weights>/clip/<MODEL>.{pt,bin,safetensors}`, MODEL an open_clip model
name (ViT-B-32, ViT-L-14, ...); a `<MODEL>.json` beside a file declares a custom
architecture. The LAION aesthetic head is `<weights>/aesthetic/<MODEL>-linear.pth`
(a Linear(embed_dim, 1); LAION ships ViT-L-14's as sa_0_4_vit_l_14_linear.pth).

clip-pf           prompt following: mean over frames of cos(text, frame) (CLIPScore / 100).
clip-aesthetic    visual quality: mean over frames of the LAION aesthetic score (1..10).
vbench-clip       VBench's background_consistency (`vbench_consistency` of CLIP features) and
                  aesthetic_quality = aesthetic score / 10.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from evaluators.base import Dimension, Judge, VideoItem
from evaluators.registry import register

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".bin")


def vbench_consistency(features: torch.Tensor) -> float:
    """VBench's subject / background consistency over L2-normalised per-frame features
    (T, D): for frames i >= 1 the mean of max(0, cos(f_i, f_0)) and max(0, cos(f_i, f_i-1)),
    averaged over i."""
    if len(features) < 2:
        raise ValueError("consistency needs at least two frames")
    to_first = (features[1:] * features[:1]).sum(-1).clamp(min=0)
    to_previous = (features[1:] * features[:-1]).sum(-1).clamp(min=0)
    return float(((to_first + to_previous) / 2).mean())


class ClipJudge(Judge):
    """Shared loading: one open_clip model (and optionally the aesthetic head) per judge."""

    model_name = "ViT-B-32"
    needs_aesthetic = False

    def _weights_file(self) -> Path | None:
        folder = (self.weights or Path("<no --weights>")) / "clip"
        files = [folder / f"{self.model_name}{s}" for s in WEIGHT_SUFFIXES]
        return next((f for f in files if f.is_file()), None)

    def _head_file(self) -> Path:
        return (
            (self.weights or Path("<no --weights>")) / "aesthetic" / f"{self.model_name}-linear.pth"
        )

    def unavailable(self) -> str | None:
        if self.weights is None:
            return f"needs --weights DIR holding clip/{self.model_name}.pt (nothing is downloaded)"
        if self._weights_file() is None:
            names = f"{self.model_name}.{{pt,bin,safetensors}}"
            return f"CLIP weights {names} not found in {self.weights / 'clip'}"
        if self.needs_aesthetic and not self._head_file().is_file():
            return (
                f"aesthetic head {self._head_file().name} not found in {self._head_file().parent}"
            )
        return None

    @cached_property
    def _clip(self):
        import open_clip

        config = self._weights_file().with_suffix(".json")
        if config.is_file():
            open_clip.add_model_config(config)
        model, _, preprocess = open_clip.create_model_and_transforms(
            self.model_name, pretrained=str(self._weights_file())
        )
        return model.eval(), preprocess, open_clip.get_tokenizer(self.model_name)

    @cached_property
    def _head(self) -> torch.nn.Linear:
        state = torch.load(self._head_file(), map_location="cpu", weights_only=True)
        head = torch.nn.Linear(state["weight"].shape[1], 1)
        head.load_state_dict(state)
        return head.eval()

    @torch.no_grad()
    def frame_features(self, frames: np.ndarray) -> torch.Tensor:
        from PIL import Image

        model, preprocess, _ = self._clip
        pixels = torch.stack([preprocess(Image.fromarray(f)) for f in frames])
        return torch.nn.functional.normalize(model.encode_image(pixels).float(), dim=-1)

    @torch.no_grad()
    def text_features(self, prompts: list[str]) -> torch.Tensor:
        model, _, tokenizer = self._clip
        return torch.nn.functional.normalize(model.encode_text(tokenizer(prompts)).float(), dim=-1)

    @torch.no_grad()
    def aesthetic(self, features: torch.Tensor) -> torch.Tensor:
        return self._head(features).squeeze(-1)


@register("clip-pf")
class ClipPromptFollowing(ClipJudge):
    name, version = "clip-pf", "1"
    dimensions = (Dimension("clip_score", True, "mean cos(text, frame)"),)

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        text = self.text_features([i.prompt for i in items])
        return [{"clip_score": float((self.frame_features(i.frames) @ text[k]).mean())}
                for k, i in enumerate(items)]  # fmt: skip


@register("clip-aesthetic")
class ClipAesthetic(ClipJudge):
    name, version, model_name, needs_aesthetic = "clip-aesthetic", "1", "ViT-L-14", True
    dimensions = (Dimension("aesthetic", True, "LAION aesthetic score, 1..10"),)

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        return [{"aesthetic": float(self.aesthetic(self.frame_features(i.frames)).mean())}
                for i in items]  # fmt: skip


@register("vbench-clip")
class VBenchClip(ClipJudge):
    name, version, model_name, needs_aesthetic = "vbench-clip", "1", "ViT-L-14", True
    dimensions = (
        Dimension("background_consistency", True, "VBench, CLIP features"),
        Dimension("aesthetic_quality", True, "VBench, LAION aesthetic / 10"),
    )

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        out = []
        for item in items:
            features = self.frame_features(item.frames)
            aesthetic = float(self.aesthetic(features).mean())
            out.append({"background_consistency": vbench_consistency(features),
                        "aesthetic_quality": aesthetic / 10})  # fmt: skip
        return out
