"""`workbench bench eval`: what `workbench eval` costs on the shapes world with the shipped
base: generation and each judge in videos per second, and a re-run on the unchanged
checkpoint (which should find every video and score in the store and do nothing else)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import device_name
from evaluators.registry import get_judge
from evaluators.runner import _items, default_judges, evaluate
from workbench.checkpoint_registry import add_checkpoint
from workbench.datasets import get_dataset, load_samples
from workbench.generation import generate
from workbench.models import EMBEDDED_BASES
from workbench.store import Store
from workbench.world.dataset import make_world_dataset
from workbench.world.shapes import WorldConfig


def bench_eval(
    n: int = 16, judges: list[str] | None = None, weights: Path | None = None
) -> dict[str, Any]:
    """Seconds of a first `evaluate` (generate and score n test videos) and of its re-run,
    then videos per second of generation (new seeds) and of each judge alone, loaded (those
    that need weights find them in `weights`)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        make_world_dataset(store, "shapes", WorldConfig(), n=8 * n, progress=False)
        add_checkpoint(store, "base", EMBEDDED_BASES["tiny"])
        names = judges or default_judges(store, "shapes")
        run = lambda: evaluate(store, ["base"], names, n=n, weights=weights, progress=False)  # noqa: E731
        first, rerun = _seconds(run), _seconds(run)
        rows = []
        gen_s = _seconds(
            lambda: rows.extend(generate(store, "base", "shapes", n=n, seed=1000, progress=False))
        )
        samples = {s["id"]: s for s in load_samples(store, "shapes", "test")}
        items = _items(
            store,
            get_dataset(store, "shapes"),
            [(r["video_id"], samples[r["sample_id"]]) for r in rows],
        )
        judge_s = {name: _judge_seconds(get_judge(name, weights), items) for name in names}
    return {
        "benchmark": "eval",
        "videos": len(items),
        "judges": names,
        "device": device_name(torch.device("cpu")),
        "first_eval_s": first,
        "rerun_eval_s": rerun,
        "rerun_speedup": first / rerun,
        "generate_videos_per_s": len(items) / gen_s,
        "judge_videos_per_s": {k: len(items) / v for k, v in judge_s.items()},
    }


def _judge_seconds(judge, items) -> float:
    """Seconds to score `items`, after a first video has loaded the judge's networks."""
    judge.score(items[:1])
    return _seconds(lambda: judge.score(items))


def _seconds(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
