"""Judges: exact on ground truth, monotone under controlled corruptions, VBench's formula."""

import numpy as np
import pytest
from helpers import box_blur

from evaluators.base import VideoItem
from evaluators.registry import get_judge, judge_names
from evaluators.vbench import temporal_flickering
from workbench.errors import WorkbenchError
from workbench.world.shapes import WorldConfig, make_sample

CFG = WorldConfig()
SAMPLES = [make_sample(CFG, 0, i) for i in range(6)]
STRENGTHS = (1, 2, 3)


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255).astype(np.uint8)


def noise(frames, k):
    rng = np.random.default_rng(k)
    return _clip(frames + rng.normal(0, 8 * k, frames.shape))


def blur(frames, k):
    return _clip(box_blur(frames, k))


def colour_shift(frames, k):
    return _clip(frames + np.array([-25 * k, 18 * k, 25 * k]))


def flicker(frames, k):
    signs = np.where(np.arange(len(frames)) % 2, 1, -1)[:, None, None, None]
    return _clip(frames + signs * 10 * k)


def frozen(frames, k):
    out = frames.copy()
    out[len(frames) - 2 * k :] = frames[len(frames) - 2 * k - 1]
    return out if k < 3 else np.repeat(frames[:1], len(frames), axis=0)


def reverse(frames, k):
    return frames[::-1].copy()


# corruption -> (judge, dimension it must lower)
CASES = {
    noise: ("shapes-vq", "noise"),
    blur: ("shapes-vq", "sharpness"),
    colour_shift: ("shapes-vq", "color_fidelity"),
    flicker: ("shapes-vq", "stability"),
    frozen: ("shapes-pf", "motion"),
    reverse: ("shapes-pf", "motion"),
}


def _scores(judge_name, frames_list, samples):
    judge = get_judge(judge_name)
    items = [
        VideoItem(str(i), f, s.prompt, s.attributes, s.frames)
        for i, (f, s) in enumerate(zip(frames_list, samples, strict=True))
    ]
    return judge.score(items)


@pytest.mark.parametrize("judge_name", ["shapes-pf", "shapes-vq"])
def test_ground_truth_scores_at_the_top(judge_name):
    for scores in _scores(judge_name, [s.frames for s in SAMPLES], SAMPLES):
        assert scores["overall"] > 0.97, scores


@pytest.mark.parametrize("corrupt", list(CASES), ids=lambda f: f.__name__)
def test_each_corruption_lowers_its_dimension_monotonically(corrupt):
    judge_name, dim = CASES[corrupt]
    for sample in SAMPLES[:4]:
        clean = _scores(judge_name, [sample.frames], [sample])[0][dim]
        values = [
            _scores(judge_name, [corrupt(sample.frames, k)], [sample])[0][dim] for k in STRENGTHS
        ]
        chain = [clean, *values]
        assert all(a >= b - 1e-9 for a, b in zip(chain, chain[1:], strict=False)), (
            sample.prompt,
            chain,
        )
        assert values[-1] < clean, (sample.prompt, chain)


def test_temporal_flickering_is_vbenchs_formula():
    frames = np.zeros((3, 2, 2, 3), np.uint8)
    frames[1] = 51  # |0 - 51| = 51 everywhere, then |51 - 0|
    assert temporal_flickering(frames) == pytest.approx((255 - 51) / 255)
    frames[2] = 51  # second pair identical
    assert temporal_flickering(frames) == pytest.approx(((255 - 51) / 255 + 1.0) / 2)
    still = np.full((4, 8, 8, 3), 200, np.uint8)
    assert temporal_flickering(still) == 1.0


def test_technical_judge_tracks_blur_noise_and_flicker():
    judge = get_judge("technical")
    frames = SAMPLES[0].frames
    base, blurred, noisy, flick = (
        judge.score([VideoItem("x", f, "")])[0]
        for f in (frames, blur(frames, 2), noise(frames, 2), flicker(frames, 2))
    )
    assert blurred["sharpness"] < base["sharpness"]
    assert noisy["noise"] > base["noise"] + 5
    assert flick["flicker"] > base["flicker"] + 10


def test_registry_lists_judges_and_suggests_on_typos():
    assert {"shapes-pf", "shapes-vq", "technical", "vbench"} <= set(judge_names())
    with pytest.raises(WorkbenchError, match="did you mean shapes-pf"):
        get_judge("shapes-p")
