"""Where else a run's metrics go: `workbench train --report-to tensorboard|wandb` (the flag and
names of diffusers' training scripts, examples/*/train_*.py `--report_to`). The store stays the
source of truth; a tracker receives exactly the rows the store gets, when they are flushed,
with the run's config. Weights & Biases runs offline unless WANDB_MODE says otherwise."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Protocol

from workbench.errors import WorkbenchError

REPORT_TO = ("none", "tensorboard", "wandb")


class Tracker(Protocol):
    def log(self, rows: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def require_tracker(kind: str) -> None:
    """Fail before any work when the tracker's package is missing.

    Raises:
        WorkbenchError: an unknown tracker or a missing package, in one line.
    """
    if kind not in REPORT_TO:
        raise WorkbenchError(f"unknown --report-to {kind!r}; choose from {', '.join(REPORT_TO)}")
    package = {"tensorboard": "tensorboard", "wandb": "wandb"}.get(kind)
    if package is None:
        return
    try:
        __import__(package)
    except ImportError:
        raise WorkbenchError(
            f"--report-to {kind} needs the {package} package (pip install {package}); "
            "the store keeps every metric without it"
        ) from None


def open_tracker(kind: str, logs: Path, name: str, config: dict[str, Any]) -> Tracker | None:
    """The run's tracker under `logs` (None for 'none')."""
    require_tracker(kind)
    if kind == "tensorboard":
        return TensorBoard(logs / "tensorboard" / name, config)
    if kind == "wandb":
        return WandB(logs, name, config)
    return None


class TensorBoard:
    def __init__(self, folder: Path, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder))
        self.writer.add_text("config", f"```\n{json.dumps(config, indent=1, default=str)}\n```")

    def log(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.writer.add_scalar(r["name"], r["value"], r["step"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandB:
    def __init__(self, logs: Path, name: str, config: dict[str, Any]) -> None:
        import wandb

        os.environ.setdefault("WANDB_MODE", "offline")
        logs.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project="regdpo-workbench", name=name, config=config, dir=logs)

    def log(self, rows: list[dict[str, Any]]) -> None:
        by_step: dict[int, dict[str, float]] = defaultdict(dict)
        for r in rows:
            by_step[r["step"]][r["name"]] = r["value"]
        for step in sorted(by_step):
            self.run.log(by_step[step], step=step)

    def close(self) -> None:
        self.run.finish()
