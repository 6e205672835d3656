"""VBench parity, dimension by dimension: each formula and frame sampling checked on inputs
whose answer is derived by hand from the official code (quoted in evaluators/vbench.py),
with tiny stand-in networks where VBench runs a feature extractor."""

import numpy as np
import pytest
import torch

from evaluators.base import VideoItem
from evaluators.clip_judges import clip_transform, load_clip
from evaluators.registry import get_judge
from evaluators.vbench import (
    dynamic_interval,
    imaging_quality,
    is_dynamic,
    is_static,
    static_pairs,
    top_motion,
)
from evaluators.vbench_models import dino_transform


class StandInFlow(torch.nn.Module):
    """Answers like torchvision's RAFT (a list of (N, 2, H, W) flows): a uniform horizontal
    flow of `px_per_level` pixels per grey level between the two frames, so a clip whose
    frame k is grey level k moves (b - a) * px_per_level pixels from frame a to frame b."""

    def __init__(self, px_per_level: float) -> None:
        super().__init__()
        self.px_per_level = px_per_level
        self.iterations: list[int] = []

    def forward(self, first, second, num_flow_updates: int):
        self.iterations.append(num_flow_updates)
        levels = (second - first).mean(dim=(1, 2, 3)) * 127.5  # inputs are in [-1, 1]
        flow = torch.zeros(first.shape[0], 2, *first.shape[2:])
        flow[:, 0] = (levels * self.px_per_level)[:, None, None]
        return [flow]


def _grey_ramp(n: int, size: int = 128, step: int = 1) -> np.ndarray:
    """Frame k is uniformly grey level 100 + k * step."""
    return np.stack([np.full((size, size, 3), 100 + k * step, np.uint8) for k in range(n)])


def _raft(px_per_level: float):
    judge = get_judge("vbench-raft")
    judge._model = StandInFlow(px_per_level)  # the network is replaced, the maths is ours
    return judge


def test_dynamic_degree_samples_frames_by_fps_with_20_raft_iterations():
    # 128 px: threshold 6 * 128 / 256 = 3 px. Consecutive frames move 2 px.
    frames = _grey_ramp(16)
    raft = _raft(2.0)
    at = {fps: raft.score([VideoItem("v", frames, "", fps=fps)])[0] for fps in (8, 16, 24)}
    # 8 fps: interval 1, every pair moves 2 px < 3: static (the old every-frame rule at any fps).
    assert at[8]["dynamic_degree"] == 0.0
    # 16 fps: interval round(16 / 8) = 2, 8 sampled frames, pairs move 4 px; needs
    # round(4 * 8 / 16) = 2 of 7 pairs: dynamic. 24 fps: interval 3, 6 px.
    assert at[16]["dynamic_degree"] == 1.0 and at[24]["dynamic_degree"] == 1.0
    assert set(raft._model.iterations) == {20}
    assert [dynamic_interval(f) for f in (8, 12, 16, 24, 30, 60)] == [1, 2, 2, 3, 4, 8]


def test_vbench_decision_rules_by_hand():
    # check_move: 16 frames at 256 px need 4 pairs above 6 px.
    assert is_dynamic([7.0] * 4 + [0.0] * 11, 16, 256, 256)
    assert not is_dynamic([7.0] * 3 + [0.0] * 12, 16, 256, 256)
    # 2 sampled frames: round(4 * 2 / 16) = 0 pairs needed, so VBench calls any clip dynamic.
    assert is_dynamic([0.0], 2, 256, 256) and not is_dynamic([], 1, 256, 256)
    # top 5% of 100 magnitudes 0..99 = mean(95..99) = 97 (int(h * w * 0.05) = 5 kept).
    assert top_motion(np.arange(100.0).reshape(10, 10), 0.05) == pytest.approx(97.0)
    assert static_pairs(4) == [(0, 1), (1, 2), (2, 3), (0, 3), (3, 0)]
    # check_static at 256 px, 16 frames: thres 3, count_num 2; first-last bound 3 * 2 * 2 = 12.
    assert is_static([4.0, 4.0] + [0.0] * 13 + [12.0, 12.0], 16, 256, 256)
    assert not is_static([4.0, 4.0, 4.0] + [0.0] * 12 + [0.0, 0.0], 16, 256, 256)
    assert not is_static([0.0] * 15 + [12.5, 0.0], 16, 256, 256)


def test_temporal_flickering_is_scored_on_static_videos_only():
    # 16 frames, 128 px: thres 1.5 px, count_num 2, first-last bound 1.5 * 2 * 2 = 6 px.
    frames = _grey_ramp(16)
    slow = _raft(0.3).score([VideoItem("v", frames, "", fps=16)])[0]  # first-last 4.5 px
    assert slow["static"] == 1.0
    assert slow["temporal_flickering"] == pytest.approx((255 - 1) / 255)
    drift = _raft(0.5).score([VideoItem("v", frames, "", fps=16)])[0]  # first-last 7.5 px
    assert drift["static"] == 0.0 and "temporal_flickering" not in drift
    plain = get_judge("vbench").score([VideoItem("v", frames, "")])[0]
    assert plain == {"temporal_flickering_unfiltered": pytest.approx((255 - 1) / 255)}


def test_subject_consistency_resizes_the_short_side_to_224_keeping_the_aspect():
    frames = np.zeros((3, 32, 48, 3), np.uint8)
    frames[:, :, 24:] = 200
    x = dino_transform(frames)
    assert x.shape == (3, 3, 224, 336), "bilinear short side to 224, no crop, no squash"
    left = (0 / 255 - 0.485) / 0.229
    assert x[0, 0, 0, 0].item() == pytest.approx(left)
    expected = torch.nn.functional.interpolate(
        torch.as_tensor(frames).permute(0, 3, 1, 2).float(),
        size=(224, 336),
        mode="bilinear",
        align_corners=False,
    )
    assert torch.allclose(x[:, 0] * 0.229 + 0.485, expected[:, 0] / 255, atol=1e-5)


def test_clip_transform_is_vbenchs_resize_and_centre_crop():
    frames = np.zeros((1, 32, 48, 3), np.uint8)
    frames[..., 0] = np.arange(48, dtype=np.uint8)[None, :] * 5  # red ramp along x
    x = clip_transform(frames)
    assert x.shape == (1, 3, 224, 224)
    # Short side 32 -> 224 (x7), width 336; centre crop keeps columns 56..279, i.e. the
    # original x in [8, 40): the crop's left edge has red ~ 5 * 8 (bicubic, no antialias).
    red = x[0, 0] * 0.26862954 + 0.48145466
    assert red[112, 0].item() * 255 == pytest.approx(5 * 7.5 + 2.5, abs=3)
    assert red[112, -1].item() * 255 == pytest.approx(5 * 39.5 + 2.5, abs=3)


def test_openai_clip_weights_are_built_with_quickgelu(tmp_path):
    import open_clip
    from open_clip.transformer import QuickGELU

    tiny = {
        "embed_dim": 16,
        "quick_gelu": True,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8},
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 64,
            "heads": 1,
            "layers": 1,
        },
    }
    config = tmp_path / "tiny-openai.json"
    config.write_text(__import__("json").dumps(tiny))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    # fp16-representable weights: open_clip casts OpenAI's models through fp16 as they ship.
    reference = open_clip.create_model("tiny-openai").eval().half().float()
    state = reference.state_dict()
    # OpenAI's files carry these entries (open_clip drops them when building the model).
    state.update(
        input_resolution=torch.tensor(32),
        context_length=torch.tensor(77),
        vocab_size=torch.tensor(49408),
    )
    (tmp_path / "clip").mkdir()
    file = tmp_path / "clip" / "ViT-B-32.pt"
    torch.save(state, file)
    model, _ = load_clip(file, "ViT-B-32")
    assert isinstance(model.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
    pixels = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ours, truth = model.encode_image(pixels), reference.encode_image(pixels)
        tiny["quick_gelu"] = False  # the same weights in a plain-GELU build: the old bug
        config.write_text(__import__("json").dumps(tiny))
        open_clip.add_model_config(config)
        plain = open_clip.create_model("tiny-openai").eval()
        plain.load_state_dict(reference.state_dict())
        wrong = plain.encode_image(pixels)
    assert torch.allclose(ours, truth, atol=1e-5), "OpenAI's architecture"
    assert (wrong - truth).abs().max() > 1e-3, "GELU instead of QuickGELU shifts embeddings"


def test_imaging_quality_resizes_the_longer_side_to_512_and_divides_by_100():
    seen = []

    def scorer(x):
        seen.append(tuple(x.shape))
        assert x.min() >= 0.0 and x.max() <= 1.0
        return x.mean() * 100  # a stand-in MUSIQ: 0..100

    frames = np.full((2, 600, 300, 3), 51, np.uint8)
    assert imaging_quality(frames, scorer) == pytest.approx(51 / 255)
    assert seen == [(1, 3, 512, 256)] * 2
    small = np.full((1, 32, 32, 3), 102, np.uint8)
    assert imaging_quality(small, scorer) == pytest.approx(102 / 255)
    assert seen[-1] == (1, 3, 32, 32), "below 512 nothing is resized"


def test_musiq_judge_names_its_weights_and_scores_from_a_local_file(tmp_path):
    judge = get_judge("vbench-musiq", tmp_path)
    assert judge.unavailable() == (
        f"musiq_spaq_ckpt-358bb6af.pth not found in {tmp_path / 'musiq'}"
    )
    from pyiqa.archs.musiq_arch import MUSIQ

    (tmp_path / "musiq").mkdir()
    torch.manual_seed(0)
    torch.save(
        MUSIQ(pretrained=False).state_dict(), tmp_path / "musiq" / "musiq_spaq_ckpt-358bb6af.pth"
    )
    judge = get_judge("vbench-musiq", tmp_path)
    assert judge.unavailable() is None
    frames = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    score = judge.score([VideoItem("v", frames, "")])[0]["imaging_quality"]
    assert np.isfinite(score)
