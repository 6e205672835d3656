"""VBench dimensions that need models, from local weights only.

vbench-dino   subject_consistency: `vbench_consistency` of DINO ViT features (VBench uses
              DINO ViT-B/16). Weights: `<weights>/dino/<timm model>.pth`, e.g.
              vit_base_patch16_224.dino.pth; the file name names the timm architecture.
vbench-raft   dynamic_degree: RAFT optical flow (torchvision's implementation) between
              consecutive frames; a pair's motion is the mean of the top 5% flow magnitudes;
              a clip is dynamic (1) when at least round(4 * T / 16) pairs exceed
              6 * min(H, W) / 256 pixels, else 0 (VBench's rule). Weights:
              `<weights>/raft/raft_large.pth` or `raft_small.pth` (torchvision state dicts).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import torch

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.clip_judges import vbench_consistency
from evaluators.registry import register

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def dynamic_from_flows(pair_motion: list[float], frames: int, height: int, width: int) -> float:
    """VBench's decision from per-pair motion magnitudes: 1.0 dynamic, 0.0 static."""
    threshold = 6.0 * min(height, width) / 256.0
    needed = max(1, round(4 * frames / 16.0))
    return float(sum(m > threshold for m in pair_motion) >= needed)


class WeightsFileJudge(PerVideoJudge):
    """A judge whose single weights file sits in `<weights>/<folder>/`."""

    folder: str
    expected: str  # what to tell a user who has none

    def _file(self) -> Path | None:
        if self.weights is None or not (self.weights / self.folder).is_dir():
            return None
        return next(iter(sorted((self.weights / self.folder).glob("*.pth"))), None)

    def unavailable(self) -> str | None:
        if self.weights is None:
            return f"needs --weights DIR holding {self.folder}/{self.expected}"
        if self._file() is None:
            return f"{self.expected} not found in {self.weights / self.folder}"
        return None


@register("vbench-dino")
class VBenchDino(WeightsFileJudge):
    name, version, folder = "vbench-dino", "1", "dino"
    expected = "vit_base_patch16_224.dino.pth"
    dimensions = (Dimension("subject_consistency", True, "VBench, DINO features"),)

    @cached_property
    def _model(self):
        import timm

        file = self._file()
        model = timm.create_model(file.stem, pretrained=False, num_classes=0)
        model.load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
        return model.eval()

    @torch.no_grad()
    def score_one(self, item: VideoItem) -> dict[str, float]:
        size = self._model.default_cfg.get("input_size", (3, 224, 224))[1:]
        x = torch.as_tensor(item.frames).permute(0, 3, 1, 2).float() / 255
        x = torch.nn.functional.interpolate(x, size=size, mode="bicubic", align_corners=False)
        features = self._model((x - IMAGENET_MEAN) / IMAGENET_STD)
        features = torch.nn.functional.normalize(features.float(), dim=-1)
        return {"subject_consistency": vbench_consistency(features)}


@register("vbench-raft")
class VBenchRaft(WeightsFileJudge):
    name, version, folder = "vbench-raft", "1", "raft"
    expected = "raft_large.pth (or raft_small.pth)"
    dimensions = (Dimension("dynamic_degree", True, "VBench, RAFT flow, 1 = dynamic"),)

    @cached_property
    def _model(self):
        from torchvision.models import optical_flow

        file = self._file()
        build = optical_flow.raft_small if "small" in file.stem else optical_flow.raft_large
        model = build(weights=None)
        model.load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
        return model.eval()

    @torch.no_grad()
    def score_one(self, item: VideoItem) -> dict[str, float]:
        t, h, w, _ = item.frames.shape
        # RAFT needs sides divisible by 8: pad up, in [-1, 1] as torchvision's RAFT expects.
        x = torch.as_tensor(item.frames).permute(0, 3, 1, 2).float() / 127.5 - 1
        x = torch.nn.functional.pad(x, (0, -w % 8, 0, -h % 8), mode="replicate")
        x = torch.nn.functional.interpolate(x, scale_factor=max(1, 128 // min(h, w)))
        flows = self._model(x[:-1], x[1:], num_flow_updates=12)[-1]
        magnitude = flows.norm(dim=1).flatten(1)  # (T-1, pixels)
        top = magnitude.topk(max(1, int(0.05 * magnitude.shape[1])), dim=1).values.mean(dim=1)
        scale = max(1, 128 // min(h, w))
        return {"dynamic_degree": dynamic_from_flows((top / scale).tolist(), t, h, w)}
