"""What a run records about itself: code version, config, seed."""

from __future__ import annotations

import datetime
import subprocess
import uuid
from pathlib import Path
from typing import Any

from workbench import __version__


def code_version() -> str:
    """The git commit of the workbench source (with '-dirty' for local edits), else the version."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=5,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=5,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{sha}{'-dirty' if dirty else ''}"


def run_row(kind: str, config: dict[str, Any], seed: int | None, status: str = "done") -> dict:
    """A `runs` row; finished now unless still running."""
    now = datetime.datetime.now()
    return {
        "id": f"{kind}-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
        "kind": kind,
        "config": config,
        "seed": seed,
        "code_version": code_version(),
        "status": status,
        "finished_at": None if status == "running" else now,
    }
