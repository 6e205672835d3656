"""Video and image files: browser-playable mp4 out, frame arrays in, and content hashes.

Frames are numpy uint8 arrays shaped (T, H, W, 3) everywhere in the workbench; model code
converts to tensors at its own boundary.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from workbench import yuv
from workbench.errors import WorkbenchError


class MediaError(WorkbenchError):
    """A video or image the workbench cannot use; the message says why."""


# libx264 settings that give the same bytes on every x86-64 processor with SSSE3 (any from the
# last fifteen years): one thread, and no macroblock tree, whose float propagation rounds
# differently in its SSE2 / AVX / AVX-512 versions (docs/determinism.md has the measurements).
X264_PARAMS = "mbtree=0"
# BT.601, limited range: what workbench.yuv computes, tagged so browsers decode it the same way.
BT601, TV_RANGE = 6, 1  # FFmpeg's AVCOL_SPC / AVCOL_PRI / AVCOL_TRC_SMPTE170M, AVCOL_RANGE_MPEG


def write_mp4(path: str | Path, frames: np.ndarray, fps: int, crf: int = 12) -> Path:
    """H.264, yuv420p, moov atom first (faststart): plays in every browser.

    The same frames give the same file on every machine (see X264_PARAMS and workbench.yuv).
    crf 12 keeps the tiny world's colours within a few levels of the source.
    """
    import av  # PyAV loads FFmpeg: only where a video is written or read

    frames = _check_frames(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = BT601
        context.color_range = TV_RANGE
        stream.options = {
            "crf": str(crf),
            "preset": "medium",
            "threads": "1",
            "x264-params": X264_PARAMS,
        }
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(yuv.rgb_to_yuv420p(frame), format="yuv420p")
            picture.colorspace, picture.color_range = BT601, TV_RANGE
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def h264_round_trip(frames: np.ndarray, fps: int = 8, crf: int = 12) -> np.ndarray:
    """The frames as every stored video holds them: through `write_mp4` and back. Judges
    compare a video with its truth after the same codec, so H.264's halved colour
    resolution is not counted as the generator's fault."""
    with tempfile.TemporaryDirectory() as tmp:
        return read_video(write_mp4(Path(tmp) / "clip.mp4", frames, fps, crf))[0]


def _check_frames(frames: np.ndarray) -> np.ndarray:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise MediaError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise MediaError(f"H.264 yuv420p needs even height and width, got {frames.shape[1:3]}")
    return np.ascontiguousarray(frames)


MAX_SIDE = 4096  # larger videos are refused before decoding


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a video as (T, H, W, 3) uint8, and its frame rate.

    Raises:
        MediaError: missing, corrupt or truncated file, no video stream, undecodable codec,
            a side over MAX_SIDE pixels.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(
                    f"{path.name}: no video stream (corrupt or truncated file, or not a video)"
                )
            stream = container.streams.video[0]
            if stream.codec_context is None or stream.codec_context.name is None:
                raise MediaError(f"{path.name}: unsupported codec")
            fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
            side = max(stream.codec_context.width or 0, stream.codec_context.height or 0)
            if side > MAX_SIDE:  # decoding it would take gigabytes
                raise MediaError(
                    f"{path.name}: {side} px is larger than {MAX_SIDE} px; scale it down first"
                )
            frames = [to_rgb(f) for f in container.decode(stream)]
    except MediaError:
        raise
    except av.error.InvalidDataError as exc:
        raise MediaError(f"{path.name}: corrupt or not a video ({exc.strerror})") from exc
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path.name}: cannot decode ({exc.strerror or exc})") from exc
    if not frames:
        raise MediaError(f"{path.name}: no decodable frames (truncated or empty)")
    if fps <= 0:
        raise MediaError(f"{path.name}: unknown frame rate")
    return np.stack(frames), fps


# Colourspaces the BT.601 integer conversion is right for: unspecified, BT.470BG, SMPTE 170M.
_BT601_TAGS = (2, 5, 6)


def to_rgb(frame) -> np.ndarray:
    """A decoded frame as (H, W, 3) uint8. Limited-range BT.601 4:2:0 (every video the
    workbench writes) is converted by workbench.yuv, identically on every machine; anything
    else by FFmpeg's swscale, whose rounding may differ between processors."""
    even = frame.width % 2 == 0 and frame.height % 2 == 0
    full_range = frame.color_range == 2  # AVCOL_RANGE_JPEG
    bt601 = frame.colorspace in _BT601_TAGS
    if frame.format.name == "yuv420p" and bt601 and even and not full_range:
        return yuv.yuv420p_to_rgb(frame.to_ndarray())
    return frame.to_ndarray(format="rgb24")


def resample(frames: np.ndarray, src_fps: float, dst_fps: float, n_frames: int) -> np.ndarray:
    """The first `n_frames` frames at `dst_fps`, by nearest source frame in time.

    Raises:
        MediaError: the clip is too short to give n_frames at dst_fps.
    """
    idx = np.floor(np.arange(n_frames) * src_fps / dst_fps + 1e-6).astype(int)
    if idx[-1] >= len(frames):
        need = (n_frames - 1) / dst_fps
        have = (len(frames) - 1) / src_fps
        raise MediaError(
            f"too short: needs {need:.2f}s for {n_frames} frames at {dst_fps:g} fps, "
            f"has {have:.2f}s"
        )
    return frames[idx]


def resize_center_crop(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale so the clip covers (height, width), then crop the centre."""
    t, h, w, _ = frames.shape
    scale = max(height / h, width / w)
    new_h, new_w = max(height, math.ceil(h * scale)), max(width, math.ceil(w * scale))
    if (new_h, new_w) != (h, w):
        frames = np.stack(
            [np.asarray(Image.fromarray(f).resize((new_w, new_h), Image.LANCZOS)) for f in frames]
        )
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return np.ascontiguousarray(frames[:, top : top + height, left : left + width])


def save_png(frame: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path, format="PNG")
    return path


def contact_sheet(
    videos: list[np.ndarray],
    path: str | Path,
    labels: list[str] | None = None,
    max_frames: int = 8,
    scale: int = 2,
) -> Path:
    """A PNG grid: one row per video, up to `max_frames` evenly spaced frames per row."""
    label_w = 0 if not labels else 8 + 6 * max(len(s) for s in labels)
    rows = []
    for i, video in enumerate(videos):
        picks = np.linspace(0, len(video) - 1, min(max_frames, len(video))).round().astype(int)
        row = np.concatenate([np.pad(video[j], ((2, 2), (2, 2), (0, 0))) for j in picks], axis=1)
        row = np.asarray(Image.fromarray(row).resize((row.shape[1] * scale, row.shape[0] * scale)))
        if labels:
            pad = np.full((row.shape[0], label_w, 3), 255, np.uint8)
            row = np.concatenate([pad, row], axis=1)
        rows.append((row, labels[i] if labels else None))
    width = max(r.shape[1] for r, _ in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r, _ in rows])
    image = Image.fromarray(sheet)
    if labels:
        draw, y = ImageDraw.Draw(image), 0
        for row, label in rows:
            draw.text((4, y + row.shape[0] // 2 - 5), label, fill=(0, 0, 0))
            y += row.shape[0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def array_sha256(array: np.ndarray) -> str:
    """Hash of an array's dtype, shape and bytes: identifies decoded content across containers."""
    digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
