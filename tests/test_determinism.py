"""Stored videos and their scores are the same on every x86-64 machine (W20).

x264's macroblock tree and FFmpeg's swscale round differently on SSE2, AVX2 and AVX-512
processors; the workbench turns the first off and does its own colour conversion. These tests
pin the exact bytes and frames one clip gives, and re-make them in processes whose FFmpeg and
x264 are held to lower instruction sets than the machine has, as a machine without AVX-512
(or without AVX2) would run them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_technical import natural_clip

from evaluators.technical import technical_quality
from workbench import media
from workbench.provenance import cpu_flags
from workbench.world.shapes import WorldConfig, make_sample

# Made by write_mp4 with av 18.1.0 (x264 core 165): a different PyAV pin changes the bytes.
DIGESTS = json.loads((Path(__file__).parent / "data" / "media_digests.json").read_text())
# x264's instruction-set names (its cpu flag list), by level; each level includes the ones before.
X264_LEVELS = {
    "ssse3": "MMX2,SSE,SSE2,SSE3,SSSE3",
    "avx2": "MMX2,SSE,SSE2,SSE3,SSSE3,SSE4.1,SSE4.2,LZCNT,AVX,FMA3,BMI1,BMI2,AVX2",
}
# FFmpeg's AV_CPU_FLAG_* masks: none (plain C), up to SSE2, up to AVX2 (no AVX-512).
FFMPEG_MASKS = {"c": 0x0, "sse2": 0x1F, "avx2": 0x7FFFF}
CPU_FLAGS = cpu_flags()


def clips() -> dict[str, np.ndarray]:
    world = make_sample(WorldConfig(), 0, 3).frames
    return {"world": world, "natural": natural_clip(0)}


def digests(folder: Path) -> dict[str, dict[str, str]]:
    """sha256 of each clip's mp4 bytes and of the frames read back."""
    out = {}
    for name, frames in clips().items():
        path = media.write_mp4(folder / f"{name}.mp4", frames, fps=8, crf=30)
        out[name] = {
            "file": media.file_sha256(path),
            "frames": media.array_sha256(media.read_video(path)[0]),
        }
    return out


def test_written_and_read_clips_match_the_stored_digests(tmp_path):
    assert digests(tmp_path) == DIGESTS


def _restricted_run(tmp_path: Path, ffmpeg_mask: int, x264_level: str | None) -> dict:
    """digests() in a fresh process whose FFmpeg and x264 use at most the given instruction sets."""
    script = f"""
import ctypes, glob, json, os, sys
from pathlib import Path
import av
sys.path[:0] = {[str(Path(__file__).parent), str(Path(__file__).parents[1])]}
lib = glob.glob(os.path.join(os.path.dirname(av.__file__), "..", "av.libs", "libavutil-*"))[0]
ctypes.CDLL(lib).av_force_cpu_flags({ffmpeg_mask})
from workbench import media
if {x264_level!r}:
    media.X264_PARAMS += ":asm=" + {x264_level!r}
from test_determinism import digests
print(json.dumps(digests(Path({str(tmp_path)!r}))))
"""
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("ffmpeg, x264", [("c", "ssse3"), ("sse2", "avx2"), ("avx2", None)])
def test_the_same_on_lower_instruction_sets(tmp_path, ffmpeg, x264):
    """What a machine without AVX-512 (or without AVX2) writes and reads: the same bytes."""
    import av

    if not list((Path(av.__file__).parent.parent / "av.libs").glob("libavutil-*")):
        pytest.skip("PyAV's bundled FFmpeg is not where a Linux wheel puts it")
    needed = {"avx2": {"avx2", "fma", "bmi2"}, "ssse3": {"ssse3"}, None: set()}[x264]
    if not needed <= CPU_FLAGS or (ffmpeg == "avx2" and "avx2" not in CPU_FLAGS):
        pytest.skip(f"this processor lacks {needed - CPU_FLAGS or {'avx2'}}")
    level = X264_LEVELS.get(x264)
    assert _restricted_run(tmp_path, FFMPEG_MASKS[ffmpeg], level) == DIGESTS


@pytest.mark.parametrize("seed", range(6))
def test_blockiness_rises_with_the_quantiser(seed):
    clip = natural_clip(seed)
    readings = [technical_quality(clip)["blockiness"]]
    for crf in (12, 36, 48):
        readings.append(technical_quality(media.h264_round_trip(clip, 16, crf))["blockiness"])
    original, fine, coarse, coarsest = readings
    assert max(original, fine) < 0.02 < coarse < coarsest, readings  # 0.02: what costs nothing
    assert coarse > 1.5 * max(original, fine), readings


def test_flat_world_clips_show_no_grid():
    """A few strong edges on flat colour are content, not a codec's grid."""
    cfg = WorldConfig()
    for index in range(20):
        clip = media.h264_round_trip(make_sample(cfg, 0, index).frames, cfg.fps)
        assert technical_quality(clip)["blockiness"] == 0.0
