"""RGB <-> YUV 4:2:0 (BT.601, limited range) in exact integer arithmetic.

The workbench converts its own videos' colours here rather than in FFmpeg's swscale, whose
SIMD paths round differently on different processors (SSE2, AVX2 and AVX-512 machines decode
the same mp4 to different RGB, see docs/determinism.md). Integer arithmetic gives the same
frames on every machine. The coefficients are BT.601's 8-bit integer form (ITU-R BT.601,
as in FFmpeg's libswscale/yuv2rgb.c and Microsoft's YUV conversion notes): what a browser
applies to a stream tagged smpte170m / tv range, which `media.write_mp4` tags.
"""

from __future__ import annotations

import numpy as np


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB, even sides -> (H * 3 / 2, W) uint8 planes Y, U, V (PyAV's layout).

    Chroma is each 2x2 block's mean colour, rounded once.
    """
    h, w, _ = frame.shape
    r, g, b = (frame[..., i].astype(np.int32) for i in range(3))
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    blocks = frame.astype(np.int32).reshape(h // 2, 2, w // 2, 2, 3).sum(axis=(1, 3))
    rs, gs, bs = blocks[..., 0], blocks[..., 1], blocks[..., 2]  # sums of four pixels
    u = ((-38 * rs - 74 * gs + 112 * bs + 512) >> 10) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 512) >> 10) + 128
    chroma = np.concatenate([u.reshape(h // 4, w), v.reshape(h // 4, w)])
    return np.concatenate([y, chroma]).astype(np.uint8)


def yuv420p_to_rgb(planes: np.ndarray) -> np.ndarray:
    """(H * 3 / 2, W) uint8 planes as PyAV lays them out -> (H, W, 3) uint8 RGB.

    Each chroma sample covers its 2x2 block (no interpolation: what swscale's unscaled
    converter does, so clips decode as they did before this module).
    """
    h, w = planes.shape[0] * 2 // 3, planes.shape[1]
    c = planes[:h].astype(np.int32) - 16
    u = planes[h : h + h // 4].reshape(h // 2, w // 2).astype(np.int32) - 128
    v = planes[h + h // 4 :].reshape(h // 2, w // 2).astype(np.int32) - 128
    d, e = (np.repeat(np.repeat(p, 2, axis=0), 2, axis=1) for p in (u, v))
    r = (298 * c + 409 * e + 128) >> 8
    g = (298 * c - 100 * d - 208 * e + 128) >> 8
    b = (298 * c + 516 * d + 128) >> 8
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)
