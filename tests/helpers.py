"""Shared test helpers: reading a store's full content, measuring objects in frames."""

from __future__ import annotations

import numpy as np

from workbench.store import Store

TABLES = ("datasets", "videos", "samples", "generations", "runs", "checkpoints",
          "train_metrics", "pairs", "scores", "votes", "battles")  # fmt: skip


def snapshot(store: Store) -> dict:
    """Every row of every table plus every file under media/: equal snapshots = no change."""
    with store.read() as con:
        rows = {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    files = sorted(str(p.relative_to(store.home)) for p in store.media_dir.rglob("*"))
    return {"rows": rows, "files": files}


def centroids(mask: np.ndarray) -> np.ndarray:
    """(T, 2) centroid (x, y) of each frame's mask."""
    out = []
    for m in mask:
        ys, xs = np.nonzero(m)
        out.append((xs.mean(), ys.mean()))
    return np.asarray(out)
