"""All-or-nothing writes that span media files and store rows.

Files are written to a private staging folder first; only inside the store's write
transaction are they moved into the content-addressed media folder, and if anything fails
before the commit, the files this batch added are removed again. A failed import or
generation therefore leaves both the database and the media folder as they were.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np

from workbench import media
from workbench.store import Store


class MediaStage:
    """Collects the media of one batch; `commit` publishes them with the batch's rows."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dir = store.home / "tmp" / uuid.uuid4().hex
        self.dir.mkdir(parents=True)
        self._pending: list[tuple[Path, str]] = []  # (staged file, final relative path)

    def add_video(self, frames: np.ndarray, fps: float) -> dict:
        """Encode a clip; returns the `videos` row fields that describe the file."""
        staged = media.write_mp4(self.dir / f"{len(self._pending)}.mp4", frames, round(fps))
        sha = media.file_sha256(staged)
        relative = f"media/videos/{sha[:2]}/{sha[:16]}.mp4"
        self._pending.append((staged, relative))
        t, h, w, _ = frames.shape
        return {
            "id": sha[:16],
            "sha256": sha,
            "path": relative,
            "frames": t,
            "height": h,
            "width": w,
            "fps": float(fps),
        }

    def add_png(self, frame: np.ndarray, folder: str = "frames") -> str:
        """Save an image; returns its relative path (named by content)."""
        staged = media.save_png(frame, self.dir / f"{len(self._pending)}.png")
        sha = media.file_sha256(staged)
        relative = f"media/{folder}/{sha[:2]}/{sha[:16]}.png"
        self._pending.append((staged, relative))
        return relative

    def commit(self, write_rows: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Insert the batch's rows and publish its files, atomically together."""
        added: list[Path] = []
        try:
            with self.store.write() as con:
                write_rows(con)
                for staged, relative in self._pending:
                    final = self.store.path(relative)
                    if final.exists():  # same content already published
                        continue
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, final)
                    added.append(final)
        except BaseException:
            for path in added:
                path.unlink(missing_ok=True)
                _remove_empty_parents(path.parent, self.store.media_dir)
            raise
        finally:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


@contextmanager
def media_stage(store: Store) -> Iterator[MediaStage]:
    stage = MediaStage(store)
    try:
        yield stage
    finally:
        stage.discard()
