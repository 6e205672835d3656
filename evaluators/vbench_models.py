"""VBench dimensions that need models, from local weights only (maths in evaluators/vbench.py).

vbench-dino   subject_consistency (vbench/subject_consistency.py): `vbench_consistency` of
              DINO ViT-B/16 features, frames through VBench's `dino_transform(224)`: short
              side to 224 (bilinear, no antialias, aspect kept, no crop), ImageNet mean / std.
              Weights: `<weights>/dino/<timm model>.pth`, e.g. vit_base_patch16_224.dino.pth
              (the file name names the timm architecture). Deviation: for non-square clips
              timm interpolates the position embeddings (bicubic) where DINO's hub model
              uses its own `interpolate_pos_encoding`; square clips are exact.
vbench-raft   dynamic_degree, VBench's static filter (`static`, 1 = static) and
              temporal_flickering on static videos only, from RAFT flow (torchvision's RAFT,
              20 iterations, frames padded to a multiple of 8 as RAFT's InputPadder does).
              Weights: `<weights>/raft/raft_large_C_T_V1-22a6c225.pth`, torchvision's
              `Raft_Large_Weights.C_T_V1`, the port of RAFT's raft-things.pth that VBench
              uses (any raft_large*.pth is taken; raft_small*.pth only for tests).
              Deviation: clips shorter than 128 px are upscaled by an integer factor before
              RAFT (its 1/8-resolution features see nothing on 32 px clips) and the flow is
              scaled back; from 128 px up the computation is VBench's.
vbench-musiq  imaging_quality (vbench/imaging_quality.py): pyiqa's MUSIQ with the SPAQ
              weights VBench uses, `<weights>/musiq/musiq_spaq_ckpt-358bb6af.pth`.

motion_smoothness stays ingest-only: it needs the AMT frame-interpolation network, which no
package on PyPI ships; run the official package and `workbench eval --ingest-vbench`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from evaluators.base import Dimension, PerVideoJudge, VideoItem
from evaluators.clip_judges import vbench_consistency
from evaluators.vbench import (
    DYNAMIC_TOP,
    RAFT_ITERS,
    STATIC_TOP,
    dynamic_interval,
    imaging_quality,
    is_dynamic,
    is_static,
    static_pairs,
    temporal_flickering,
    top_motion,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RAFT_MIN_SIDE = 128  # smaller clips are upscaled for RAFT (a documented deviation)


def dino_transform(frames: np.ndarray, size: int = 224) -> torch.Tensor:
    """VBench's dino_transform on (T, H, W, 3) uint8 frames -> (T, 3, h, w), short side
    `size`, aspect kept."""
    from torchvision.transforms import functional as F

    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    x = F.resize(x, size, antialias=False)  # torchvision's default: bilinear
    return F.normalize(x / 255.0, IMAGENET_MEAN, IMAGENET_STD)


class WeightsFileJudge(PerVideoJudge):
    """A judge whose single weights file sits in `<weights>/<folder>/`."""

    folder: str
    expected: str  # what to tell a user who has none
    pattern = "*.pth"

    def _file(self) -> Path | None:
        if self.weights is None or not (self.weights / self.folder).is_dir():
            return None
        return next(iter(sorted((self.weights / self.folder).glob(self.pattern))), None)

    def unavailable(self) -> str | None:
        if self.weights is None:
            return (
                f"needs --weights DIR holding {self.folder}/{self.expected} "
                f"(workbench judges fetch {self.name})"
            )
        if self._file() is None:
            return f"{self.expected} not found in {self.weights / self.folder}"
        return None


class VBenchDino(WeightsFileJudge):
    name, version, folder = "vbench-dino", "2", "dino"
    expected = "vit_base_patch16_224.dino.pth"
    dimensions = (Dimension("subject_consistency", True, "VBench, DINO features"),)

    @cached_property
    def _model(self):
        import timm

        file = self._file()
        model = timm.create_model(file.stem, pretrained=False, num_classes=0, dynamic_img_size=True)
        model.load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
        return model.eval()

    @torch.no_grad()
    def score_one(self, item: VideoItem) -> dict[str, float]:
        features = self._model(dino_transform(item.frames))
        features = torch.nn.functional.normalize(features.float(), dim=-1)
        return {"subject_consistency": vbench_consistency(features)}


class VBenchRaft(WeightsFileJudge):
    name, version, folder = "vbench-raft", "2", "raft"
    expected = "raft_large_C_T_V1-22a6c225.pth (torchvision Raft_Large_Weights.C_T_V1)"
    pattern = "raft_*.pth"
    dimensions = (
        Dimension("dynamic_degree", True, "VBench, RAFT flow, 1 = dynamic"),
        Dimension("static", True, "VBench's static filter, 1 = static"),
        Dimension("temporal_flickering", True, "VBench, static videos only"),
    )

    @cached_property
    def _model(self):
        from torchvision.models import optical_flow

        file = self._file()
        build = optical_flow.raft_small if "small" in file.stem else optical_flow.raft_large
        model = build(weights=None)
        model.load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
        return model.eval()

    @torch.no_grad()
    def motions(self, first: np.ndarray, second: np.ndarray, share: float) -> list[float]:
        """Per pair of frames (N, H, W, 3), the mean of the top `share` flow magnitudes."""
        h, w = first.shape[1:3]
        scale = max(1, RAFT_MIN_SIDE // min(h, w))
        x1, x2 = (self._prepare(f, scale) for f in (first, second))
        flow = self._model(x1, x2, num_flow_updates=RAFT_ITERS)[-1] / scale
        magnitude = flow.norm(dim=1).numpy()
        return [top_motion(m, share) for m in magnitude]

    @staticmethod
    def _prepare(frames: np.ndarray, scale: int) -> torch.Tensor:
        # In [-1, 1] as RAFT normalises; replicate-padded to a multiple of 8, split evenly
        # as RAFT's InputPadder ('sintel' mode) does; upscaled when small (the deviation).
        x = torch.as_tensor(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % 8, -w % 8
        x = torch.nn.functional.pad(
            x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), mode="replicate"
        )
        return torch.nn.functional.interpolate(x, scale_factor=scale) if scale > 1 else x

    def score_one(self, item: VideoItem) -> dict[str, float]:
        if not item.fps:
            raise ValueError(f"{self.name} needs the video's frame rate")
        frames = item.frames
        t, h, w, _ = frames.shape
        sampled = frames[:: dynamic_interval(item.fps)]
        moving = self.motions(sampled[:-1], sampled[1:], DYNAMIC_TOP)
        pairs = static_pairs(t)
        still = self.motions(
            frames[[a for a, _ in pairs]], frames[[b for _, b in pairs]], STATIC_TOP
        )
        static = is_static(still, t, h, w)
        scores = {
            "dynamic_degree": float(is_dynamic(moving, len(sampled), h, w)),
            "static": float(static),
        }
        if static:  # VBench scores temporal flickering on static videos only
            scores["temporal_flickering"] = temporal_flickering(frames)
        return scores


class VBenchMusiq(WeightsFileJudge):
    name, version, folder = "vbench-musiq", "1", "musiq"
    expected = "musiq_spaq_ckpt-358bb6af.pth"
    pattern = "musiq*.pth"
    dimensions = (Dimension("imaging_quality", True, "VBench, MUSIQ (SPAQ), 0..1"),)

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("pyiqa") is None:
            return "the pyiqa package is not installed (make setup installs it)"
        return super().unavailable()

    @cached_property
    def _model(self):
        from pyiqa.archs.musiq_arch import MUSIQ

        with contextlib.redirect_stdout(sys.stderr):  # pyiqa prints; keep --json output clean
            model = MUSIQ(pretrained_model_path=str(self._file()))
        model.training = False  # as vbench/imaging_quality.py
        return model.eval()

    @torch.no_grad()
    def score_one(self, item: VideoItem) -> dict[str, float]:
        return {"imaging_quality": imaging_quality(item.frames, self._model)}
