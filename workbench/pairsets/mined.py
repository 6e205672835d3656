"""Judge-mined pairs (VideoDPO's recipe, arXiv 2412.14167): N rollouts of a generator per
prompt, the best and the worst by the judges' combined score win and lose, when they are at
least `gap` apart. No annotator and no real video; its cost is N rollouts and N judgings a
prompt. Every pair records the source, the judges, N, the gap asked and both utilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.pairsets import ORACLE_JUDGES, rollout_pair
from workbench.pairsets.rollouts import JudgedRollouts, judged_rollouts
from workbench.provenance import run_row
from workbench.store import Store


def mine_pairs(
    store: Store,
    dataset: str,
    generator: str,
    name: str,
    per_sample: int = 4,
    gap: float = 0.05,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    judges: tuple[str, ...] = ORACLE_JUDGES,
    progress: bool = True,
    weights: Path | None = None,
) -> dict[str, Any]:
    """Store the pair set `name`: per sample the judges' best rollout over their worst.

    Raises:
        WorkbenchError: the pair set exists, per_sample < 2, gap < 0, no sample whose best and
            worst are `gap` apart, or what `judged_rollouts` refuses.
    """
    if per_sample < 2:
        raise WorkbenchError("mining compares rollouts: --per-sample must be >= 2")
    if gap < 0:
        raise WorkbenchError(f"--gap must be >= 0, got {gap}")
    if store.pairset_exists(name):
        raise WorkbenchError(f"pair set {name!r} exists; choose another --name")
    judged = judged_rollouts(
        store, generator, dataset, split, n, seed, per_sample, judges, progress, weights
    )
    source = {"source": "judge-mined", "judges": list(judges), "per_sample": per_sample}
    source |= {"gap": gap, "generator": generator}
    pairs = _best_over_worst(name, judged, gap, source)
    if not pairs:
        raise WorkbenchError(
            f"no sample's best and worst of {per_sample} rollouts are {gap} apart; "
            "lower --gap or raise --per-sample"
        )
    config = {"pairset": name, "dataset": dataset, "split": split, **source}
    store.insert_pairs(pairs, run_row("pairs.mine", config, seed))
    samples = len(judged.videos)
    return {
        "pairset": name,
        "pairs": len(pairs),
        "samples": samples,
        "kept": round(len(pairs) / samples, 3),
        "cost": f"{samples * per_sample} rollouts, {samples * per_sample * len(judges)} judgings",
    }


def _best_over_worst(
    name: str, judged: JudgedRollouts, gap: float, source: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per sample the best rollout over the worst, where they are at least `gap` apart."""
    pairs = []
    for sample_id in sorted(judged.videos):
        ranked = sorted(judged.videos[sample_id], key=lambda v: -judged.utility[v])
        best, worst = ranked[0], ranked[-1]
        utilities = [judged.utility[best], judged.utility[worst]]
        if len(ranked) < 2 or utilities[0] - utilities[1] < gap:
            continue
        made = {**source, "utility": utilities}
        pairs.append(rollout_pair(name, sample_id, best, worst, made, kind="mined"))
    return pairs
