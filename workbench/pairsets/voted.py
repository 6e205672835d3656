"""Annotated pairs from people's votes on rollout battles (two rollouts of one checkpoint:
the paper's Annotated_Pair); a winner needs annotators agreeing (`battles.agreement`)."""

from __future__ import annotations

from typing import Any

from workbench.battles import agreement, vote_rows
from workbench.errors import WorkbenchError
from workbench.pairsets import rollout_pair
from workbench.store import Store

PAIR_ASPECTS = ("both", "vq", "pf")


def pairs_from_votes(
    store: Store, name: str, min_agree: int = 1, aspect: str = "both"
) -> dict[str, Any]:
    """Store `agreed_pairs` as the pair set `name`.

    Raises:
        WorkbenchError: the pair set exists, min_agree < 1, an unknown aspect, or no pair
            reaches agreement.
    """
    if min_agree < 1:
        raise WorkbenchError("the winner needs at least 1 agreeing annotator")
    if aspect not in PAIR_ASPECTS:
        raise WorkbenchError(f"unknown aspect {aspect!r}: choose from {', '.join(PAIR_ASPECTS)}")
    if store.pairset_exists(name):
        raise WorkbenchError(f"pair set {name!r} exists; choose another name")
    pairs = agreed_pairs(store, name, min_agree, aspect)
    if not pairs:
        raise WorkbenchError(
            f"no pair of rollouts has {min_agree} annotator(s) agreeing on {aspect} "
            f"({len(vote_rows(store, 'rollouts'))} votes on rollout pairs so far)"
        )
    store.insert("pairs", pairs)
    return {"pairset": name, "pairs": len(pairs), "min_agree": min_agree, "aspect": aspect}


def agreed_pairs(
    store: Store, name: str, min_agree: int = 1, aspect: str = "both"
) -> list[dict[str, Any]]:
    """Pair rows of the pair set `name` from the votes on rollout battles (two rollouts of one
    checkpoint: the paper's annotated pairs). Vote-tab battles between checkpoints or the
    ground truth never make training pairs."""
    agreed = agreement(vote_rows(store, "rollouts"), aspect, min_agree)
    return [
        rollout_pair(
            name,
            sample,
            win,
            lose,
            {"aspect": aspect, "annotators_for": agree, "annotators_against": against},
        )
        for (sample, win, lose), (agree, against) in agreed.items()
    ]
