"""Shared test helpers: reading a store's full content, measuring objects in frames, serving
the app."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from workbench.launch import free_port
from workbench.store import Store

ROOT = Path(__file__).resolve().parents[1]

TABLES = (
    "datasets",
    "videos",
    "samples",
    "generations",
    "runs",
    "checkpoints",
    "train_metrics",
    "pairs",
    "scores",
    "votes",
    "battles",
    "stages",
)


def snapshot(store: Store) -> dict:
    """Every row of every table plus every file under media/: equal snapshots = no change."""
    with store.read() as con:
        rows = {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    files = sorted(str(p.relative_to(store.home)) for p in store.media_dir.rglob("*"))
    return {"rows": rows, "files": files}


def box_blur(frames: np.ndarray, passes: int) -> np.ndarray:
    """`passes` repeated 3x3 box blurs of (T, H, W, 3) frames (edges replicated), as floats."""
    out = frames.astype(np.float64)
    for _ in range(passes):
        padded = np.pad(out, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        out = (
            sum(
                padded[:, dy : dy + out.shape[1], dx : dx + out.shape[2]]
                for dy in range(3)
                for dx in range(3)
            )
            / 9
        )
    return out


def centroids(mask: np.ndarray) -> np.ndarray:
    """(T, 2) centroid (x, y) of each frame's mask."""
    out = []
    for m in mask:
        ys, xs = np.nonzero(m)
        out.append((xs.mean(), ys.mean()))
    return np.asarray(out)


def start_app(home: Path, *extra: str, auth: tuple[str, str] | None = None):
    """`python app.py` on a home, and a gradio_client connected to it once it answers."""
    from gradio_client import Client

    port = free_port()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--home", str(home), "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            return proc, url, Client(url, auth=auth, verbose=False)
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(proc.stderr.read().decode()[-2000:]) from None
            time.sleep(1)
