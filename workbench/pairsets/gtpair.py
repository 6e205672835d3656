"""GT-Pairs: the real (ground-truth) video wins, a generator's rollout on the same prompt and
first frame loses. No annotation needed; several generators and rollouts per sample allowed.
"""

from __future__ import annotations

from typing import Any

from workbench.datasets import load_samples
from workbench.errors import WorkbenchError
from workbench.generation import generate
from workbench.launch import is_main
from workbench.pairsets import real_pair
from workbench.provenance import run_row
from workbench.store import Store

ROLLOUT_SEED_STRIDE = 1_000_003  # rollout k of a sample uses seed + k * stride + sample index


def build_gtpairs(
    store: Store,
    dataset: str,
    generators: list[str],
    name: str,
    per_sample: int = 1,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    progress: bool = True,
    **sampler: Any,
) -> dict[str, Any]:
    """Generate the losers (cached) and store the pair set `name`. Under torchrun the
    rollouts are shared out over the processes.

    `sampler` overrides the generators' sampler defaults (steps, guidance, shift).

    Raises:
        WorkbenchError: the pair set exists, or an unknown generator / dataset.
    """
    if per_sample < 1 or not generators:
        raise WorkbenchError("need at least one generator and --per-sample >= 1")
    if store.pairset_exists(name):
        raise WorkbenchError(f"pair set {name!r} exists; choose another --name")
    samples = {s["id"]: s for s in load_samples(store, dataset, split)}
    pairs = []
    for generator in generators:
        for k in range(per_sample):
            rollout_seed = seed + k * ROLLOUT_SEED_STRIDE
            rows = generate(
                store, generator, dataset, split, n, rollout_seed, progress=progress, **sampler
            )
            for r in rows:
                made = {"generator": generator, "seed": r["seed"], "rollout": k}
                pairs.append(real_pair(name, samples[r["sample_id"]], r["video_id"], made, "gt"))
    unique = list({p["id"]: p for p in pairs}.values())  # identical rollouts make one pair
    config = {
        "pairset": name,
        "dataset": dataset,
        "split": split,
        "generators": generators,
        "per_sample": per_sample,
    }
    run = run_row("gtpair.build", config, seed)
    if is_main():  # under torchrun every process has every row; one writes them
        store.insert_pairs(unique, run)
    return {
        "pairset": name,
        "pairs": len(unique),
        "samples": len({p["sample_id"] for p in unique}),
        "generators": generators,
    }


def gtpair_generators(store: Store) -> set[str]:
    """Every generator whose rollouts lost in some GT-Pair set of this home."""
    sql = "SELECT DISTINCT provenance->>'generator' AS generator FROM pairs WHERE kind = 'gt'"
    return {r["generator"] for r in store.query(sql)}
