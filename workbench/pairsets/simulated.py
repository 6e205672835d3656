"""Annotated pairs from a simulated annotator: the paper's Annotated_Pair (two rollouts of one
model on one prompt, the better one wins), for when too few people have voted in the app.

The annotator is an oracle judge with a stated noise (a Thurstone annotator): each rollout's
utility is the mean of the judges' `overall` scores (video quality and prompt following, as
the app asks people), the annotator sees it plus Gaussian noise of standard deviation `noise`
and prefers the higher. Every pair records `annotator: simulated`, the judges, the noise and
both utilities, and the report labels pair sets made this way "simulated".
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.pairsets import ORACLE_JUDGES, rollout_pair
from workbench.pairsets.rollouts import JudgedRollouts, judged_rollouts
from workbench.provenance import run_row
from workbench.store import Store


def simulate_annotated_pairs(
    store: Store,
    dataset: str,
    generator: str,
    name: str,
    per_sample: int = 2,
    noise: float = 0.05,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    judges: tuple[str, ...] = ORACLE_JUDGES,
    progress: bool = True,
    weights: Path | None = None,
) -> dict[str, Any]:
    """Generate `per_sample` rollouts per sample (cached; rollout k has GT-Pair's seed for
    rollout k, so a GT-Pair set's losers are reused), judge them, and store every pair of
    distinct rollouts of a sample as an annotated pair set, the annotator's choice winning.

    Returns the summary, with how often the noisy annotator agrees with the noise-free one.

    Raises:
        WorkbenchError: the pair set exists, per_sample < 2, noise < 0, unknown generator,
            dataset or judge, or a judge that cannot score the dataset.
    """
    if per_sample < 2:
        raise WorkbenchError("a simulated annotator compares rollouts: --per-sample must be >= 2")
    if noise < 0:
        raise WorkbenchError(f"--noise must be >= 0, got {noise}")
    if store.pairset_exists(name):
        raise WorkbenchError(f"pair set {name!r} exists; choose another --name")
    judged = judged_rollouts(
        store, generator, dataset, split, n, seed, per_sample, judges, progress, weights
    )
    annotator = {"annotator": "simulated", "judges": list(judges), "noise": noise}
    pairs = _annotate(name, judged, seed, {**annotator, "generator": generator})
    if not pairs:
        raise WorkbenchError("every sample's rollouts are identical: nothing to compare")
    config = {"pairset": name, "dataset": dataset, "split": split, "generator": generator}
    config |= {"per_sample": per_sample, "noise": noise, "judges": list(judges)}
    store.insert_pairs(pairs, run_row("pairs.simulate", config, seed))
    utilities = [p["provenance"]["utility"] for p in pairs]  # [winner's, loser's]
    agree = sum(win >= lose for win, lose in utilities)
    gaps = [abs(win - lose) for win, lose in utilities]
    return {
        "pairset": name,
        "pairs": len(pairs),
        "annotator": f"simulated (noise {noise})",
        "agreement_with_oracle": round(agree / len(pairs), 3),
        "median_utility_gap": round(float(np.median(gaps)), 4),
    }


def _annotate(
    name: str, judged: JudgedRollouts, seed: int, annotator: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every pair of distinct rollouts of a sample, the one the annotator sees as better (its
    utility plus Gaussian noise of sd annotator['noise']) winning."""
    rng, noise, utility = np.random.default_rng(seed), annotator["noise"], judged.utility
    pairs = []
    for sample_id in sorted(judged.videos):
        for a, b in itertools.combinations(judged.videos[sample_id], 2):
            seen_a, seen_b = (utility[v] + noise * rng.standard_normal() for v in (a, b))
            win, lose = (a, b) if seen_a >= seen_b else (b, a)
            provenance = {**annotator, "utility": [utility[win], utility[lose]]}
            pairs.append(rollout_pair(name, sample_id, win, lose, provenance))
    return pairs
