"""Atomic replacement of whole folders (checkpoints): readers see the old or the new, never half."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a scratch folder; on success it replaces `path` by renames.

    The new version is on disk (fsynced) before any rename. A crash while writing leaves
    `path` untouched; a crash between the two renames leaves the previous version at
    `<path>.prev`, which `existing_version` finds and which the next write keeps until the
    new version has taken `path`'s place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # scratch of a killed write
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prev = path.parent / f"{path.name}.prev"
    if path.is_dir():  # otherwise .prev may be the only complete copy: keep it
        shutil.rmtree(prev, ignore_errors=True)
        os.replace(path, prev)
    os.replace(tmp, path)
    _fsync(path.parent)
    shutil.rmtree(prev, ignore_errors=True)


def existing_version(path: str | Path) -> Path | None:
    """The folder as last completely written, or None."""
    path = Path(path)
    prev = path.parent / f"{path.name}.prev"
    return path if path.is_dir() else prev if prev.is_dir() else None


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync(Path(folder) / name)
        _fsync(Path(folder))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
