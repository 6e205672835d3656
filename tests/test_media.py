import numpy as np
import pytest
from PIL import Image

from workbench import media


def _clip(t=12, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (1, h // 8, w // 8, 3), dtype=np.uint8)
    frames = np.repeat(np.repeat(base, 8, axis=1), 8, axis=2).repeat(t, axis=0)
    frames[:, :, :4] = np.arange(t, dtype=np.uint8)[:, None, None, None] * 20  # a moving part
    return frames


def test_mp4_round_trip_keeps_shape_rate_and_content(tmp_path):
    frames = _clip()
    path = media.write_mp4(tmp_path / "a.mp4", frames, fps=16)
    back, fps = media.read_video(path)
    assert back.shape == frames.shape and fps == 16
    assert (
        np.abs(back.astype(int) - frames).mean() < 6
    )  # random saturated blocks: worst case for 4:2:0
    # Same frames, same bytes: content hashes identify videos.
    again = media.write_mp4(tmp_path / "b.mp4", frames, fps=16)
    assert media.file_sha256(path) == media.file_sha256(again)


def test_resample_picks_frames_by_time_and_refuses_short_clips():
    frames = np.arange(30, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    out = media.resample(frames, src_fps=30, dst_fps=10, n_frames=8)
    assert out[:, 0, 0, 0].tolist() == [0, 3, 6, 9, 12, 15, 18, 21]
    with pytest.raises(media.MediaError, match="too short"):
        media.resample(frames, src_fps=30, dst_fps=10, n_frames=11)


def test_resize_center_crop_covers_then_crops():
    frames = np.zeros((2, 40, 80, 3), np.uint8)
    frames[:, :, 30:50] = 255  # a centred white band
    out = media.resize_center_crop(frames, 20, 20)
    assert out.shape == (2, 20, 20, 3)
    assert out[0, 10, 10].min() > 200 and out[0, 10, 0].max() < 30


def test_corrupt_and_missing_files_raise_media_errors(tmp_path):
    good = media.write_mp4(tmp_path / "good.mp4", _clip(), fps=8)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[:300])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 50)
    for bad in (truncated, garbage, tmp_path / "missing.mp4"):
        with pytest.raises(media.MediaError, match=bad.name):
            media.read_video(bad)


def test_odd_sizes_are_refused_and_contact_sheet_is_a_png(tmp_path):
    with pytest.raises(media.MediaError, match="even"):
        media.write_mp4(tmp_path / "x.mp4", np.zeros((2, 31, 32, 3), np.uint8), fps=8)
    sheet = media.contact_sheet([_clip(), _clip(seed=1)], tmp_path / "s.png", labels=["a", "b"])
    image = Image.open(sheet)
    assert image.format == "PNG" and image.height > 2 * 48
