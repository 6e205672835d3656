"""What a run records about itself: code version, config, seed."""

from __future__ import annotations

import datetime
import os
import platform
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
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{sha}{'-dirty' if dirty else ''}"


def _cpuinfo(field: str) -> str | None:
    """The first value of a /proc/cpuinfo field (None off Linux)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(field)), None)


def cpu_flags() -> set[str]:
    """The processor's instruction-set flags (avx2, avx512f, ...); empty where unknown."""
    return set((_cpuinfo("flags") or "").split())


def machine() -> str:
    """The processor a number was measured on, e.g. 'AMD EPYC, 2 cores, AVX-512' (scores and
    timings can depend on its vector width: docs/determinism.md)."""
    flags = cpu_flags()
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    model = _cpuinfo("model name") or platform.machine()
    return f"{model}, {os.cpu_count()} cores" + (f", {widest}" if flags else "")


def made_by(command: str) -> dict[str, str]:
    """What heads a result file: the command, this code's version, the time and the machine."""
    now = datetime.datetime.now().isoformat(timespec="seconds")
    return {"command": command, "code_version": code_version(), "date": now, "machine": machine()}


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
