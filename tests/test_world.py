import json

import av
import numpy as np
import pytest
from helpers import centroids

from evaluators.shapes_oracle import foreground
from workbench import media
from workbench.cli import main
from workbench.datasets import load_gt_frames, load_samples
from workbench.world.shapes import (
    COLORS,
    MOTIONS,
    WorldConfig,
    make_sample,
    render,
    sample_attributes,
    shape_mask,
    trajectory,
)

DIRECTIONS = {m: np.array(v[:2]) for m, v in MOTIONS.items() if v[2] == 0}


def test_world_make_writes_playable_clips_matching_their_attributes(home, store, capsys):
    assert main(["--json", "world", "make", "--n", "16"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == 16 and summary["train"] + summary["test"] == 16

    samples = load_samples(store, "shapes")
    assert len(samples) == 16
    for sample in samples:
        path = store.path(sample["video_path"])
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert stream.codec_context.pix_fmt == "yuv420p"
        head = path.read_bytes()[:4096]
        assert head.find(b"moov") != -1, "faststart: moov atom must precede the media data"

        frames, fps = media.read_video(path)
        assert frames.shape == (8, 32, 32, 3) and fps == 8
        attrs = sample["attributes"]
        (obj,) = attrs["objects"]
        mask = foreground(frames, attrs["background_rgb"])
        # Colour: the object's pixels are the stated colour. yuv420p halves chroma resolution,
        # so small shapes bleed into the background: compare the median, not every pixel.
        colour = np.median(frames[mask], axis=0)
        nearest = min(COLORS, key=lambda c: np.abs(colour - COLORS[c]).sum())
        assert nearest == obj["color"]
        # The lossless ground truth used for training and judging is close to the mp4.
        exact = load_gt_frames(store, sample)
        assert np.abs(exact.astype(int) - frames).mean() < 6
        assert obj["color"] in sample["prompt"]
        # Motion: the centroid moves in the stated direction, and only that way.
        path_xy = centroids(mask)
        shift = path_xy[-1] - path_xy[0]
        along = shift @ DIRECTIONS[obj["motion"]]
        assert along > 8, (sample["prompt"], shift)
        assert abs(shift @ DIRECTIONS[obj["motion"]][::-1]) < 1.5


def test_rerun_adds_only_missing_samples_and_conflicting_config_is_refused(home, store, capsys):
    assert main(["world", "make", "--n", "4"]) == 0
    capsys.readouterr()
    assert main(["--json", "world", "make", "--n", "6"]) == 0
    assert json.loads(capsys.readouterr().out) | {"train": 0, "test": 0} == {
        "dataset": "shapes",
        "added": 2,
        "existing": 4,
        "train": 0,
        "test": 0,
    }
    assert len(load_samples(store, "shapes")) == 6
    assert main(["world", "make", "--n", "6", "--size", "48"]) == 1
    assert "exists with another definition" in capsys.readouterr().err
    assert len(load_samples(store, "shapes")) == 6


def test_world_is_deterministic_and_holds_out_combinations():
    cfg = WorldConfig(motions=("left", "right", "up", "down", "grow", "shrink"))
    a, b = make_sample(cfg, 3, 7), make_sample(cfg, 3, 7)
    assert a.prompt == b.prompt and np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, make_sample(cfg, 4, 7).frames)

    samples = [make_sample(cfg, 0, i) for i in range(300)]
    heldout = [s for s in samples if s.attributes["heldout"]]
    assert heldout and all(s.split == "test" for s in heldout)
    for s in samples:
        obj = s.attributes["objects"][0]
        if s.split == "train":
            assert (obj["shape"], obj["color"]) != ("circle", "green")
            assert (obj["color"], obj["motion"]) != ("red", "up")
    assert len({s.prompt for s in samples}) > 200, "captions should vary in phrasing"


def test_first_frame_does_not_give_the_motion_away_unless_asked():
    def mean_start_x(cfg: WorldConfig, motion: str) -> float:
        starts = [sample_attributes(cfg, 0, i)["objects"][0] for i in range(400)]
        return float(np.mean([o["start"][0] for o in starts if o["motion"] == motion]))

    cue_free = WorldConfig()
    assert abs(mean_start_x(cue_free, "right") - mean_start_x(cue_free, "left")) < 0.5
    cued = WorldConfig(cue_free_start=False)
    assert mean_start_x(cued, "left") - mean_start_x(cued, "right") > 5

    with pytest.raises(ValueError, match="no start position"):
        WorldConfig(travel=0.45)
    WorldConfig(travel=0.45, cue_free_start=False)  # each path alone still fits


@pytest.mark.parametrize("cue_free", [True, False])
def test_objects_stay_whole_inside_the_frame(cue_free):
    cfg = WorldConfig(cue_free_start=cue_free, motions=("left", "right", "up", "down", "grow"))
    pad = 16
    for i in range(60):
        (obj,) = sample_attributes(cfg, 0, i)["objects"]
        for cx, cy, r in trajectory(cfg, obj):
            inside = shape_mask(obj["shape"], cx, cy, r, cfg.size).sum()
            whole = shape_mask(obj["shape"], cx + pad, cy + pad, r, cfg.size + 2 * pad).sum()
            assert inside == pytest.approx(whole), (i, obj["shape"], obj["motion"])


def test_grow_shrink_and_two_objects_render_as_described():
    cfg = WorldConfig(motions=("grow", "shrink"), max_objects=2, two_object_prob=1.0, size=48)
    sample = make_sample(cfg, 1, 0)
    assert len(sample.attributes["objects"]) == 2 and " and a " in sample.prompt
    single = WorldConfig(motions=("grow", "shrink"))
    for i in range(6):
        s = make_sample(single, 0, i)
        area = foreground(render(single, s.attributes), s.attributes["background_rgb"]).sum((1, 2))
        grows = s.attributes["objects"][0]["motion"] == "grow"
        assert (area[-1] > 1.5 * area[0]) if grows else (area[0] > 1.5 * area[-1])


@pytest.mark.parametrize(
    "kwargs", [{"size": 31}, {"motions": ("sideways",)}, {"holdout": ("circle+mauve",)}]
)
def test_bad_world_config_is_rejected(kwargs):
    with pytest.raises(ValueError):
        WorldConfig(**kwargs)
