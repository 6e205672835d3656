"""Judges built on CLIP (open_clip) with local weights only.

Weights live under `<weights>/clip/<MODEL>.{pt,bin,safetensors}`, MODEL an open_clip model
name (ViT-B-32, ViT-L-14, ...). OpenAI's own files (the TorchScript `ViT-B-32.pt` /
`ViT-L-14.pt` VBench downloads, or a state dict carrying OpenAI's `input_resolution` entry)
are built as OpenAI built them, with QuickGELU: loading them into open_clip's plain
`ViT-B-32` config would use GELU and shift every embedding. Other files are open_clip
checkpoints; a `<MODEL>.json` beside one declares a custom architecture. The LAION aesthetic
head is `<weights>/aesthetic/ViT-L-14-linear.pth` (LAION's sa_0_4_vit_l_14_linear.pth).

Frames go through VBench's `clip_transform(224)` (vbench/utils.py): short side to the
model's input size, bicubic without antialiasing, centre crop, CLIP's mean / std.

clip-pf           prompt following: mean over frames of cos(text, frame) (CLIPScore / 100),
                  ViT-B-32.
clip-aesthetic    visual quality: mean over frames of the LAION aesthetic score (1..10),
                  ViT-L-14.
vbench-clip       VBench's background_consistency (vbench/background_consistency.py:
                  `vbench_consistency` of ViT-B-32 features) and aesthetic_quality
                  (vbench/aesthetic_quality.py: LAION head on ViT-L-14 features / 10).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from evaluators.base import Dimension, Judge, VideoItem

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".bin")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def vbench_consistency(features: torch.Tensor) -> float:
    """VBench's subject / background consistency over L2-normalised per-frame features
    (T, D): for frames i >= 1 the mean of max(0, cos(f_i, f_0)) and max(0, cos(f_i, f_i-1)),
    averaged over i (vbench/subject_consistency.py, `sim_per_images`)."""
    if len(features) < 2:
        raise ValueError("consistency needs at least two frames")
    to_first = (features[1:] * features[:1]).sum(-1).clamp(min=0)
    to_previous = (features[1:] * features[:-1]).sum(-1).clamp(min=0)
    return float(((to_first + to_previous) / 2).mean())


def clip_transform(frames: np.ndarray, size: int = 224) -> torch.Tensor:
    """VBench's clip_transform on (T, H, W, 3) uint8 frames -> (T, 3, size, size)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float()  # VBench's load_video: float 0..255
    x = F.resize(x, size, interpolation=InterpolationMode.BICUBIC, antialias=False)
    x = F.center_crop(x, size)
    return F.normalize(x / 255.0, CLIP_MEAN, CLIP_STD)


def is_openai_release(file: Path) -> bool:
    """OpenAI ships CLIP as TorchScript; its state dict keeps `input_resolution`."""
    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            if any(n.endswith("constants.pkl") for n in archive.namelist()):
                return True
    if file.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(file), "pt") as f:
            return "input_resolution" in f.keys()  # noqa: SIM118 (safe_open is no dict)
    # mmap (zip-format files): the check reads the keys, not hundreds of MB of weights.
    state = torch.load(file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(file))
    return "input_resolution" in state


def load_clip(file: Path, model_name: str):
    """(model, tokenizer) from a local file; OpenAI's files with OpenAI's architecture."""
    import open_clip

    if is_openai_release(file):
        model = open_clip.load_openai_model(str(file), precision="fp32", device="cpu")
    else:
        config = file.with_suffix(".json")
        if config.is_file():
            open_clip.add_model_config(config)
        model = open_clip.create_model(model_name, pretrained=str(file))
    return model.eval(), open_clip.get_tokenizer(model_name)


class ClipJudge(Judge):
    """Shared loading: the CLIP models a judge needs (and optionally the aesthetic head)."""

    models: tuple[str, ...] = ("ViT-B-32",)
    needs_aesthetic = False

    def __init__(self, weights: Path | None = None) -> None:
        super().__init__(weights)
        self._loaded: dict[str, tuple] = {}
        self._aesthetic_head: torch.nn.Linear | None = None

    def _weights_file(self, model_name: str) -> Path | None:
        folder = (self.weights or Path("<no --weights>")) / "clip"
        files = [folder / f"{model_name}{s}" for s in WEIGHT_SUFFIXES]
        return next((f for f in files if f.is_file()), None)

    def _head_file(self) -> Path:
        return (self.weights or Path("<no --weights>")) / "aesthetic" / "ViT-L-14-linear.pth"

    def unavailable(self) -> str | None:
        if self.weights is None:
            needed = " and ".join(f"clip/{m}.pt" for m in self.models)
            return f"needs --weights DIR holding {needed} (workbench judges fetch {self.name})"
        for name in self.models:
            if self._weights_file(name) is None:
                files = f"{name}.{{pt,bin,safetensors}}"
                return f"CLIP weights {files} not found in {self.weights / 'clip'}"
        if self.needs_aesthetic and not self._head_file().is_file():
            return (
                f"aesthetic head {self._head_file().name} not found in {self._head_file().parent}"
            )
        return None

    def _clip(self, model_name: str):
        if model_name not in self._loaded:
            self._loaded[model_name] = load_clip(self._weights_file(model_name), model_name)
        return self._loaded[model_name]

    @torch.no_grad()
    def frame_features(self, frames: np.ndarray, model_name: str) -> torch.Tensor:
        model, _ = self._clip(model_name)
        size = model.visual.image_size
        pixels = clip_transform(frames, size[0] if isinstance(size, tuple | list) else size)
        return torch.nn.functional.normalize(model.encode_image(pixels).float(), dim=-1)

    @torch.no_grad()
    def text_features(self, prompts: list[str], model_name: str) -> torch.Tensor:
        model, tokenizer = self._clip(model_name)
        return torch.nn.functional.normalize(model.encode_text(tokenizer(prompts)).float(), dim=-1)

    @torch.no_grad()
    def aesthetic(self, frames: np.ndarray) -> torch.Tensor:
        """LAION aesthetic score per frame, on L2-normalised ViT-L-14 features."""
        if self._aesthetic_head is None:
            state = torch.load(self._head_file(), map_location="cpu", weights_only=True)
            self._aesthetic_head = torch.nn.Linear(state["weight"].shape[1], 1)
            self._aesthetic_head.load_state_dict(state)
            self._aesthetic_head.eval()
        return self._aesthetic_head(self.frame_features(frames, "ViT-L-14")).squeeze(-1)


class ClipPromptFollowing(ClipJudge):
    name, version = "clip-pf", "2"
    dimensions = (Dimension("clip_score", True, "mean cos(text, frame), ViT-B-32"),)

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        text = self.text_features([i.prompt for i in items], "ViT-B-32")
        return [
            {"clip_score": float((self.frame_features(i.frames, "ViT-B-32") @ text[k]).mean())}
            for k, i in enumerate(items)
        ]


class ClipAesthetic(ClipJudge):
    name, version, models, needs_aesthetic = "clip-aesthetic", "2", ("ViT-L-14",), True
    dimensions = (Dimension("aesthetic", True, "LAION aesthetic score, 1..10"),)

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        return [{"aesthetic": float(self.aesthetic(i.frames).mean())} for i in items]


class VBenchClip(ClipJudge):
    name, version, needs_aesthetic = "vbench-clip", "2", True
    models = ("ViT-B-32", "ViT-L-14")
    dimensions = (
        Dimension("background_consistency", True, "VBench, CLIP ViT-B-32 features"),
        Dimension("aesthetic_quality", True, "VBench, LAION head on ViT-L-14 / 10"),
    )

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        return [
            {
                "background_consistency": vbench_consistency(
                    self.frame_features(i.frames, "ViT-B-32")
                ),
                "aesthetic_quality": float(self.aesthetic(i.frames).mean()) / 10,
            }
            for i in items
        ]
