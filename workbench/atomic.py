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

    A crash while writing leaves `path` untouched. A crash between the two renames leaves the
    previous version at `<path>.prev`, which `existing_version` finds.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prev = path.parent / f"{path.name}.prev"
    shutil.rmtree(prev, ignore_errors=True)
    if path.exists():
        os.replace(path, prev)
    os.replace(tmp, path)
    shutil.rmtree(prev, ignore_errors=True)


def existing_version(path: str | Path) -> Path | None:
    """The folder as last completely written, or None."""
    path = Path(path)
    prev = path.parent / f"{path.name}.prev"
    return path if path.is_dir() else prev if prev.is_dir() else None
