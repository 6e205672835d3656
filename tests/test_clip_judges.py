"""CLIP judges through open_clip with local weights: tiny random CLIPs saved by the test."""

import json

import numpy as np
import pytest
import torch

from evaluators.base import VideoItem
from evaluators.clip_judges import vbench_consistency
from evaluators.registry import get_judge
from workbench.world.shapes import WorldConfig, make_sample

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A weights folder with tiny random CLIPs under the names the judges look for."""
    import open_clip

    root = tmp_path_factory.mktemp("weights")
    (root / "clip").mkdir()
    (root / "aesthetic").mkdir()
    for seed, name in enumerate(("ViT-B-32", "ViT-L-14")):  # different weights per model
        config = root / "clip" / f"{name}.json"  # declares the (tiny) architecture
        config.write_text(json.dumps(TINY))
        open_clip.add_model_config(config)
        torch.manual_seed(seed)
        model = open_clip.create_model(name)
        torch.save(model.state_dict(), root / "clip" / f"{name}.pt")
    torch.save(torch.nn.Linear(16, 1).state_dict(), root / "aesthetic" / "ViT-L-14-linear.pth")
    return root


def _items():
    samples = [make_sample(WorldConfig(), 0, i) for i in range(2)]
    return [VideoItem(str(i), s.frames, s.prompt, s.attributes) for i, s in enumerate(samples)]


def test_without_weights_each_clip_judge_says_what_is_missing_and_where(tmp_path):
    assert "needs --weights" in get_judge("clip-pf").unavailable()
    reason = get_judge("clip-pf", tmp_path).unavailable()
    assert "ViT-B-32" in reason and str(tmp_path / "clip") in reason


def test_clip_judges_score_from_local_weights(weights):
    cases = {
        "clip-pf": {"clip_score"},
        "clip-aesthetic": {"aesthetic"},
        "vbench-clip": {"background_consistency", "aesthetic_quality"},
    }
    for name, dims in cases.items():
        judge = get_judge(name, weights)
        assert judge.unavailable() is None
        scores = judge.score(_items())
        assert len(scores) == 2 and all(set(s) == dims for s in scores)
        assert all(np.isfinite(v) for s in scores for v in s.values())
    still = _items()[0]
    still.frames = np.repeat(still.frames[:1], 8, axis=0)
    assert get_judge("vbench-clip", weights).score([still])[0][
        "background_consistency"
    ] == pytest.approx(1.0, abs=1e-5)


def test_consistency_is_vbenchs_formula():
    f = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), dim=-1)
    c = 2**-0.5
    # frame 1: (cos(f1,f0) + cos(f1,f0)) / 2 = c; frame 2: (cos(f2,f0) + cos(f2,f1)) / 2 = c / 2
    assert vbench_consistency(f) == pytest.approx((c + c / 2) / 2)
    opposite = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert vbench_consistency(opposite) == 0.0  # negative similarity is clamped to 0


def test_vbench_clip_uses_vit_b32_for_background_and_the_laion_head_on_vit_l14(weights):
    """vbench/background_consistency.py loads ViT-B/32; vbench/aesthetic_quality.py runs the
    LAION head on L2-normalised ViT-L/14 features and divides by 10."""
    from evaluators.clip_judges import clip_transform, load_clip

    item = _items()[0]
    scores = get_judge("vbench-clip", weights).score([item])[0]
    with torch.no_grad():
        features = {}
        for name in ("ViT-B-32", "ViT-L-14"):
            model, _ = load_clip(weights / "clip" / f"{name}.pt", name)
            pixels = clip_transform(item.frames, 32)  # the tiny models' input size
            features[name] = torch.nn.functional.normalize(model.encode_image(pixels), dim=-1)
        head = torch.nn.Linear(16, 1)
        head.load_state_dict(torch.load(weights / "aesthetic" / "ViT-L-14-linear.pth"))
        aesthetic = float(head(features["ViT-L-14"]).mean()) / 10
    assert scores["background_consistency"] == pytest.approx(
        vbench_consistency(features["ViT-B-32"]), abs=1e-6
    )
    assert scores["background_consistency"] != pytest.approx(
        vbench_consistency(features["ViT-L-14"]), abs=1e-6
    )
    assert scores["aesthetic_quality"] == pytest.approx(aesthetic, abs=1e-6)
