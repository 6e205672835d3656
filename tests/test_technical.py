"""The weight-free technical judge ranks a real-looking clip above its own damaged copies."""

import numpy as np
import pytest
from helpers import box_blur

from evaluators.technical import technical_quality
from workbench import media


def natural_clip(seed: int, frames: int = 16, size: int = 96) -> np.ndarray:
    """A real-looking clip: 1/f ('natural image') texture in colour, a camera pan with a
    little zoom, and sensor noise."""
    rng = np.random.default_rng(seed)
    big = size * 2
    fy, fx = np.meshgrid(np.fft.fftfreq(big), np.fft.fftfreq(big), indexing="ij")
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / big) ** 1.1
    channels = []
    for _ in range(3):
        spectrum = falloff * np.exp(2j * np.pi * rng.random((big, big)))
        channels.append(np.real(np.fft.ifft2(spectrum)))
    mix = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.6], [0.3, 0.6, 1.0]])  # correlated colour
    scene = np.stack(channels, -1) @ mix
    scene = (scene - scene.mean()) / scene.std() * 45 + 120
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    out = []
    for t in range(frames):
        zoom = 1 + 0.01 * t
        cy, cx = big / 2 + direction * 1.7 * t
        ys = cy + (np.arange(size) - size / 2) / zoom
        xs = cx + (np.arange(size) - size / 2) / zoom
        y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
        wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
        s = scene[np.ix_(y0, x0)] * (1 - wy) * (1 - wx) + scene[np.ix_(y0 + 1, x0)] * wy * (1 - wx)
        s += scene[np.ix_(y0, x0 + 1)] * (1 - wy) * wx + scene[np.ix_(y0 + 1, x0 + 1)] * wy * wx
        out.append(s + rng.normal(0, 1.5, s.shape))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def compressed(frames):
    return media.h264_round_trip(frames, 16, crf=44)


def blurred(frames):
    return np.clip(np.rint(box_blur(frames, 2)), 0, 255).astype(np.uint8)


def noised(frames):
    noise = np.random.default_rng(1).normal(0, 10, frames.shape)
    return np.clip(np.rint(frames + noise), 0, 255).astype(np.uint8)


def frame_dropped(frames):
    """Every third frame lost and filled with a copy of the one before (the clip stutters)."""
    out = frames.copy()
    out[2::3] = frames[1::3][: len(out[2::3])]
    return out


def held_then_jumped(frames):
    """Each frame held for four frames, then the clip jumps to where it should be by then (a
    generator that freezes and catches up)."""
    return frames[np.arange(len(frames)) // 4 * 4]


@pytest.mark.parametrize(
    "damage",
    [compressed, blurred, noised, frame_dropped, held_then_jumped],
    ids=lambda f: f.__name__,
)
def test_overall_prefers_a_clip_over_its_damaged_copy(damage):
    for seed in range(4):
        clip = natural_clip(seed)
        # Both as stored: the same high-quality H.264 the workbench writes.
        original = technical_quality(media.h264_round_trip(clip, 16))
        damaged = technical_quality(media.h264_round_trip(damage(clip), 16))
        assert 0.0 <= damaged["overall"] < original["overall"] - 0.03 <= 1.0, (
            seed,
            original,
            damaged,
        )


def test_components_name_the_fault():
    clip = natural_clip(0)
    base = technical_quality(clip)
    assert technical_quality(blurred(clip))["sharpness"] < base["sharpness"] - 0.1
    assert technical_quality(noised(clip))["noise"] > base["noise"] + 3
    assert technical_quality(frame_dropped(clip))["stutter"] == pytest.approx(5 / 15)
    assert technical_quality(compressed(clip))["blockiness"] > base["blockiness"]
    still = np.repeat(clip[:1], 8, axis=0)
    assert technical_quality(still)["stutter"] == 0.0, "a still clip does not stutter"


@pytest.mark.parametrize("seed", range(4))
def test_holds_and_still_clips_are_named(seed):
    """A clip that holds and jumps stutters and reads almost no motion; a frozen one (its first
    frame repeated) and a still shot (fresh sensor noise in each frame) read no motion and no
    stutter; the original moves."""
    clip = natural_clip(seed)
    noise = np.random.default_rng(seed).normal(0, 1.5, clip.shape)
    still_shot = np.clip(np.rint(clip[:1] + noise), 0, 255).astype(np.uint8)
    cases = {
        "original": clip,
        "held": held_then_jumped(clip),
        "frozen": clip[:1].repeat(16, 0),
        "still shot": still_shot,
    }
    scores = {k: technical_quality(media.h264_round_trip(v, 16)) for k, v in cases.items()}
    assert scores["original"]["stutter"] == 0.0 and scores["original"]["motion"] > 2.0, scores
    assert scores["held"]["stutter"] > 0.7 and scores["held"]["motion"] < 0.2, scores
    for still in ("frozen", "still shot"):
        assert scores[still]["stutter"] == 0.0 and scores[still]["motion"] < 0.5, scores
